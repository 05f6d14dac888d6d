package wechat

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Versions of the Mini Program a code or link opens.
const (
	EnvRelease = "release" // the released version, the default
	EnvTrial   = "trial"
	EnvDevelop = "develop"
)

// Limits of codes and links, as WeChat documents them (MaxPageLen is
// minishop's: WeChat names none, and real page paths are a few dozen
// characters).
const (
	MinCodeWidth     = 280
	MaxCodeWidth     = 1280
	DefaultCodeWidth = 430
	MaxPageLen       = 256
	MaxLinkQueryLen  = 1024
	MaxLinkDays      = 30
)

// Color is a colour of a code's lines.
type Color struct {
	R uint8 `json:"r"`
	G uint8 `json:"g"`
	B uint8 `json:"b"`
}

// CodeParams describe a Mini Program code. The zero value of every field
// but Scene is WeChat's default.
type CodeParams struct {
	// Scene is what the page receives as query.scene: 1 to 32 of the
	// letters, digits and !#$&'()*+,/:;=?@-._~ (no %, so no encoded
	// Chinese). Scene makes one from a longer payload.
	Scene string
	// Page opens with the code: a path such as "pages/goods/detail",
	// without a leading slash or a query (the scene carries the
	// parameters); empty is the home page.
	Page string
	// UncheckedPage sends check_path false: the page need not exist in
	// the released version (codes printed before a release, or for the
	// trial and develop versions). WeChat caps such pages at 60 000.
	UncheckedPage bool
	EnvVersion    string // EnvRelease (default), EnvTrial or EnvDevelop
	Width         int    // pixels, MinCodeWidth to MaxCodeWidth; 0 is DefaultCodeWidth
	// AutoColor lets WeChat pick the lines' colour; LineColor sets it
	// (nil: black). They do not go together.
	AutoColor   bool
	LineColor   *Color
	Transparent bool // is_hyaline: no background
}

type codeBody struct {
	Scene      string `json:"scene"`
	Page       string `json:"page,omitempty"`
	CheckPath  bool   `json:"check_path"`
	EnvVersion string `json:"env_version,omitempty"`
	Width      int    `json:"width,omitempty"`
	AutoColor  bool   `json:"auto_color,omitempty"`
	LineColor  *Color `json:"line_color,omitempty"`
	IsHyaline  bool   `json:"is_hyaline,omitempty"`
}

// UnlimitedCode draws the Mini Program code p describes and returns the
// image (PNG) WeChat answered.
func (c *Client) UnlimitedCode(ctx context.Context, p CodeParams) ([]byte, error) {
	const op = "wechat.unlimited_code"
	if err := checkScene(op, p.Scene); err != nil {
		return nil, err
	}
	if err := checkCodeParams(op, p); err != nil {
		return nil, err
	}
	a, err := c.send(ctx, request{op: op, method: http.MethodPost, path: "/wxa/getwxacodeunlimit", token: true,
		body: codeBody{Scene: p.Scene, Page: p.Page, CheckPath: !p.UncheckedPage, EnvVersion: p.EnvVersion, Width: p.Width,
			AutoColor: p.AutoColor, LineColor: p.LineColor, IsHyaline: p.Transparent}})
	if err != nil {
		return nil, err
	}
	if !isImage(a.body) {
		return nil, fail(op, fmt.Errorf("the answer (%s, %d bytes) is not an image", truncate(a.contentType, 60), len(a.body)))
	}
	return a.body, nil
}

// ShareCode stores s under a short scene (see Scene) and draws the code of
// p with it: p.Scene is left empty. The scene is stored first: a failed
// draw leaves a record the next attempt reuses.
func (c *Client) ShareCode(ctx context.Context, s ScenePayload, p CodeParams) (png []byte, scene string, err error) {
	const op = "wechat.share_code"
	if p.Scene != "" {
		return nil, "", invalid(op, "scene", "is set from the payload; leave it empty")
	}
	// Bad parameters fail before anything is stored.
	if err := checkCodeParams(op, p); err != nil {
		return nil, "", err
	}
	if scene, err = c.Scene(ctx, s); err != nil {
		return nil, "", err
	}
	p.Scene = scene
	png, err = c.UnlimitedCode(ctx, p)
	return png, scene, err
}

// checkCodeParams checks p but its scene.
func checkCodeParams(op string, p CodeParams) error {
	if err := checkPage(op, "page", p.Page); err != nil {
		return err
	}
	if err := checkEnv(op, "env_version", p.EnvVersion); err != nil {
		return err
	}
	switch {
	case p.Width != 0 && (p.Width < MinCodeWidth || p.Width > MaxCodeWidth):
		return invalid(op, "width", "%d is not between %d and %d pixels", p.Width, MinCodeWidth, MaxCodeWidth)
	case p.AutoColor && p.LineColor != nil:
		// WeChat would ignore the colour without a word.
		return invalid(op, "line_color", "is set with auto_color, which ignores it")
	}
	return nil
}

// sceneChars are the characters a scene may hold besides letters and
// digits; a link's query may hold these and %.
const sceneChars = "!#$&'()*+,/:;=?@-._~"

func checkScene(op, scene string) error {
	switch {
	case scene == "":
		return invalid(op, "scene", "is empty")
	case len(scene) > MaxSceneLen:
		return invalid(op, "scene", "is %d characters, over %d", len(scene), MaxSceneLen)
	}
	if i := badChar(scene, sceneChars); i >= 0 {
		return invalid(op, "scene", "holds %q at %d: only letters, digits and %s", scene[i], i, sceneChars)
	}
	return nil
}

// badChar returns the index of the first byte of s that is neither a
// letter, a digit nor in extra, or -1.
func badChar(s, extra string) int {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(extra, b) >= 0 {
			continue
		}
		return i
	}
	return -1
}

// checkPage checks a page path: relative, no query, made of what file
// paths of a Mini Program are made of.
func checkPage(op, field, page string) error {
	switch {
	case page == "":
		return nil
	case len(page) > MaxPageLen:
		return invalid(op, field, "is %d characters, over %d", len(page), MaxPageLen)
	case page[0] == '/':
		return invalid(op, field, "%q starts with /: WeChat wants pages/…", truncate(page, 60))
	case strings.ContainsAny(page, "?#"):
		return invalid(op, field, "%q carries a query: put it in the scene or query", truncate(page, 60))
	case strings.HasSuffix(page, "/") || strings.Contains(page, "//"):
		return invalid(op, field, "%q has an empty path segment", truncate(page, 60))
	case strings.Contains("/"+page+"/", "/./") || strings.Contains("/"+page+"/", "/../"):
		return invalid(op, field, "%q has a . or .. segment: give the page's own path", truncate(page, 60))
	}
	if i := badChar(page, "/_-."); i >= 0 {
		return invalid(op, field, "holds %q at %d: only letters, digits and / _ - .", page[i], i)
	}
	return nil
}

func checkEnv(op, field, env string) error {
	switch env {
	case "", EnvRelease, EnvTrial, EnvDevelop:
		return nil
	}
	return invalid(op, field, "%q is not release, trial or develop", truncate(env, 20))
}

// isImage tells a PNG or JPEG from anything else a broken peer might send.
func isImage(b []byte) bool {
	return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF})
}

// LinkParams describe a URL link (or, as SchemeParams, a URL scheme) that
// opens the Mini Program from outside WeChat. WeChat allows no permanent
// link: exactly one of Expires and ExpireDays is set, within 30 days.
type LinkParams struct {
	// Path is the page opened, as CodeParams.Page; empty is the home
	// page. It must exist in the released version.
	Path string
	// Query is the page's query ("id=7&from=sms"): up to 1024 of the
	// scene's characters and %.
	Query      string
	EnvVersion string // EnvRelease (default), EnvTrial or EnvDevelop
	// Expires is when the link stops opening (expire_type 0): at least a
	// minute and at most 30 days ahead.
	Expires time.Time
	// ExpireDays is how many days the link opens for (expire_type 1): 1 to
	// 30.
	ExpireDays int
}

// SchemeParams describe a URL scheme: the same as a link's, WeChat nests
// the page, query and version in jump_wxa.
type SchemeParams LinkParams

type linkExpiry struct {
	ExpireType     int   `json:"expire_type"`
	ExpireTime     int64 `json:"expire_time,omitempty"`
	ExpireInterval int   `json:"expire_interval,omitempty"`
}

type jumpWxa struct {
	Path       string `json:"path,omitempty"`
	Query      string `json:"query,omitempty"`
	EnvVersion string `json:"env_version,omitempty"`
}

// URLLink returns an https://wxaurl.cn/… link opening the page of p, for
// SMS, e-mail and web pages. cloud_base (links through a Cloud
// Development static site) is not supported.
func (c *Client) URLLink(ctx context.Context, p LinkParams) (string, error) {
	const op = "wechat.url_link"
	exp, err := c.checkLink(op, p)
	if err != nil {
		return "", err
	}
	body := struct {
		jumpWxa
		linkExpiry
	}{jumpWxa{p.Path, p.Query, p.EnvVersion}, exp}
	return c.generateLink(ctx, op, "/wxa/generate_urllink", body, "https://")
}

// URLScheme returns a weixin://dl/business/?t=… scheme opening the page of
// p, for other apps and iOS SMS (Android's SMS apps do not open weixin://:
// serve them a web page that sets location.href to it).
func (c *Client) URLScheme(ctx context.Context, p SchemeParams) (string, error) {
	const op = "wechat.url_scheme"
	exp, err := c.checkLink(op, LinkParams(p))
	if err != nil {
		return "", err
	}
	body := struct {
		Jump jumpWxa `json:"jump_wxa"`
		linkExpiry
	}{jumpWxa{p.Path, p.Query, p.EnvVersion}, exp}
	return c.generateLink(ctx, op, "/wxa/generatescheme", body, "weixin://")
}

// generateLink asks path for a link and checks it starts with prefix.
func (c *Client) generateLink(ctx context.Context, op, path string, body any, prefix string) (string, error) {
	var out struct {
		URLLink  string `json:"url_link"` // generate_urllink's answer
		OpenLink string `json:"openlink"` // generatescheme's
	}
	if err := c.call(ctx, request{op: op, method: http.MethodPost, path: path, token: true, body: body}, &out); err != nil {
		return "", err
	}
	link := out.URLLink + out.OpenLink
	if !strings.HasPrefix(link, prefix) {
		return "", fail(op, fmt.Errorf("the answer holds no %s link: %q", prefix, truncate(link, 60)))
	}
	return link, nil
}

// checkLink checks p and returns its expiry as WeChat takes it.
func (c *Client) checkLink(op string, p LinkParams) (linkExpiry, error) {
	if err := checkPage(op, "path", p.Path); err != nil {
		return linkExpiry{}, err
	}
	if len(p.Query) > MaxLinkQueryLen {
		return linkExpiry{}, invalid(op, "query", "is %d characters, over %d", len(p.Query), MaxLinkQueryLen)
	}
	if i := badChar(p.Query, sceneChars+"%"); i >= 0 {
		return linkExpiry{}, invalid(op, "query", "holds %q at %d: only letters, digits and %s%%", p.Query[i], i, sceneChars)
	}
	if err := checkEnv(op, "env_version", p.EnvVersion); err != nil {
		return linkExpiry{}, err
	}
	now := c.Now()
	switch {
	case p.Expires.IsZero() && p.ExpireDays == 0:
		return linkExpiry{}, invalid(op, "expires", "is not set, nor expire_days: WeChat allows no permanent link")
	case !p.Expires.IsZero() && p.ExpireDays != 0:
		return linkExpiry{}, invalid(op, "expire_days", "is set with expires: one or the other")
	case p.ExpireDays != 0:
		if p.ExpireDays < 1 || p.ExpireDays > MaxLinkDays {
			return linkExpiry{}, invalid(op, "expire_days", "%d is not between 1 and %d", p.ExpireDays, MaxLinkDays)
		}
		return linkExpiry{ExpireType: 1, ExpireInterval: p.ExpireDays}, nil
	}
	// A minute's margin: the expiry travels in whole seconds and WeChat's
	// clock is not the host's.
	if !p.Expires.After(now.Add(time.Minute)) || p.Expires.After(now.AddDate(0, 0, MaxLinkDays)) {
		return linkExpiry{}, invalid(op, "expires", "%s is not between a minute and %d days ahead", p.Expires.UTC().Format(time.RFC3339), MaxLinkDays)
	}
	return linkExpiry{ExpireType: 0, ExpireTime: p.Expires.Unix()}, nil
}

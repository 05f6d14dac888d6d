package wechattest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"time"
)

// DefaultPage is the page every platform's Mini Program has released.
const DefaultPage = "pages/index/index"

// DefaultCodesPerMinute is WeChat's rate of getwxacodeunlimit calls.
const DefaultCodesPerMinute = 5000

// codes is the state of the Mini Program code and link APIs.
type codes struct {
	pages     map[string]bool // released pages
	unchecked map[string]bool // pages of codes drawn with check_path false
	images    map[[32]byte]drawn
	links     map[string]link // by URL or scheme
	perMinute int
	minute    time.Time // the minute counted
	inMinute  int
}

type drawn struct{ scene, page string }

type link struct {
	path, query string
	expires     time.Time
}

func (p *Platform) codes() *codes {
	return stateOf(p, "codes", func() *codes {
		return &codes{pages: map[string]bool{DefaultPage: true}, unchecked: map[string]bool{},
			images: map[[32]byte]drawn{}, links: map[string]link{}, perMinute: DefaultCodesPerMinute}
	})
}

// AddPage adds a page to the released version of the Mini Program: codes
// checking their path and links may open it.
func (p *Platform) AddPage(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.codes().pages[path] = true
}

// LimitCodes sets how many codes the platform draws a minute (of its
// clock) before it answers 45009, as WeChat does past 5000.
func (p *Platform) LimitCodes(perMinute int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.codes().perMinute = perMinute
}

// ReadCode says what a code the platform drew encodes, as scanning it
// would: the scene and the page (empty: the home page).
func (p *Platform) ReadCode(img []byte) (scene, page string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.codes().images[sha256.Sum256(img)]
	return d.scene, d.page, ok
}

// OpenLink says what a URL link or scheme the platform issued opens: the
// page and its query; ok is false for a link it never issued or one that
// has expired.
func (p *Platform) OpenLink(url string) (path, query string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.codes().links[url]
	if !ok || !p.now().Before(l.expires) {
		return "", "", false
	}
	return l.path, l.query, true
}

const sceneChars = "!#$&'()*+,/:;=?@-._~"

// onlyChars reports whether s holds letters, digits and extra only.
func onlyChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(extra, b) >= 0) {
			return false
		}
	}
	return true
}

func validEnv(env string) bool {
	return env == "" || env == "release" || env == "trial" || env == "develop"
}

func init() {
	register("/wxa/getwxacodeunlimit", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			Scene      *string `json:"scene"`
			Page       string  `json:"page"`
			CheckPath  *bool   `json:"check_path"`
			EnvVersion string  `json:"env_version"`
			Width      *int    `json:"width"`
			AutoColor  bool    `json:"auto_color"`
			LineColor  *struct {
				R, G, B int
			} `json:"line_color"`
			IsHyaline bool `json:"is_hyaline"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		st := p.codes()
		if m := p.now().Truncate(time.Minute); !m.Equal(st.minute) {
			st.minute, st.inMinute = m, 0
		}
		if st.inMinute++; st.inMinute > st.perMinute {
			return nil, errf(45009, "reach max api minute quota limit")
		}
		// The doc's table gives 41030 for a page; for the rest WeChat's
		// answers are not documented: 40169 is the code developers see for
		// a scene it cannot take, 40097 its general "invalid args".
		switch {
		case in.Scene == nil || *in.Scene == "" || len(*in.Scene) > 32 || !onlyChars(*in.Scene, sceneChars):
			return nil, errf(40169, "invalid length for scene, or the data is not json string")
		case strings.HasPrefix(in.Page, "/") || strings.ContainsAny(in.Page, "?#"):
			return nil, errf(41030, "invalid page")
		case !validEnv(in.EnvVersion):
			return nil, errf(40097, "invalid args: env_version")
		case in.Width != nil && (*in.Width < 280 || *in.Width > 1280):
			return nil, errf(40097, "invalid args: width")
		}
		check := in.CheckPath == nil || *in.CheckPath
		switch {
		case in.Page == "":
		case check && !st.pages[in.Page]:
			return nil, errf(41030, "invalid page hint: page not in the released version")
		case !check:
			st.unchecked[in.Page] = true
		}
		dark := color.NRGBA{A: 255}
		if lc := in.LineColor; lc != nil {
			for _, v := range []int{lc.R, lc.G, lc.B} {
				if v < 0 || v > 255 {
					return nil, errf(40097, "invalid args: line_color")
				}
			}
			dark = color.NRGBA{R: uint8(lc.R), G: uint8(lc.G), B: uint8(lc.B), A: 255}
		}
		width := 430
		if in.Width != nil {
			width = *in.Width
		}
		sum := sha256.Sum256([]byte(*in.Scene + "\x00" + in.Page + "\x00" + in.EnvVersion))
		if in.AutoColor {
			dark = color.NRGBA{R: sum[0] / 2, G: sum[1] / 2, B: sum[2] / 2, A: 255}
		}
		light := color.NRGBA{R: 255, G: 255, B: 255, A: 255}
		if in.IsHyaline {
			light = color.NRGBA{}
		}
		img := drawCode(sum, width, light, dark)
		st.images[sha256.Sum256(img)] = drawn{scene: *in.Scene, page: in.Page}
		c.contentType, c.raw = "image/png", img
		return nil, nil
	})

	register("/wxa/generate_urllink", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			jumpIn
			expiryIn
			CloudBase json.RawMessage `json:"cloud_base"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		l, err := p.newLink(in.jumpIn, in.expiryIn)
		if err != nil {
			return nil, err
		}
		u := "https://wxaurl.cn/" + randAlnum(12)
		p.codes().links[u] = l
		return map[string]any{"url_link": u}, nil
	})

	register("/wxa/generatescheme", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			Jump *jumpIn `json:"jump_wxa"`
			expiryIn
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		if in.Jump == nil {
			in.Jump = &jumpIn{}
		}
		l, err := p.newLink(*in.Jump, in.expiryIn)
		if err != nil {
			return nil, err
		}
		u := "weixin://dl/business/?t=" + randAlnum(12)
		p.codes().links[u] = l
		return map[string]any{"openlink": u}, nil
	})
}

type jumpIn struct {
	Path       string `json:"path"`
	Query      string `json:"query"`
	EnvVersion string `json:"env_version"`
}

type expiryIn struct {
	ExpireType     int   `json:"expire_type"`
	ExpireTime     int64 `json:"expire_time"`
	ExpireInterval int   `json:"expire_interval"`
}

// newLink checks a link's page, query and expiry; p.mu is held. The codes
// are those of WeChat's generatescheme table: 40165 path, 40212 query,
// 85401 expiry, 85402 env_version.
func (p *Platform) newLink(j jumpIn, e expiryIn) (link, error) {
	now := p.now()
	switch {
	case strings.HasPrefix(j.Path, "/") || strings.ContainsAny(j.Path, "?#"):
		return link{}, errf(40165, "invalid weapp pagepath")
	case j.Path != "" && !p.codes().pages[j.Path]:
		return link{}, errf(40165, "invalid weapp pagepath: not in the released version")
	case len(j.Query) > 1024 || !onlyChars(j.Query, sceneChars+"%"):
		return link{}, errf(40212, "invalid query")
	case !validEnv(j.EnvVersion):
		return link{}, errf(85402, "invalid env_version")
	}
	l := link{path: j.Path, query: j.Query}
	switch e.ExpireType {
	case 0:
		l.expires = time.Unix(e.ExpireTime, 0)
		if e.ExpireInterval != 0 || !l.expires.After(now) || l.expires.After(now.AddDate(0, 0, 30)) {
			return link{}, errf(85401, "invalid expire_time: within 30 days")
		}
	case 1:
		if e.ExpireTime != 0 || e.ExpireInterval < 1 || e.ExpireInterval > 30 {
			return link{}, errf(85401, "invalid expire_interval: 1 to 30 days")
		}
		l.expires = now.AddDate(0, 0, e.ExpireInterval)
	default:
		return link{}, errf(40097, "invalid args: expire_type")
	}
	return l, nil
}

// drawCode paints a code-like image: a 21×21 grid of modules from sum's
// bits inside a quiet zone, so two codes of different scenes or pages are
// different images.
func drawCode(sum [32]byte, width int, light, dark color.NRGBA) []byte {
	const modules, quiet = 21, 2
	img := image.NewPaletted(image.Rect(0, 0, width, width), color.Palette{light, dark})
	cell := width / (modules + 2*quiet)
	bits := sha256.Sum256(sum[:]) // more bits than sum alone gives
	seed := append(sum[:], bits[:]...)
	for y := range modules {
		for x := range modules {
			i := y*modules + x
			if seed[(i/8)%len(seed)]>>(i%8)&1 == 0 {
				continue
			}
			x0, y0 := (x+quiet)*cell, (y+quiet)*cell
			for yy := y0; yy < y0+cell; yy++ {
				for xx := x0; xx < x0+cell; xx++ {
					img.SetColorIndex(xx, yy, 1)
				}
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding to memory does not fail
	}
	return b.Bytes()
}

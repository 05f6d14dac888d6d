package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

const doorPage = "pages/store/door"

// sceneStores are the stores the scene tests run on: memory and SQLite in
// a temporary directory.
func sceneStores(t testing.TB) map[string]wechat.Store {
	sq, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "scenes.db"), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { sq.Close() })
	return map[string]wechat.Store{"memory": memory.New(), "sqlite": sq}
}

// fieldOf returns the field an invalid-argument error names.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, commerce.KindInvalid, ce.Kind, "%v", err)
	return ce.Field
}

// A code drawn for a stored payload reads back, once scanned, as the scene
// that resolves to the payload and the page asked for; the image is a PNG
// of the width, colour and background asked for.
func TestCodeRoundTrip(t *testing.T) {
	w := newWorld(t)
	w.plat.AddPage(doorPage)
	c := w.client(t)
	door := wechat.ScenePayload{Kind: "place", Data: `{"store":"st_0042","spot":"door","lat":31.2304,"lng":121.4737}`}

	img, scene, err := c.ShareCode(w.ctx, door, wechat.CodeParams{Page: doorPage})
	require.NoError(t, err)
	gotScene, gotPage, ok := w.plat.ReadCode(img)
	require.True(t, ok, "the platform drew this image")
	assert.Equal(t, scene, gotScene)
	assert.Equal(t, doorPage, gotPage)
	back, err := c.ResolveScene(w.ctx, gotScene)
	require.NoError(t, err)
	assert.Equal(t, door, back)

	decoded, err := png.Decode(bytes.NewReader(img))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, wechat.DefaultCodeWidth, wechat.DefaultCodeWidth), decoded.Bounds())

	red := &wechat.Color{R: 200, G: 10, B: 10}
	img, err = c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: scene, Width: 280, LineColor: red, Transparent: true})
	require.NoError(t, err)
	decoded, err = png.Decode(bytes.NewReader(img))
	require.NoError(t, err)
	assert.Equal(t, 280, decoded.Bounds().Dx())
	_, _, _, a := decoded.At(0, 0).RGBA()
	assert.Zero(t, a, "a transparent background")
	foundRed := false
	for y := 0; y < 280 && !foundRed; y++ {
		for x := 0; x < 280; x++ {
			if r, g, b, a := decoded.At(x, y).RGBA(); a != 0 && r>>8 == 200 && g>>8 == 10 && b>>8 == 10 {
				foundRed = true
				break
			}
		}
	}
	assert.True(t, foundRed, "lines in the colour asked for")
	gotScene, gotPage, ok = w.plat.ReadCode(img)
	require.True(t, ok)
	assert.Equal(t, scene, gotScene)
	assert.Empty(t, gotPage, "the home page")

	var body map[string]any
	reqs := w.plat.Requests()
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &body))
	assert.Equal(t, map[string]any{"scene": scene, "check_path": true, "width": 280.0, "is_hyaline": true,
		"line_color": map[string]any{"r": 200.0, "g": 10.0, "b": 10.0}}, body, "what WeChat is sent")

	_, _, ok = w.plat.ReadCode([]byte("\x89PNG\r\n\x1a\nnot one of ours"))
	assert.False(t, ok)
}

// Every bad parameter fails before a call with an error naming it; a
// ShareCode with bad parameters stores nothing.
func TestCodeParamsChecked(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	ok := wechat.CodeParams{Scene: "abc"}
	for _, tc := range []struct {
		field string
		edit  func(*wechat.CodeParams)
	}{
		{"scene", func(p *wechat.CodeParams) { p.Scene = "" }},
		{"scene", func(p *wechat.CodeParams) { p.Scene = strings.Repeat("a", 33) }},
		{"scene", func(p *wechat.CodeParams) { p.Scene = "a%20b" }},
		{"scene", func(p *wechat.CodeParams) { p.Scene = "店铺" }},
		{"scene", func(p *wechat.CodeParams) { p.Scene = "a b" }},
		{"page", func(p *wechat.CodeParams) { p.Page = "/pages/index/index" }},
		{"page", func(p *wechat.CodeParams) { p.Page = "pages/goods/detail?id=1" }},
		{"page", func(p *wechat.CodeParams) { p.Page = "pages//index" }},
		{"page", func(p *wechat.CodeParams) { p.Page = "pages/index/" }},
		{"page", func(p *wechat.CodeParams) { p.Page = "pages/" + strings.Repeat("x", wechat.MaxPageLen) }},
		{"page", func(p *wechat.CodeParams) { p.Page = "pages/in dex" }},
		{"page", func(p *wechat.CodeParams) { p.Page = "pages/../admin/index" }},
		{"width", func(p *wechat.CodeParams) { p.Width = 279 }},
		{"width", func(p *wechat.CodeParams) { p.Width = 1281 }},
		{"width", func(p *wechat.CodeParams) { p.Width = -5 }},
		{"env_version", func(p *wechat.CodeParams) { p.EnvVersion = "prod" }},
		{"line_color", func(p *wechat.CodeParams) { p.AutoColor, p.LineColor = true, &wechat.Color{R: 1} }},
	} {
		p := ok
		tc.edit(&p)
		_, err := c.UnlimitedCode(w.ctx, p)
		assert.Equal(t, tc.field, fieldOf(t, err), "%+v", p)
		assert.True(t, strings.HasPrefix(err.Error(), "wechat.unlimited_code: "+tc.field+": "), "%v", err)
		if tc.field != "scene" {
			p.Scene = ""
			_, _, err = c.ShareCode(w.ctx, wechat.ScenePayload{Kind: "share", Data: "x"}, p)
			assert.Equal(t, tc.field, fieldOf(t, err), "%+v", p)
		}
	}
	// Limits are inclusive.
	for _, p := range []wechat.CodeParams{{Scene: strings.Repeat("Z", 32)}, {Scene: "a!#$&'()*+,/:;=?@-._~"},
		{Scene: "a", Width: 280}, {Scene: "a", Width: 1280}, {Scene: "a", EnvVersion: wechat.EnvTrial}, {Scene: "a", AutoColor: true}} {
		_, err := c.UnlimitedCode(w.ctx, p)
		assert.NoError(t, err, "%+v", p)
	}
	_, _, err := c.ShareCode(w.ctx, wechat.ScenePayload{Kind: "share", Data: "x"}, wechat.CodeParams{Scene: "mine"})
	assert.Equal(t, "scene", fieldOf(t, err))

	for _, tc := range []struct {
		field string
		s     wechat.ScenePayload
	}{
		{"kind", wechat.ScenePayload{Data: "x"}},
		{"kind", wechat.ScenePayload{Kind: "Share", Data: "x"}},
		{"kind", wechat.ScenePayload{Kind: "share token", Data: "x"}},
		{"kind", wechat.ScenePayload{Kind: strings.Repeat("k", wechat.MaxSceneKindLen+1)}},
		{"data", wechat.ScenePayload{Kind: "gift", Data: strings.Repeat("d", wechat.MaxSceneData+1)}},
		{"data", wechat.ScenePayload{Kind: "gift", Data: "\xff\xfe"}},
		{"expires", wechat.ScenePayload{Kind: "gift", Data: "x", Expires: w.clock.Now()}},
		{"expires", wechat.ScenePayload{Kind: "gift", Data: "x", Expires: w.clock.Now().Add(-time.Hour)}},
	} {
		_, err := c.Scene(w.ctx, tc.s)
		assert.Equal(t, tc.field, fieldOf(t, err), "%+v", tc.s)
		_, _, err = c.ShareCode(w.ctx, tc.s, wechat.CodeParams{})
		assert.Equal(t, tc.field, fieldOf(t, err), "%+v", tc.s)
	}
	recs, err := w.store.DueRecords(w.ctx, wechat.KindScene, wechat.ScenePermanent, time.Now().AddDate(10, 0, 0), 100)
	require.NoError(t, err)
	assert.Empty(t, recs, "nothing stored for bad input")
	recs, err = w.store.DueRecords(w.ctx, wechat.KindScene, wechat.SceneExpiring, time.Now().AddDate(10, 0, 0), 100)
	require.NoError(t, err)
	assert.Empty(t, recs, "nothing stored for bad input")
	assert.Equal(t, 6, w.plat.Calls("/wxa/getwxacodeunlimit"), "only the good calls reached WeChat")
	_, err = c.Scene(w.ctx, wechat.ScenePayload{Kind: "gift", Data: strings.Repeat("d", wechat.MaxSceneData)})
	assert.NoError(t, err, "the data's limit is inclusive")
}

// WeChat's JSON error answers become APIErrors: a page not in the released
// version is refused unless the code does not check its path.
func TestCodeErrorAnswers(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	_, err := c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: "s1", Page: "pages/not/released"})
	var ae *wechat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 41030, ae.Code)
	assert.Contains(t, ae.Message, "rid: ", "WeChat's message is kept for support")
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
	assert.False(t, commerce.Retryable(err))
	assert.True(t, strings.HasPrefix(err.Error(), "wechat.unlimited_code"), "%v", err)

	img, err := c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: "s1", Page: "pages/not/released", UncheckedPage: true, EnvVersion: wechat.EnvDevelop})
	require.NoError(t, err)
	_, page, ok := w.plat.ReadCode(img)
	require.True(t, ok)
	assert.Equal(t, "pages/not/released", page)
	img, err = c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: "s1", Page: wechattest.DefaultPage})
	require.NoError(t, err, "the default page is released")
	assert.NotEmpty(t, img)
}

// The platform itself refuses what the client would never send: a wrong
// client fails here rather than in production.
func TestPlatformChecksCodes(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	tok, err := c.AccessToken(w.ctx)
	require.NoError(t, err)
	post := func(path, body string) int {
		resp, err := http.Post(w.plat.URL()+path+"?access_token="+tok, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
			return 0
		}
		var out struct {
			Code int `json:"errcode"`
		}
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
		return out.Code
	}
	for body, code := range map[string]int{
		`{"scene":"ok"}`: 0,
		`{}`:             40169,
		`{"scene":"` + strings.Repeat("a", 33) + `"}`:          40169,
		`{"scene":"a%20b"}`:                                    40169,
		`{"scene":"a","page":"/pages/index/index"}`:            41030,
		`{"scene":"a","page":"pages/index/index?x=1"}`:         41030,
		`{"scene":"a","page":"pages/nope"}`:                    41030,
		`{"scene":"a","page":"pages/nope","check_path":false}`: 0,
		`{"scene":"a","width":100}`:                            40097,
		`{"scene":"a","env_version":"beta"}`:                   40097,
		`{"scene":"a","line_color":{"r":300,"g":0,"b":0}}`:     40097,
		`{"scene":"a","colour":"red"}`:                         47001,
	} {
		assert.Equal(t, code, post("/wxa/getwxacodeunlimit", body), body)
	}
	now := w.clock.Now().Unix()
	for _, tc := range []struct {
		jump, expiry string
		code         int
	}{
		{``, `"expire_type":1,"expire_interval":30`, 0},
		{``, `"expire_type":1,"expire_interval":31`, 85401},
		{``, `"expire_type":1`, 85401},
		{``, fmt.Sprintf(`"expire_type":0,"expire_time":%d`, now+3600), 0},
		{``, fmt.Sprintf(`"expire_type":0,"expire_time":%d`, now-1), 85401},
		{``, fmt.Sprintf(`"expire_type":0,"expire_time":%d`, now+31*86400), 85401},
		{``, `"expire_type":2,"expire_interval":1`, 40097},
		{`"path":"pages/nope"`, `"expire_type":1,"expire_interval":1`, 40165},
		{`"path":"/pages/index/index"`, `"expire_type":1,"expire_interval":1`, 40165},
		{`"path":"pages/index/index"`, `"expire_type":1,"expire_interval":1`, 0},
		{`"query":"a b"`, `"expire_type":1,"expire_interval":1`, 40212},
		{`"query":"` + strings.Repeat("q", 1025) + `"`, `"expire_type":1,"expire_interval":1`, 40212},
		{`"env_version":"beta"`, `"expire_type":1,"expire_interval":1`, 85402},
		{``, `"is_expire":true,"expire_type":1,"expire_interval":1`, 47001},
	} {
		link := "{" + strings.Trim(tc.jump+","+tc.expiry, ",") + "}"
		assert.Equal(t, tc.code, post("/wxa/generate_urllink", link), link)
		scheme := `{"jump_wxa":{` + tc.jump + `},` + tc.expiry + `}`
		assert.Equal(t, tc.code, post("/wxa/generatescheme", scheme), scheme)
	}
}

// Past the per-minute limit WeChat answers 45009: an APIError the caller
// retries later (KindUnavailable); the next minute draws again.
func TestCodeRateLimit(t *testing.T) {
	w := newWorld(t)
	w.plat.LimitCodes(2)
	c := w.client(t)
	w.clock.Set(w.clock.Now().Truncate(time.Minute))
	for range 2 {
		_, err := c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: "busy"})
		require.NoError(t, err)
	}
	img, err := c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: "busy"})
	assert.Nil(t, img)
	var ae *wechat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, wechat.CodeQuotaReached, ae.Code)
	assert.True(t, commerce.Retryable(err), "%v", err)
	assert.True(t, errors.Is(err, commerce.ErrUnavailable))
	w.clock.Advance(time.Minute)
	_, err = c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: "busy"})
	assert.NoError(t, err, "a new minute")
}

// The same payload gets the same code and one record, whoever asks; a
// payload differing in anything (kind, data, expiry, app) gets another.
func TestSceneIdempotent(t *testing.T) {
	for name, store := range sceneStores(t) {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.store = store
			c, other := w.client(t), w.client(t)
			door := wechat.ScenePayload{Kind: "place", Data: "store=42;spot=door"}
			code, err := c.Scene(w.ctx, door)
			require.NoError(t, err)
			assert.Len(t, code, 10)
			assert.Regexp(t, "^[0-9A-Za-z]+$", code)
			again, err := other.Scene(w.ctx, door)
			require.NoError(t, err)
			assert.Equal(t, code, again, "another process, the same code")
			recs, err := store.DueRecords(w.ctx, wechat.KindScene, wechat.ScenePermanent, time.Time{}, 100)
			require.NoError(t, err)
			require.Len(t, recs, 1, "one record")
			assert.Equal(t, c.AppID()+":"+code, recs[0].Key)
			assert.Equal(t, int64(1), recs[0].Version, "never rewritten")

			codes := map[string]bool{code: true}
			later := w.clock.Now().Add(time.Hour)
			for _, s := range []wechat.ScenePayload{
				{Kind: "share", Data: door.Data},
				{Kind: "place", Data: door.Data + " "},
				{Kind: "place", Data: door.Data, Expires: later},
				{Kind: "place", Data: door.Data, Expires: later.Add(time.Microsecond)},
				{Kind: "place"},
			} {
				code, err := c.Scene(w.ctx, s)
				require.NoError(t, err)
				assert.False(t, codes[code], "%+v has its own code", s)
				codes[code] = true
			}
			// An expiry given in another zone or with nanoseconds is the
			// same instant to the microsecond: the same code.
			sh := time.FixedZone("CST", 8*3600)
			c1, err := c.Scene(w.ctx, wechat.ScenePayload{Kind: "place", Data: door.Data, Expires: later.In(sh).Add(300 * time.Nanosecond)})
			require.NoError(t, err)
			c2, err := c.Scene(w.ctx, wechat.ScenePayload{Kind: "place", Data: door.Data, Expires: later})
			require.NoError(t, err)
			assert.Equal(t, c2, c1)

			// Another app over the same store: another code.
			cfg := w.plat.Config(store)
			cfg.AppID = "wxfedcba9876543210"
			app2, err := wechat.New(cfg)
			require.NoError(t, err)
			code2, err := app2.Scene(w.ctx, door)
			require.NoError(t, err)
			assert.NotEqual(t, code, code2)
			_, err = app2.ResolveScene(w.ctx, code)
			assert.True(t, errors.Is(err, commerce.ErrNotFound), "an app does not read another's codes: %v", err)
		})
	}
}

// 16 goroutines of two processes ask for codes of the same and different
// payloads at once: each payload ends with one code and one record, and
// with codes one digit long (so payloads collide all the time) each still
// resolves to its own payload.
func TestSceneConcurrent(t *testing.T) {
	for _, digits := range []int{10, 1} {
		for name, store := range sceneStores(t) {
			t.Run(fmt.Sprintf("%s/%d", name, digits), func(t *testing.T) {
				defer wechat.SetSceneCodeLen(digits)()
				w := newWorld(t)
				w.store = store
				clients := []*wechat.Client{w.client(t), w.client(t)}
				payloads := make([]wechat.ScenePayload, 12)
				for i := range payloads {
					payloads[i] = wechat.ScenePayload{Kind: "share", Data: fmt.Sprintf("token-%d-%s", i, strings.Repeat("x", 100))}
				}
				var mu sync.Mutex
				got := map[int]map[string]bool{}
				var wg sync.WaitGroup
				for g := range 16 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := range len(payloads) {
							i := (g + j) % len(payloads)
							if g%2 == 0 {
								i = j // half of them in the same order: the same payload at once
							}
							code, err := clients[g%2].Scene(w.ctx, payloads[i])
							if !assert.NoError(t, err) {
								return
							}
							mu.Lock()
							if got[i] == nil {
								got[i] = map[string]bool{}
							}
							got[i][code] = true
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				seen := map[string]int{}
				for i, s := range payloads {
					require.Len(t, got[i], 1, "payload %d: one code", i)
					for code := range got[i] {
						prev, dup := seen[code]
						assert.False(t, dup, "payloads %d and %d share %s", prev, i, code)
						seen[code] = i
						back, err := clients[1].ResolveScene(w.ctx, code)
						require.NoError(t, err)
						assert.Equal(t, s, back)
					}
				}
				recs, err := store.DueRecords(w.ctx, wechat.KindScene, wechat.ScenePermanent, time.Time{}, 100)
				require.NoError(t, err)
				assert.Len(t, recs, len(payloads), "one record a payload")
			})
		}
	}
}

// Two payloads on one code: the second gets a longer one, and every later
// call for either finds its own code again.
func TestSceneCollision(t *testing.T) {
	defer wechat.SetSceneCodeLen(1)()
	w := newWorld(t)
	c := w.client(t)
	codes := map[string]wechat.ScenePayload{}
	first := map[int]string{}
	longer := 0
	for i := range 300 {
		s := wechat.ScenePayload{Kind: "gift", Data: fmt.Sprint("card-", i)}
		code, err := c.Scene(w.ctx, s)
		require.NoError(t, err)
		_, dup := codes[code]
		require.False(t, dup, "%s handed out twice", code)
		codes[code], first[i] = s, code
		if len(code) > 1 {
			longer++
		}
	}
	assert.Greater(t, longer, 200, "300 payloads on 62 one-digit codes: most collide")
	for i := range 300 {
		s := wechat.ScenePayload{Kind: "gift", Data: fmt.Sprint("card-", i)}
		code, err := c.Scene(w.ctx, s)
		require.NoError(t, err)
		assert.Equal(t, first[i], code, "the same walk to the same code")
		back, err := c.ResolveScene(w.ctx, code)
		require.NoError(t, err)
		assert.Equal(t, s, back)
	}
}

// An expired payload is reported as expired (with the payload, so the page
// can say what ran out), and the record is listed as due.
func TestSceneExpired(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	gift := wechat.ScenePayload{Kind: "gift", Data: "card=g_77", Expires: w.clock.Now().Add(7 * 24 * time.Hour)}
	code, err := c.Scene(w.ctx, gift)
	require.NoError(t, err)
	back, err := c.ResolveScene(w.ctx, code)
	require.NoError(t, err)
	assert.Equal(t, gift, back)

	w.clock.Advance(7 * 24 * time.Hour)
	back, err = c.ResolveScene(w.ctx, code)
	require.Error(t, err)
	assert.True(t, errors.Is(err, wechat.ErrSceneExpired), "%v", err)
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
	assert.False(t, commerce.Retryable(err))
	assert.Equal(t, gift, back, "the payload comes with the error")
	assert.Contains(t, err.Error(), "wechat.resolve_scene")

	due, err := w.store.DueRecords(w.ctx, wechat.KindScene, wechat.SceneExpiring, w.clock.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, c.AppID()+":"+code, due[0].Key)
}

func TestSceneUnknown(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	_, err := c.ResolveScene(w.ctx, "Zz09Zz09Zz")
	assert.True(t, errors.Is(err, commerce.ErrNotFound), "%v", err)
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err))
	assert.Contains(t, err.Error(), "Zz09Zz09Zz")
	for _, bad := range []string{"", "a%2Fb", strings.Repeat("a", 33), "店"} {
		_, err := c.ResolveScene(w.ctx, bad)
		assert.Equal(t, "scene", fieldOf(t, err), "%q", bad)
	}
}

// URL links and schemes open the page with its query until they expire.
func TestLinks(t *testing.T) {
	w := newWorld(t)
	w.plat.AddPage("pages/gift/open")
	c := w.client(t)
	link, err := c.URLLink(w.ctx, wechat.LinkParams{Path: "pages/gift/open", Query: "card=g_77&from=sms%20cn", ExpireDays: 7})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(link, "https://wxaurl.cn/"), link)
	scheme, err := c.URLScheme(w.ctx, wechat.SchemeParams{Path: "pages/gift/open", Query: "card=g_77", Expires: w.clock.Now().Add(48 * time.Hour), EnvVersion: wechat.EnvRelease})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(scheme, "weixin://dl/business/?t="), scheme)
	home, err := c.URLScheme(w.ctx, wechat.SchemeParams{ExpireDays: wechat.MaxLinkDays})
	require.NoError(t, err)

	path, query, ok := w.plat.OpenLink(link)
	require.True(t, ok)
	assert.Equal(t, "pages/gift/open", path)
	assert.Equal(t, "card=g_77&from=sms%20cn", query)
	path, query, ok = w.plat.OpenLink(scheme)
	require.True(t, ok)
	assert.Equal(t, "pages/gift/open", path)
	assert.Equal(t, "card=g_77", query)
	path, _, ok = w.plat.OpenLink(home)
	require.True(t, ok)
	assert.Empty(t, path, "the home page")

	var sent map[string]any
	reqs := w.plat.Requests()
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-2].Body, &sent))
	assert.Equal(t, map[string]any{"jump_wxa": map[string]any{"path": "pages/gift/open", "query": "card=g_77", "env_version": "release"},
		"expire_type": 0.0, "expire_time": float64(w.clock.Now().Add(48 * time.Hour).Unix())}, sent)

	w.clock.Advance(49 * time.Hour)
	_, _, ok = w.plat.OpenLink(scheme)
	assert.False(t, ok, "expired")
	_, _, ok = w.plat.OpenLink(link)
	assert.True(t, ok, "seven days")
	w.clock.Advance(6 * 24 * time.Hour)
	_, _, ok = w.plat.OpenLink(link)
	assert.False(t, ok)

	_, err = c.URLLink(w.ctx, wechat.LinkParams{Path: "pages/not/released", ExpireDays: 1})
	var ae *wechat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 40165, ae.Code)
}

// The expiry rules (no permanent link, at most 30 days) and the page and
// query rules fail before a call, naming the field.
func TestLinkParamsChecked(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	now := w.clock.Now()
	for _, tc := range []struct {
		field string
		p     wechat.LinkParams
	}{
		{"expires", wechat.LinkParams{}},
		{"expire_days", wechat.LinkParams{ExpireDays: 3, Expires: now.Add(time.Hour)}},
		{"expire_days", wechat.LinkParams{ExpireDays: 31}},
		{"expire_days", wechat.LinkParams{ExpireDays: -1}},
		{"expires", wechat.LinkParams{Expires: now.Add(-time.Hour)}},
		{"expires", wechat.LinkParams{Expires: now.Add(30 * time.Second)}},
		{"expires", wechat.LinkParams{Expires: now.AddDate(0, 0, 30).Add(time.Second)}},
		{"path", wechat.LinkParams{Path: "/pages/index/index", ExpireDays: 1}},
		{"path", wechat.LinkParams{Path: "pages/index/index?a=1", ExpireDays: 1}},
		{"query", wechat.LinkParams{Query: strings.Repeat("q", wechat.MaxLinkQueryLen+1), ExpireDays: 1}},
		{"query", wechat.LinkParams{Query: "a=中", ExpireDays: 1}},
		{"query", wechat.LinkParams{Query: "a b", ExpireDays: 1}},
		{"env_version", wechat.LinkParams{EnvVersion: "Release", ExpireDays: 1}},
	} {
		_, err := c.URLLink(w.ctx, tc.p)
		assert.Equal(t, tc.field, fieldOf(t, err), "%+v", tc.p)
		_, err = c.URLScheme(w.ctx, wechat.SchemeParams(tc.p))
		assert.Equal(t, tc.field, fieldOf(t, err), "%+v", tc.p)
	}
	assert.Zero(t, w.plat.Calls("/wxa/generate_urllink")+w.plat.Calls("/wxa/generatescheme"))
	for _, p := range []wechat.LinkParams{{ExpireDays: 1}, {ExpireDays: 30}, {Expires: now.AddDate(0, 0, 30)},
		{Query: strings.Repeat("q", wechat.MaxLinkQueryLen), Expires: now.Add(2 * time.Minute)}} {
		_, err := c.URLLink(w.ctx, p)
		assert.NoError(t, err, "%+v", p)
	}
}

// Neither the AppSecret nor the access token appears in what this part
// emits: errors of every kind and the scene records.
func TestCodesEmitNoSecrets(t *testing.T) {
	w := newWorld(t)
	w.plat.LimitCodes(1)
	c := w.client(t)
	tok, err := c.AccessToken(w.ctx)
	require.NoError(t, err)
	var errs []error
	img, code, err := c.ShareCode(w.ctx, wechat.ScenePayload{Kind: "share", Data: "t"}, wechat.CodeParams{})
	require.NoError(t, err)
	assert.NotEmpty(t, img)
	_, err = c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: code})
	errs = append(errs, err) // 45009
	_, err = c.URLLink(w.ctx, wechat.LinkParams{Path: "pages/x", ExpireDays: 1})
	errs = append(errs, err) // 40165
	_, err = c.URLScheme(w.ctx, wechat.SchemeParams{})
	errs = append(errs, err) // invalid
	_, err = c.ResolveScene(w.ctx, "unknown")
	errs = append(errs, err)
	w.plat.Close()
	_, err = c.UnlimitedCode(w.ctx, wechat.CodeParams{Scene: code})
	errs = append(errs, err) // transport
	_, err = c.URLLink(w.ctx, wechat.LinkParams{ExpireDays: 1})
	errs = append(errs, err)
	var texts []string
	for _, e := range errs {
		require.Error(t, e)
		texts = append(texts, e.Error())
	}
	recs, err := w.store.DueRecords(w.ctx, wechat.KindScene, wechat.ScenePermanent, time.Time{}, 100)
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	for _, r := range recs {
		texts = append(texts, string(r.Doc), r.Key, r.Status)
	}
	for _, s := range texts {
		assert.NotContains(t, s, tok)
		assert.NotContains(t, s, w.plat.Secret())
	}
}

func BenchmarkResolveScene(b *testing.B) {
	for name, store := range sceneStores(b) {
		b.Run(name, func(b *testing.B) {
			c, ctx := benchClient(b, store), context.Background()
			codes := make([]string, 256)
			for i := range codes {
				var err error
				codes[i], err = c.Scene(ctx, wechat.ScenePayload{Kind: "share", Data: fmt.Sprintf("signed-share-token-%d.%s", i, strings.Repeat("s", 120))})
				require.NoError(b, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := c.ResolveScene(ctx, codes[i%len(codes)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkScene(b *testing.B) {
	for name, store := range sceneStores(b) {
		b.Run(name, func(b *testing.B) {
			c, ctx := benchClient(b, store), context.Background()
			pad := strings.Repeat("p", 120)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.Scene(ctx, wechat.ScenePayload{Kind: "promoter", Data: fmt.Sprintf("promoter-%d.%s", i, pad)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchClient(b *testing.B, store wechat.Store) *wechat.Client {
	plat := wechattest.Start(b, wechattest.Options{})
	c, err := wechat.New(plat.Config(store))
	require.NoError(b, err)
	return c
}

// A peer answering something other than an image or a JSON error (a proxy's
// page) is an error, not a code to print.
func TestCodeAnswerNotAnImage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cgi-bin/stable_token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok-abc","expires_in":7200}`)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html>gateway</html>")
	}))
	defer srv.Close()
	c, err := wechat.New(wechat.Config{AppID: wechattest.DefaultAppID, Secret: "s", Store: memory.New(), BaseURL: srv.URL})
	require.NoError(t, err)
	img, err := c.UnlimitedCode(context.Background(), wechat.CodeParams{Scene: "a"})
	require.Error(t, err)
	assert.Nil(t, img)
	assert.Contains(t, err.Error(), "not an image")
	assert.NotContains(t, err.Error(), "tok-abc")
}

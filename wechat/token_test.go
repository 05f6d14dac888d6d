package wechat_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// world is a local platform and a store over one manual clock.
type world struct {
	ctx   context.Context
	clock *commercetest.Clock
	plat  *wechattest.Platform
	store wechat.Store
}

func newWorld(t *testing.T) *world {
	clock := commercetest.NewClock(commercetest.Epoch)
	return &world{ctx: context.Background(), clock: clock, store: memory.New(),
		plat: wechattest.Start(t, wechattest.Options{Now: clock.Now})}
}

func (w *world) client(t *testing.T, edit ...func(*wechat.Config)) *wechat.Client {
	cfg := w.plat.Config(w.store)
	cfg.Clock = w.clock
	for _, e := range edit {
		e(&cfg)
	}
	c, err := wechat.New(cfg)
	require.NoError(t, err)
	return c
}

// Several processes (clients over one store) and many goroutines in each
// share one token: with the classic endpoint, where every fetch ends the
// previous token, exactly one is fetched.
func TestOneTokenAcrossProcesses(t *testing.T) {
	for _, ep := range []wechat.TokenEndpoint{wechat.ClassicToken, wechat.StableToken} {
		w := newWorld(t)
		var clients []*wechat.Client
		for range 3 {
			clients = append(clients, w.client(t, func(c *wechat.Config) { c.TokenEndpoint = ep }))
		}
		var wg sync.WaitGroup
		toks := make(chan string, 60)
		for i := range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := clients[i%3].ExpressCompanies(w.ctx)
				assert.NoError(t, err)
				tok, err := clients[i%3].AccessToken(w.ctx)
				assert.NoError(t, err)
				toks <- tok
			}()
		}
		wg.Wait()
		close(toks)
		seen := map[string]bool{}
		for tok := range toks {
			seen[tok] = true
		}
		assert.Len(t, seen, 1, "endpoint %d: one token for everyone", ep)
		assert.Equal(t, 1, w.plat.TokensIssued(), "endpoint %d", ep)
		path := map[wechat.TokenEndpoint]string{wechat.ClassicToken: "/cgi-bin/token", wechat.StableToken: "/cgi-bin/stable_token"}[ep]
		assert.Equal(t, 1, w.plat.Calls(path), "endpoint %d: one fetch", ep)
	}
}

// A token is replaced ahead of its expiry, not after a call fails with it.
func TestTokenRefreshedAhead(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, func(c *wechat.Config) { c.TokenEndpoint = wechat.ClassicToken })
	first, err := c.AccessToken(w.ctx)
	require.NoError(t, err)
	w.clock.Advance(time.Hour)
	again, err := c.AccessToken(w.ctx)
	require.NoError(t, err)
	assert.Equal(t, first, again, "an hour in, the token stands")
	w.clock.Advance(56 * time.Minute) // four minutes left
	next, err := c.AccessToken(w.ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first, next)
	_, err = c.ExpressCompanies(w.ctx)
	require.NoError(t, err)
	for _, r := range w.plat.Requests() {
		assert.Zero(t, r.Code, "%s answered %d", r.Path, r.Code)
	}
	// Another process starting now reads the new token from the store.
	other := w.client(t)
	tok, err := other.AccessToken(w.ctx)
	require.NoError(t, err)
	assert.Equal(t, next, tok)
	assert.Equal(t, 2, w.plat.TokensIssued())
}

// A token the platform refuses (40001) is replaced once and the call sent
// again; a second refusal is reported, not looped on.
func TestInvalidTokenRefreshedOnce(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	_, err := c.ExpressCompanies(w.ctx)
	require.NoError(t, err)
	w.plat.RevokeTokens()
	list, err := c.ExpressCompanies(w.ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, list)
	assert.Equal(t, 2, w.plat.TokensIssued())
	codes := []int{}
	for _, r := range w.plat.Requests() {
		codes = append(codes, r.Code)
	}
	assert.Equal(t, []int{0, 0, 40001, 0, 0}, codes, "token, call, refused call, token, call")
	assert.Zero(t, w.plat.ForceRefreshes(), "never a forced refresh")
}

// A wrong secret, a dead platform: the errors name the operation, carry a
// kind, and never the secret or a token.
func TestCredentialsNeverInErrors(t *testing.T) {
	w := newWorld(t)
	bad := w.client(t, func(c *wechat.Config) { c.Secret = "not-the-secret-abcdef" })
	_, err := bad.ExpressCompanies(w.ctx)
	require.Error(t, err)
	var ae *wechat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, wechat.CodeInvalidToken, ae.Code)
	assert.NotContains(t, err.Error(), "not-the-secret")
	_, err = bad.PhoneNumber(w.ctx, w.plat.PhoneCode(w.plat.NewUser(), "13800138000"))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, wechat.CodeInvalidToken, ae.Code)
	assert.NotContains(t, err.Error(), "not-the-secret")
	assert.NotContains(t, err.Error(), "13800138000")

	good := w.client(t)
	tok, err := good.AccessToken(w.ctx)
	require.NoError(t, err)
	for _, ep := range []wechat.TokenEndpoint{wechat.ClassicToken, wechat.StableToken} {
		w.plat.Close()
		dead := w.client(t, func(c *wechat.Config) { c.TokenEndpoint = ep })
		_, err = dead.ExpressCompanies(w.ctx)
		_, perr := good.PhoneNumber(w.ctx, "e31968a7f94cc5ee25fafc2aef2773f0")
		for _, err := range []error{err, perr} {
			require.Error(t, err)
			assert.True(t, errors.Is(err, commerce.ErrUnavailable), "%v", err)
			for _, secret := range []string{w.plat.Secret(), tok} {
				assert.NotContains(t, err.Error(), secret)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "wechat."), "%v", err)
		}
	}
}

func TestConfigChecked(t *testing.T) {
	w := newWorld(t)
	for field, edit := range map[string]func(*wechat.Config){
		"app_id":        func(c *wechat.Config) { c.AppID = "wx123" },
		"secret":        func(c *wechat.Config) { c.Secret = "" },
		"store":         func(c *wechat.Config) { c.Store = nil },
		"base_url":      func(c *wechat.Config) { c.BaseURL = "ftp://x" },
		"refresh_ahead": func(c *wechat.Config) { c.RefreshAhead = -time.Second },
	} {
		cfg := w.plat.Config(w.store)
		edit(&cfg)
		_, err := wechat.New(cfg)
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce, field)
		assert.Equal(t, field, ce.Field)
		assert.Equal(t, commerce.KindInvalid, ce.Kind)
	}
}

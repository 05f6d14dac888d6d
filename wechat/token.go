package wechat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// KindAccessToken is the record of an app's access token, keyed by app id.
// The token is kept in the store, readable by whoever reads the store: it
// lives two hours, and sharing it is what lets every process of the host
// use one token instead of invalidating each other's.
const KindAccessToken = "access_token"

// tokenLease is how long a process may take to fetch a token before another
// may try; the platform answers in well under a second.
const tokenLease = 15 * time.Second

// tokenDoc is the access-token record's document: the token, and the lease
// of the process refreshing it.
type tokenDoc struct {
	Token       string    `json:"token,omitempty"`
	Fetched     time.Time `json:"fetched,omitzero"`
	Expires     time.Time `json:"expires,omitzero"`
	LeaseHolder string    `json:"lease_holder,omitempty"`
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
}

// fresh reports whether the token can be handed out without a refresh: it
// is refreshed ahead of expiry, by at most half its lifetime so a
// short-lived token is not refreshed on every call.
func (d tokenDoc) fresh(now time.Time, ahead time.Duration) bool {
	if d.Token == "" {
		return false
	}
	ahead = min(ahead, d.Expires.Sub(d.Fetched)/2)
	return now.Before(d.Expires.Add(-ahead))
}

// tokenFlight is one refresh in this process; the goroutines that need a
// token meanwhile wait for it instead of starting their own.
type tokenFlight struct {
	done chan struct{}
	tok  string
	err  error
}

// AccessToken returns the app's access token, for a host calling an API
// minishop does not wrap. Never log it.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	tok, err := c.accessToken(ctx)
	return tok, fail("wechat.access_token", err)
}

// accessToken returns a fresh token: the one this process holds, or the
// store's, or a new one from the platform, fetched by one goroutine of one
// process at a time.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.cached.fresh(c.Now(), c.ahead) && c.cached.Token != c.bad {
		tok := c.cached.Token
		c.mu.Unlock()
		return tok, nil
	}
	f := c.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		c.flight = f
		bad := c.bad
		c.mu.Unlock()
		// The refresh outlives a caller that gives up: the others wait for
		// it.
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			d, err := c.refresh(fctx, bad)
			c.mu.Lock()
			if err == nil {
				// refresh hands out a refused token only when the platform
				// issued it again: it is the current one.
				c.cached, c.bad = d, ""
				f.tok = d.Token
			}
			f.err = err
			c.flight = nil
			c.mu.Unlock()
			close(f.done)
		}()
	} else {
		c.mu.Unlock()
	}
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("%w: waiting for the access token: %w", commerce.ErrUnavailable, ctx.Err())
	}
}

// invalidate forgets tok after the platform refused it, so the next call
// refreshes.
func (c *Client) invalidate(ctx context.Context, tok string) error {
	c.mu.Lock()
	c.bad = tok
	if c.cached.Token == tok {
		c.cached = tokenDoc{}
	}
	c.mu.Unlock()
	return ctx.Err()
}

// refresh finds a token in the store or, holding the store's lease, fetches
// one. bad is a token the platform refused: a store still holding it is
// refreshed.
func (c *Client) refresh(ctx context.Context, bad string) (tokenDoc, error) {
	st := c.cfg.Store
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		now := c.Now()
		r, err := st.GetRecord(ctx, KindAccessToken, c.cfg.AppID)
		var d tokenDoc
		switch {
		case errors.Is(err, storage.ErrNotFound):
			r = storage.Record{Kind: KindAccessToken, Key: c.cfg.AppID}
		case err != nil:
			return d, err
		default:
			if err := json.Unmarshal(r.Doc, &d); err != nil {
				return d, fmt.Errorf("access token record of %s: %w", c.cfg.AppID, err)
			}
		}
		usable := d.Token != "" && d.Token != bad
		if usable && d.fresh(now, c.ahead) {
			return d, nil
		}
		if d.LeaseHolder != "" && d.LeaseHolder != c.holder && now.Before(d.LeaseUntil) {
			// Another process is fetching. Its token is what everyone will
			// use; until it lands, a token not yet expired still works.
			if usable && now.Before(d.Expires) {
				return d, nil
			}
			if err := sleep(ctx, wait); err != nil {
				return d, err
			}
			continue
		}
		d.LeaseHolder, d.LeaseUntil = c.holder, now.Add(tokenLease)
		if r.Version, err = c.saveToken(ctx, r, d); errors.Is(err, storage.ErrConflict) {
			continue // someone else moved first: read what they left
		} else if err != nil {
			return d, err
		}
		tok, ttl, ferr := c.fetchToken(ctx)
		now = c.Now()
		if ferr != nil {
			// Give the lease back so another process need not wait it out.
			d.LeaseHolder, d.LeaseUntil = "", time.Time{}
			_, _ = c.saveToken(ctx, r, d)
			return tokenDoc{}, ferr
		}
		nd := tokenDoc{Token: tok, Fetched: now, Expires: now.Add(ttl)}
		if _, err := c.saveToken(ctx, r, nd); err != nil && !errors.Is(err, storage.ErrConflict) {
			return tokenDoc{}, err
		}
		// A conflict means our lease ran out and another process took it:
		// the token we hold is still valid for us.
		return nd, nil
	}
}

func (c *Client) saveToken(ctx context.Context, r storage.Record, d tokenDoc) (int64, error) {
	doc, err := json.Marshal(d)
	if err != nil {
		return 0, err
	}
	r.Doc, r.Updated = doc, c.Now()
	return c.cfg.Store.SaveRecord(ctx, r)
}

// fetchToken asks the platform for a token.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	var out struct {
		Token     string `json:"access_token"`
		ExpiresIn int64  `json:"expires_in"`
	}
	r := request{op: "wechat.stable_token", method: http.MethodPost, path: "/cgi-bin/stable_token",
		body: map[string]any{"grant_type": "client_credential", "appid": c.cfg.AppID, "secret": c.cfg.Secret, "force_refresh": false}}
	if c.cfg.TokenEndpoint == ClassicToken {
		r = request{op: "wechat.token", method: http.MethodGet, path: "/cgi-bin/token",
			query: url.Values{"grant_type": {"client_credential"}, "appid": {c.cfg.AppID}, "secret": {c.cfg.Secret}}}
	}
	a, err := c.roundTrip(ctx, r, r.query, mustJSON(r.body))
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", r.op, err)
	}
	if err := json.Unmarshal(a.body, &out); err != nil {
		return "", 0, fmt.Errorf("%s: decoding the answer: %w", r.op, err)
	}
	if out.Token == "" || out.ExpiresIn <= 0 || out.ExpiresIn > 86400 {
		return "", 0, fmt.Errorf("%s: %w: the answer has no token or a lifetime of %d s", r.op, commerce.ErrUnavailable, out.ExpiresIn)
	}
	return out.Token, time.Duration(out.ExpiresIn) * time.Second, nil
}

func mustJSON(v any) []byte {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with maps of strings and bools
	}
	return b
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", commerce.ErrUnavailable, ctx.Err())
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

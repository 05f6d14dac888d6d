package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The story in a browser, as people would use the two pages: Amy logs
// in, browses, fills her cart, claims the coupon, checks out with it and
// an address, pays, and sends Ben a gift; Ben opens the claim link in his
// own browser and accepts it with his address; the merchant's console
// ships Amy's order with a tracking number and refunds a line; Amy's
// storefront shows both; the console shows Lily's statement. The script
// browsertest/story.mjs clicks through it in the machine's Chromium with
// playwright-core and checks what each page shows.
//
// It skips, saying what to install, without node, Chromium
// (MINISHOP_CHROMIUM, /usr/bin/chromium by default) or playwright-core
// (npm ci in browsertest). On a failure the pages' screenshots are in
// MINISHOP_ARTIFACTS (by default browser-artifacts in the temporary
// directory).
func TestBrowserStory(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("the browser story needs Node.js 20 or later: node is not on PATH (install it, e.g. apt-get install nodejs npm)")
	}
	chromium := os.Getenv("MINISHOP_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("the browser story needs Chromium: there is none at %s (apt-get install chromium, or point MINISHOP_CHROMIUM at a Chromium or Chrome binary)", chromium)
	}
	if _, err := os.Stat(filepath.Join("browsertest", "node_modules", "playwright-core", "package.json")); err != nil {
		t.Skip("the browser story needs playwright-core: run `npm ci --prefix examples/ministore/browsertest` (it downloads no browser)")
	}
	artifacts := os.Getenv("MINISHOP_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(os.TempDir(), "browser-artifacts")
	}

	// The server as main_test.go starts it, with the outbox relay running
	// as in main.
	var logs syncBuffer
	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	s, err := newServer(t.Context(), options{DB: filepath.Join(t.TempDir(), "shop.db"), Quiet: true}, url,
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	defer s.Close()
	ts.Config.Handler = s
	ts.Start()
	defer ts.Close()
	ctx, cancel := context.WithCancel(t.Context())
	relayed := make(chan struct{})
	go func() { defer close(relayed); s.background(ctx) }()
	defer func() { cancel(); <-relayed }()

	run, stop := context.WithTimeout(t.Context(), 2*time.Minute)
	defer stop()
	cmd := exec.CommandContext(run, node, "story.mjs", url, artifacts)
	cmd.Dir = "browsertest"
	cmd.Env = append(os.Environ(), "MINISHOP_CHROMIUM="+chromium)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(run.Err(), context.DeadlineExceeded) {
			t.Logf("the story ran out of time after %s", time.Since(start).Round(time.Millisecond))
		}
		t.Logf("screenshots of the pages: %s", artifacts)
		if l := logs.String(); l != "" {
			t.Logf("the server logged:\n%s", l)
		}
		t.Fatalf("the browser story failed: %v\n%s", err, out)
	}
	t.Logf("the browser story passed in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	if l := logs.String(); l != "" {
		t.Errorf("the server logged warnings or errors:\n%s", l)
	}
}

// syncBuffer is the server's log: its handlers write from their own
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

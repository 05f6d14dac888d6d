// Command ministore is a reference shop server: minishop's customer and
// merchant APIs (package httpapi) mounted on one mux, with the WeChat
// login, the WeChat Pay notify URL, engine.RunDue on a ticker, an outbox
// relay, structured logs and Prometheus metrics, and two web pages that
// are the APIs' first clients: an H5 storefront at / and a merchant
// console at /console.
//
// It runs with no WeChat account: a local Mini Program platform
// (wechat/wechattest) and a local WeChat Pay (wechatpaytest), real HTTP
// servers on loopback that check every call as WeChat does, play WeChat in
// the same process. The storefront's "log in" and "pay" buttons ask them
// through two /dev endpoints for what the Mini Program gets from wx.login
// and wx.requestPayment.
//
//	go run ./examples/ministore                    # SQLite in the temporary directory
//	go run ./examples/ministore -dsn postgres://…  # or a PostgreSQL / MySQL DSN
//	go run ./examples/ministore -load -duration 20s -clients 16  # the load test (load.go)
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	flag.StringVar(&o.DB, "db", filepath.Join(os.TempDir(), "minishop-ministore", "shop.db"), "SQLite database file")
	flag.StringVar(&o.DSN, "dsn", os.Getenv("MINISHOP_DSN"), "a PostgreSQL (postgres://…) or MySQL (user@tcp(host)/db) DSN instead of SQLite")
	flag.DurationVar(&o.Due, "due", 2*time.Second, "how often RunDue runs")
	var lc loadConfig
	load := flag.Bool("load", false, "run the load test (load.go) against the server on a loopback port, then check the store's invariants")
	flag.DurationVar(&lc.Duration, "duration", 20*time.Second, "with -load: how long the load runs at most")
	flag.Int64Var(&lc.Requests, "requests", 0, "with -load: how many requests at most (0: no bound but -duration)")
	flag.IntVar(&lc.Clients, "clients", 16, "with -load: how many simulated customers send requests at once")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *load {
		dbSet := false
		flag.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "db" })
		code := loadMain(ctx, o, lc, !dbSet, log)
		stop()
		os.Exit(code)
	}
	if err := run(ctx, o, log); err != nil {
		log.Error("ministore", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	s, err := newServer(ctx, o, "http://"+ln.Addr().String(), log)
	if err != nil {
		ln.Close()
		return err
	}
	defer s.Close()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	go s.background(ctx)

	fmt.Printf("ministore: the storefront is at %s/ and the console at %s/console (operator token %s)\n", s.url, s.url, s.demo.OperatorToken)
	<-ctx.Done()
	return nil
}

package minishop

import (
	"github.com/minishop/minishop/commerce"
)

// Store is every store interface the Engine's services need; storage/memory
// and storage/sqlstore implement it.
type Store interface {
	commerce.Store
}

// Engine holds minishop's services, wired over one Store.
type Engine struct {
	// Commerce is the kernel: shops, catalog, carts, checkout, orders.
	Commerce *commerce.Service
}

// Option changes how New wires the Engine.
type Option func(*commerce.Config)

// WithClock sets the clock every service reads (commercetest.Clock in tests).
func WithClock(c commerce.Clock) Option { return func(cfg *commerce.Config) { cfg.Clock = c } }

// WithIDs sets the ID generator (commercetest.SeqIDs for deterministic tests).
func WithIDs(g commerce.IDGenerator) Option { return func(cfg *commerce.Config) { cfg.IDs = g } }

// WithCommerce edits the kernel's configuration before it is built: timing,
// refund gateway, a host's own adjusters and hooks (appended after
// minishop's).
func WithCommerce(fn func(*commerce.Config)) Option { return func(cfg *commerce.Config) { fn(cfg) } }

// New wires the services over store.
func New(store Store, opts ...Option) (*Engine, error) {
	cfg := commerce.Config{Store: store}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := commerce.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Engine{Commerce: svc}, nil
}

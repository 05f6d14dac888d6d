package minishop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/locations"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storedvalue"
	"github.com/minishop/minishop/wechat"
)

// Store is every store interface the Engine's services need; storage/memory
// and storage/sqlstore implement it.
type Store interface {
	commerce.Store
	payment.Store
	coupons.Store
	membership.Store
	gifting.Store
	promoter.Store
	wechat.Store
}

// Engine holds minishop's services, wired over one Store.
type Engine struct {
	// Commerce is the kernel: shops, catalog, carts, checkout, orders.
	Commerce *commerce.Service
	// Payments takes payments through the configured providers, applies
	// their notifications, carries refunds to them and keeps the
	// settlement ledger.
	Payments *payment.Service
	// Coupons runs batches, claims and the wallet; its adjuster and hooks
	// are in the kernel's pricing and checkout.
	Coupons *coupons.Service
	// Membership runs cards, tiers, member prices and points; its member
	// prices price before coupons, points pay after them.
	Membership *membership.Service
	// Gifting sends gifts (to one friend, to a chat group, by lottery): paid by the giver, accepted by the
	// recipient with their own address, refunded when nobody accepts.
	Gifting *gifting.Service
	// Promoter runs promoters, agencies, plans and share links, attributes
	// orders and pays commission on them, settled with the orders.
	Promoter *promoter.Service
	// Campaigns runs group buying, flash sales and bargaining on the
	// checkout: its prices come first in the pipeline.
	Campaigns *campaigns.Service
	// StoredValue keeps customers' prepaid balances: top-ups with a
	// plan's bonus, spending at checkout (storedvalue.Spend), the ledger.
	StoredValue *storedvalue.Service
	// Locations keeps each merchant's physical stores (hours, open now
	// in each one's zone) and finds them near a point.
	Locations *locations.Service

	// WeChat is the Mini Program's client of the WeChat platform (login,
	// session tokens, codes, the access token) when WithWeChat is given.
	WeChat *wechat.Client
	// Shipping uploads the shipping info of orders paid through WeChat
	// Pay as they ship, so WeChat releases the money; RunDue runs it.
	Shipping *wechat.Shipping
	// Messages sends subscription (and Service Account template) messages
	// for outbox events; nil when no template is configured. RunDue runs
	// it.
	Messages *wechat.Messages

	push *wechat.PushConfig
}

type config struct {
	commerce    commerce.Config
	providers   []payment.Provider
	fees        *payment.FeeSchedule
	coupons     coupons.Config
	members     membership.Config
	gifts       gifting.Config
	promoters   promoter.Config
	campaigns   campaigns.Config
	storedValue storedvalue.Config
	wechat      *WeChat
}

// Option changes how New wires the Engine.
type Option func(*config)

// WithClock sets the clock every service reads (commercetest.Clock in tests).
func WithClock(c commerce.Clock) Option { return func(cfg *config) { cfg.commerce.Clock = c } }

// WithIDs sets the ID generator (commercetest.SeqIDs for deterministic tests).
func WithIDs(g commerce.IDGenerator) Option { return func(cfg *config) { cfg.commerce.IDs = g } }

// WithCommerce edits the kernel's configuration before it is built: timing,
// a host's own adjusters and hooks (run after minishop's).
func WithCommerce(fn func(*commerce.Config)) Option { return func(cfg *config) { fn(&cfg.commerce) } }

// WithPayments sets up payment channels (wechatpay.Client, fakepay.Provider,
// a host's own). With at least one, the kernel's refunds go to the channel
// that took the money, and an unpaid order that is cancelled closes its
// payment.
func WithPayments(providers ...payment.Provider) Option {
	return func(cfg *config) { cfg.providers = append(cfg.providers, providers...) }
}

// WithCoupons edits the coupons service's configuration (its token Secret,
// the Mini Store validation profile, reminder timing).
func WithCoupons(fn func(*coupons.Config)) Option { return func(cfg *config) { fn(&cfg.coupons) } }

// WithMembership edits the membership service's configuration.
func WithMembership(fn func(*membership.Config)) Option {
	return func(cfg *config) { fn(&cfg.members) }
}

// WithGifting edits the gifting service's configuration (its token
// Secret, the gift lifetime, what is giftable).
func WithGifting(fn func(*gifting.Config)) Option { return func(cfg *config) { fn(&cfg.gifts) } }

// WithFees sets the fee schedule (payment.DefaultFees otherwise).
func WithFees(f payment.FeeSchedule) Option { return func(cfg *config) { cfg.fees = &f } }

// WithPromoter adjusts the promoter service's configuration (its token
// secret, sharer cap, a customer locking window).
func WithPromoter(fn func(*promoter.Config)) Option { return func(cfg *config) { fn(&cfg.promoters) } }

// WithStoredValue edits the stored-value service's configuration (its
// secret, the prepaid-card rules).
func WithStoredValue(fn func(*storedvalue.Config)) Option {
	return func(cfg *config) { fn(&cfg.storedValue) }
}

// WithCampaigns edits the campaigns service's configuration (its share
// token Secret).
func WithCampaigns(fn func(*campaigns.Config)) Option {
	return func(cfg *config) { fn(&cfg.campaigns) }
}

// WeChat is the shop's WeChat platform, for WithWeChat.
type WeChat struct {
	// MiniProgram is the shop's Mini Program; its Store is the Engine's
	// (leave it nil).
	MiniProgram wechat.Config
	// PaymentProviders name the payment channels whose payments WeChat's
	// shipping service knows; default "wechatpay".
	PaymentProviders []string
	// Shipping edits the shipping relay's configuration (its orders,
	// payments and events are the Engine's).
	Shipping func(*wechat.ShippingConfig)
	// Messages edits the message relay's configuration: its templates
	// (none: no relay), a Service Account. The outbox is the kernel's and a
	// customer's openid the one their Mini Program login bound, unless
	// set.
	Messages func(*wechat.MessagesConfig)
	// Push is the developer server's push configuration, for
	// Engine.PushHandler; empty: no push handler.
	Push wechat.PushConfig
}

// WithWeChat wires the WeChat platform: the Mini Program's client
// (Engine.WeChat), the shipping-info relay (Engine.Shipping), the message
// relay (Engine.Messages) and the push handler (Engine.PushHandler).
func WithWeChat(w WeChat) Option { return func(cfg *config) { cfg.wechat = &w } }

// New wires the services over store.
func New(store Store, opts ...Option) (*Engine, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	cc := cfg.commerce
	cc.Store = store
	// The services need the kernel and the kernel needs them (refunds,
	// order hooks): those bind late through e.
	e := &Engine{}
	cp := cfg.coupons
	cp.Store, cp.Clock, cp.IDs = store, cc.Clock, cc.IDs
	couponSvc, err := coupons.New(cp)
	if err != nil {
		return nil, err
	}
	mc := cfg.members
	mc.Store, mc.Clock, mc.IDs = store, cc.Clock, cc.IDs
	if mc.TierChanged == nil {
		// A tier's welcome gift is a coupon: granted in the transaction
		// that moves the member up, once per member and tier.
		mc.TierChanged = func(ctx context.Context, m *membership.Member, to membership.Tier) error {
			if to.WelcomeGift == "" {
				return nil
			}
			var batch coupons.BatchID
			if err := batch.UnmarshalText([]byte(to.WelcomeGift)); err != nil {
				return fmt.Errorf("minishop: tier %s welcome gift %q: %w", to.Name, to.WelcomeGift, err)
			}
			_, err := couponSvc.Grant(ctx, coupons.GrantParams{MerchantID: m.MerchantID, BatchID: batch, Customer: m.Customer,
				RequestID: fmt.Sprintf("welcome:%d", to.Level)})
			return err
		}
	}
	memberSvc, err := membership.New(mc)
	if err != nil {
		return nil, err
	}
	// minishop's plugins run before the host's own adjusters and hooks:
	// member prices, then coupons, then points as payment.
	// A campaign's price comes first: member prices, coupons and points
	// apply to what the campaign charges.
	cc.Adjusters = append([]commerce.Adjuster{commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		return e.Campaigns.Adjuster().Adjust(ctx, q)
	}), memberSvc.PriceAdjuster(), couponSvc.Adjuster(), memberSvc.PointsAdjuster()}, cc.Adjusters...)
	// Attribution runs after coupons, which name the promoter of a
	// coupon claimed through a promoter's link, and after the campaigns,
	// which say whether their orders pay commission.
	cc.CheckoutHooks = append([]commerce.CheckoutHook{couponSvc.CheckoutHook(), memberSvc.CheckoutHook(),
		commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
			return e.Campaigns.CheckoutHook().Checkout(ctx, c)
		}),
		commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
			return e.Promoter.CheckoutHook().Checkout(ctx, c)
		}),
		// The balance pays part of the total once every price is known.
		commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
			return e.StoredValue.CheckoutHook().Checkout(ctx, c)
		})}, cc.CheckoutHooks...)
	cc.OrderHooks = append([]commerce.OrderHook{couponSvc.OrderHook(), memberSvc.OrderHook(),
		commerce.OrderHookFunc(func(ctx context.Context, c commerce.OrderChange) error {
			return e.Gifting.OrderHook().OrderChanged(ctx, c)
		}),
		commerce.OrderHookFunc(func(ctx context.Context, c commerce.OrderChange) error {
			return e.Promoter.OrderHook().OrderChanged(ctx, c)
		}),
		commerce.OrderHookFunc(func(ctx context.Context, c commerce.OrderChange) error {
			return e.Campaigns.OrderHook().OrderChanged(ctx, c)
		}),
		commerce.OrderHookFunc(func(ctx context.Context, c commerce.OrderChange) error {
			return e.StoredValue.OrderHook().OrderChanged(ctx, c)
		})}, cc.OrderHooks...)
	if cp.ReduceRefunds {
		if cc.RefundPolicy != nil {
			return nil, errors.New("minishop: coupons.Config.ReduceRefunds and a commerce refund policy both given")
		}
		cc.RefundPolicy = couponSvc.RefundPolicy()
	}
	e.Coupons, e.Membership = couponSvc, memberSvc
	if len(cfg.providers) > 0 {
		if cc.Refunds != nil {
			return nil, errors.New("minishop: WithPayments and a commerce refund gateway both given")
		}
		cc.Refunds = refunds{e}
		cc.OrderHooks = append([]commerce.OrderHook{commerce.OrderHookFunc(func(ctx context.Context, c commerce.OrderChange) error {
			return e.Payments.OrderChanged(ctx, c)
		})}, cc.OrderHooks...)
	}
	if e.Commerce, err = commerce.New(cc); err != nil {
		return nil, err
	}
	e.Payments, err = payment.New(payment.Config{Commerce: e.Commerce, Store: store, Providers: cfg.providers,
		Fees: cfg.fees, Clock: cc.Clock, IDs: cc.IDs,
		// Transfer notifications are promoter payouts' (bound late: the
		// promoter service is made below).
		Transfers: func(ctx context.Context, provider string, t *payment.Transfer) (payment.Outcome, error) {
			return e.Promoter.ApplyTransfer(ctx, provider, t)
		},
		// So are the commission lines of sharing orders.
		Shares: func(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, l payment.ShareLine) error {
			return e.Promoter.ApplyShare(ctx, merchant, order, l)
		}})
	if err != nil {
		return nil, err
	}
	gc := cfg.gifts
	gc.Commerce, gc.Store, gc.Clock, gc.IDs = e.Commerce, store, cc.Clock, cc.IDs
	if e.Gifting, err = gifting.New(gc); err != nil {
		return nil, err
	}
	pc := cfg.promoters
	pc.Commerce, pc.Store, pc.Ledger, pc.Clock, pc.IDs = e.Commerce, store, e.Payments, cc.Clock, cc.IDs
	if pc.Payouts.Account == nil {
		// A merchant's payouts leave from the account its payments go
		// into (a sub-merchant's, in partner mode), not the provider's
		// own, when the transfers go through one of the payment channels.
		for _, p := range cfg.providers {
			if t, ok := pc.Payouts.Transferer.(payment.Provider); ok && t.Name() == p.Name() {
				channel := p.Name()
				pc.Payouts.Account = func(ctx context.Context, merchant commerce.MerchantID) (payment.Account, error) {
					return e.Payments.Account(ctx, merchant, channel)
				}
			}
		}
	}
	if e.Promoter, err = promoter.New(pc); err != nil {
		return nil, err
	}
	kc := cfg.campaigns
	kc.Commerce, kc.Store, kc.Clock, kc.IDs = e.Commerce, store, cc.Clock, cc.IDs
	if e.Campaigns, err = campaigns.New(kc); err != nil {
		return nil, err
	}
	sv := cfg.storedValue
	sv.Commerce, sv.Store, sv.Clock, sv.IDs = e.Commerce, store, cc.Clock, cc.IDs
	if e.StoredValue, err = storedvalue.New(sv); err != nil {
		return nil, err
	}
	if e.Locations, err = locations.New(locations.Config{Store: store, Clock: cc.Clock, IDs: cc.IDs}); err != nil {
		return nil, err
	}
	if cfg.wechat != nil {
		if err := e.wireWeChat(store, *cfg.wechat, cc.Clock); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *Engine) wireWeChat(store Store, w WeChat, clock commerce.Clock) error {
	mp := w.MiniProgram
	if mp.Store == nil {
		mp.Store = store
	}
	if mp.Clock == nil {
		mp.Clock = clock
	}
	var err error
	if e.WeChat, err = wechat.New(mp); err != nil {
		return err
	}
	providers := map[string]bool{}
	for _, p := range w.PaymentProviders {
		providers[p] = true
	}
	if len(providers) == 0 {
		providers["wechatpay"] = true
	}
	sc := wechat.ShippingConfig{Orders: e.Commerce, Events: store,
		Payment: func(ctx context.Context, o *commerce.Order) (wechat.Payment, error) {
			ps, err := e.Payments.OrderPayments(ctx, o.MerchantID, o.ID)
			if err != nil {
				return wechat.Payment{}, err
			}
			for _, p := range ps {
				if p.Status == payment.Succeeded && providers[p.Provider] {
					return wechat.Payment{TransactionID: p.ProviderRef, OutTradeNo: p.PaymentNo, OpenID: p.Payer, PaidAt: p.PaidAt}, nil
				}
			}
			return wechat.Payment{}, fmt.Errorf("order %s: no WeChat Pay payment: %w", o.ID, commerce.ErrNotFound)
		}}
	if w.Shipping != nil {
		w.Shipping(&sc)
	}
	if e.Shipping, err = wechat.NewShipping(e.WeChat, sc); err != nil {
		return err
	}
	mc := wechat.MessagesConfig{Outbox: e.Commerce, OpenID: e.WeChat.OpenIDOf}
	if w.Messages != nil {
		w.Messages(&mc)
	}
	if len(mc.Templates) > 0 {
		if e.Messages, err = wechat.NewMessages(e.WeChat, mc); err != nil {
			return err
		}
	}
	if w.Push.Token != "" {
		p := w.Push
		e.push = &p
	}
	return nil
}

// PushHandler is the handler of the Mini Program's developer server URL
// (message push): it verifies and decrypts each push, applies it once
// (shipping settlements and reminders, subscription acceptances) and
// hands the pushes minishop does not act on to other, which may be nil.
func (e *Engine) PushHandler(other func(ctx context.Context, m *wechat.Message) error) (http.Handler, error) {
	if e.WeChat == nil || e.push == nil {
		return nil, &commerce.Error{Op: "minishop.push_handler", Kind: commerce.KindFailedPrecondition,
			Err: errors.New("WithWeChat with a Push configuration is needed")}
	}
	return e.WeChat.PushHandler(*e.push, func(ctx context.Context, m *wechat.Message) error {
		if done, err := e.Shipping.HandlePush(ctx, m); done || err != nil {
			return err
		}
		if e.Messages != nil {
			if done, err := e.Messages.HandlePush(ctx, m); done || err != nil {
				return err
			}
		}
		if other != nil {
			return other(ctx, m)
		}
		return nil
	})
}

// DueReport counts what one Engine.RunDue did, service by service.
type DueReport struct {
	// OrdersCancelled were unpaid past the payment timeout,
	// OrdersReceived shipped long enough ago to be confirmed received,
	// and OrdersCompleted closed their after-sales window (their
	// commission settles, their points are credited).
	OrdersCancelled, OrdersReceived, OrdersCompleted int
	// Payments counts the payment work done at the channels: payments
	// closed there, refunds sent or resent, refunds the kernel never
	// handed over taken on.
	Payments int
	// CouponsExpired ended their validity; CouponsReminded are about to.
	CouponsExpired, CouponsReminded int
	// PointLotsExpired are lots of points that reached their date.
	PointLotsExpired int
	// GiftsExpired were sent and never accepted in time (their orders are
	// refunded).
	GiftsExpired int
	// WeChatShipping counts the shipping records finished (uploaded,
	// reported as special orders, or failed for the host to see);
	// WeChatMessages the message deliveries finished.
	WeChatShipping, WeChatMessages int
	// Payouts counts promoter payouts started or moved on (transfers of
	// settled commission, promoter.PayoutConfig).
	Payouts int
	// Campaigns counts groups formed and failed at their deadline, members
	// refunded, flash sales closed and bargains expired.
	Campaigns campaigns.DueReport
	// StoredValue counts gift cards reminded of their expiry and expired.
	StoredValue storedvalue.DueReport
}

// String sums the report up for a log line, leaving out what did not
// happen: "cancelled 2 orders, expired 1 gift"; "nothing due" when
// nothing did.
func (r DueReport) String() string {
	var parts []string
	count := func(verb string, n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, fmt.Sprintf("%s 1 %s", verb, one))
		case n > 1:
			parts = append(parts, fmt.Sprintf("%s %d %s", verb, n, many))
		}
	}
	count("cancelled", r.OrdersCancelled, "order", "orders")
	count("received", r.OrdersReceived, "order", "orders")
	count("completed", r.OrdersCompleted, "order", "orders")
	count("handled", r.Payments, "payment task", "payment tasks")
	count("expired", r.CouponsExpired, "coupon", "coupons")
	count("reminded of", r.CouponsReminded, "coupon", "coupons")
	count("expired", r.PointLotsExpired, "points lot", "points lots")
	count("expired", r.GiftsExpired, "gift", "gifts")
	count("finished", r.WeChatShipping, "WeChat shipping record", "WeChat shipping records")
	count("finished", r.WeChatMessages, "WeChat message", "WeChat messages")
	count("moved on", r.Payouts, "payout", "payouts")
	count("formed", r.Campaigns.GroupsFormed, "group", "groups")
	count("failed", r.Campaigns.GroupsFailed, "group", "groups")
	count("refunded", r.Campaigns.MembersRefunded, "group member", "group members")
	count("closed", r.Campaigns.SalesClosed, "flash sale", "flash sales")
	count("expired", r.Campaigns.BargainsExpired, "bargain", "bargains")
	count("reminded of", r.StoredValue.CardsReminded, "gift card", "gift cards")
	count("expired", r.StoredValue.CardsExpired, "gift card", "gift cards")
	if len(parts) == 0 {
		return "nothing due"
	}
	return strings.Join(parts, ", ")
}

// RunDue does every service's time-driven work (cancelling unpaid orders,
// confirming receipt, completing orders and so settling their commission,
// closing payments at the channel, resending refunds, uploading shipping
// info to WeChat and sending its messages, expiring coupons and
// reminding of those about to expire, expiring points and unaccepted
// gifts, ending group buys, flash sales and bargains, reminding of gift
// cards about to expire and expiring them) and reports what
// it did. A host calls it on a schedule; it is
// safe from several processes at once. A service that fails does not stop
// the others: the report counts what was done, and the error joins every
// service's.
func (e *Engine) RunDue(ctx context.Context) (DueReport, error) {
	var rep DueReport
	orders, err := e.Commerce.RunDue(ctx)
	rep.OrdersCancelled, rep.OrdersReceived, rep.OrdersCompleted = orders.Cancelled, orders.Received, orders.Completed
	// Campaigns before payments: a group refund whose hand-off to the
	// channel fails is resent by the payments' run that follows.
	var kerr error
	rep.Campaigns, kerr = e.Campaigns.RunDue(ctx)
	var perr, cerr, merr, gerr error
	rep.Payments, perr = e.Payments.RunDue(ctx)
	rep.CouponsExpired, rep.CouponsReminded, cerr = e.Coupons.RunDue(ctx)
	rep.PointLotsExpired, merr = e.Membership.RunDue(ctx)
	rep.GiftsExpired, gerr = e.Gifting.RunDue(ctx)
	var oerr, verr error
	rep.Payouts, oerr = e.Promoter.RunDue(ctx)
	rep.StoredValue, verr = e.StoredValue.RunDue(ctx)
	var serr, werr error
	if e.Shipping != nil {
		rep.WeChatShipping, serr = e.Shipping.Run(ctx)
	}
	if e.Messages != nil {
		rep.WeChatMessages, werr = e.Messages.Run(ctx)
	}
	return rep, errors.Join(err, kerr, perr, cerr, merr, gerr, serr, werr, oerr, verr)
}

type refunds struct{ e *Engine }

func (r refunds) RequestRefund(ctx context.Context, req commerce.RefundRequest) error {
	return r.e.Payments.RequestRefund(ctx, req)
}

// Package minishop is an embeddable Go module for WeChat-style social
// commerce: Mini Stores that sell inside chat, gifts, community promoters,
// coupons, memberships and WeChat Pay, with correct, concurrency-safe rules
// over the store a host picks.
//
// The root package only wires: New builds every service over one Store so a
// host starts in a few lines, and Engine.RunDue runs every service's
// scheduled work and reports what it did (DueReport). The rules live in the
// packages:
//
//   - commerce: money, catalog, stock, carts, pricing, checkout, orders,
//     refunds, the outbox;
//   - payment: payments through channels (payment/wechatpay, payment/fakepay),
//     notifications, refunds, fees and the settlement ledger;
//   - coupons: batches, claims, codes, the wallet, stacking, redemption;
//   - membership: cards, tiers, member prices, points in expiring lots;
//   - gifting: gifts to one friend, accepted with the recipient's own
//     address; group gifts of one slot per person; verifiable lotteries;
//     merchant-paid free gifts; what nobody takes is refunded;
//   - promoter: promoters, agencies and shop sharers, promotion plans, share
//     links, per-line attribution, commission settled with the order and
//     clawed back pro rata;
//   - storage/sqlstore: SQLite (embedded default), PostgreSQL, MySQL/MariaDB
//     and MariaDB Galera clusters; storage/memory: the in-memory store;
//     storage/storetest: the contract every store passes.
//
// Every error matches exactly one commerce.Kind; KindUnavailable is the one
// to retry, with the same idempotency key, which returns the first call's
// result if it went through.
//
// A host that wants finer control builds the services itself (commerce.New,
// payment.New, coupons.New, ...) with the same Store, registering their
// adjusters and hooks with the kernel as New does: member prices, coupons,
// then points in the pricing pipeline; coupons, points, then promoter
// attribution in checkout; the payment service as the kernel's refund
// gateway.
//
// ARCHITECTURE.md in the repository describes the layers and the store
// contract; docs/wechat-rules.md the platform rules each package follows.
package minishop

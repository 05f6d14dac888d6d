// Package minishop is an embeddable Go module for WeChat-style social
// commerce: Mini Stores that sell inside chat, gifts, community promoters,
// coupons, memberships and WeChat Pay, with correct, concurrency-safe rules
// over the store a host picks.
//
// The root package only wires: New builds every service over one Store so a
// host starts in a few lines. The rules live in the packages:
//
//   - commerce: money, catalog, stock, carts, pricing, checkout, orders, outbox;
//   - payment: payments through channels (payment/wechatpay, payment/fakepay),
//     notifications, refunds, fees and the settlement ledger;
//   - coupons: batches, claims, codes, the wallet, stacking, redemption;
//   - membership: cards, tiers, member prices, points in expiring lots;
//   - gifting: one-to-one gifts accepted with the recipient's address;
//   - storage/sqlstore: SQLite (embedded default), PostgreSQL and MySQL;
//     storage/memory: the in-memory store; storage/storetest: the contract
//     every store passes.
//
// A host that wants finer control builds the services itself (commerce.New,
// payment.New, coupons.New, ...) with the same Store, registering their
// adjusters and hooks with the kernel as New does: member prices, coupons,
// then points in the pricing pipeline; the payment service as the kernel's
// refund gateway.
package minishop

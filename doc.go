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
//   - storage/sqlstore: SQLite (embedded default), PostgreSQL and MySQL;
//     storage/memory: the in-memory store; storage/storetest: the contract
//     every store passes.
//
// A host that wants finer control builds the services itself
// (commerce.New, payment.New) with the same Store, wiring the payment
// service in as the kernel's refund gateway and order hook as New does.
package minishop

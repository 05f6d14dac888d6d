// Package coupons runs a merchant's coupon batches and a customer's wallet
// (Cards & Offers), and redeems coupons in checkout, following the rules of
// docs/wechat-rules.md, §4.
//
// A Batch is what a merchant creates: the kind (amount off, 满减 over an
// amount or an item count, percent off with a cap, N-items discount, free
// shipping, buy N get M, exchange price), the scope (the shop, or listed
// products and SKUs, with exclusions), the claim window, the validity (a
// fixed window, or N days after claiming with an optional activation
// delay), the per-person limit and the total stock. Config.MiniStoreProfile
// adds Mini Store's own limits.
//
// Claiming is atomic against both limits on every store (one guarded update
// each, in one transaction) and idempotent by request id. Coupons come from
// a direct claim, a unique code (GenerateCodes; a check character catches a
// typo before any lookup), a merchant grant, a friend's share link, a
// promoter's link (PromoterOnly batches; the coupon remembers the promoter
// and checkout puts it in the order's metadata for attribution) or a group
// token (GroupOnly: one per person per group). A coupon of a transferable
// batch can be handed to a friend with TransferToken and AcceptTransfer; the
// friend's coupon keeps the original validity, so a transfer never extends
// a coupon.
//
// Pricing: Adjuster applies the customer's Selection, or else the
// combination of their coupons that saves the most (Best): an exclusive
// coupon alone, or the coupons of one stack group together; item-level
// coupons first (at most one per item), then order-level ones split across
// their eligible lines pro rata in exact minor units; at most 20 item-level
// and 8 order-level coupons per order, as WeChat Pay allows; ties broken by
// higher face value, higher threshold, earlier expiry, earlier claim,
// smaller id. Thresholds of order-level coupons are checked on the amount
// after item-level coupons. Item coupons are chosen greedily by what they
// save (exact search is a set-packing problem; greedy is what the platform
// does and is predictable). At checkout, the coupons Best picks are locked
// in the checkout's transaction; one a concurrent checkout used meanwhile
// makes it pick again from those left, so a customer who named no coupon is
// never refused for a coupon they did not choose, and the order is priced
// with exactly the coupons it redeems. A coupon the customer named and lost
// to a concurrent checkout is ErrCouponUnavailable.
//
// Checkout: CheckoutHook redeems the applied coupons in the checkout
// transaction with a guarded update, so one coupon serves one order however
// many checkouts race for it. The order's adjustments record, per line,
// which coupon took how much; refunds, commission and points reuse that
// split. OrderHook releases coupons of an order cancelled before payment
// (exactly once) and returns them on a full refund before shipment while
// still valid; a partial refund keeps them used. When a partial refund
// takes an order below a coupon's threshold (满减 no longer met), the host
// picks the policy: keep the refund as allocated (the default), or
// Config.ReduceRefunds, which holds back the kept units' share of that
// coupon and gives it back if they are refunded later.
//
// Events (through the kernel's outbox): coupon.claimed, .redeemed,
// .released, .returned, .transferred, .expiring (RemindBefore ahead, once)
// and .expired. RunDue expires coupons and sends the reminders; it is
// idempotent and safe from several processes.
package coupons

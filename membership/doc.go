// Package membership runs a merchant's membership program: member cards,
// tiers with member prices and discounts, and points that expire, pay part
// of an order and come back on refund.
//
// A customer joins explicitly (Join) or, when the program says so, on their
// first paid order, and gets a member number and a card (Card): tier,
// points available and pending, experience. Each merchant's program is
// separate.
//
// Tiers (up to ten, VIP1 to VIP10) are reached by experience, earned from
// the amount paid (freight excluded) and per completed order; the upgrade
// happens in the transaction that credits the experience and emits
// "member.tier_changed" (with the tier's welcome gift batch, which the host
// or the Engine hands to the coupons package: membership does not import
// coupons). Refunds take experience back pro rata. Downgrades are a policy:
// never, or a review every Program.ReviewMonths (experience earned since
// the last review below the tier's KeepExperience moves the member down).
//
// Benefits: PriceAdjuster applies member prices per SKU and tier, or the
// tier's discount on products it does not exclude, before coupons; tiers
// may deliver for free.
//
// Points: every credit is a Lot with its own expiry (N days after
// crediting, the end of next year, a fixed date, or never). Points earned
// by an order are pending until the order settles (received, then the
// after-sales window closes with no refund open: the kernel's completed
// state), then become available; a refund before that cancels them, so no
// balance goes negative. Spending burns lots earliest expiry first, under
// the member's row lock, so concurrent checkouts never spend more than the
// balance. Points pay part of an order at the program's Redeem rule, above
// a minimum order, up to a maximum number of points and a maximum share of
// the order (Earn and Experience say what paying earns; each rule is a
// PointsPer, so many points per so much money, so earning and spending
// cannot be swapped); the deduction is an adjustment split across the lines
// in exact minor units, stored per line. A refund returns spent points pro
// rata to the refunded part, cumulatively and to the lots they came from
// (a lot that expired meanwhile stays expired, or gets
// Program.ExpiredLotDays more days), and takes earned points back pro rata:
// pending ones are cancelled, spent ones become a debt repaid by future
// earnings.
//
// Every change is a ledger Entry with the running balance (Statement);
// Adjust is idempotent by request id. Events go through the kernel's
// outbox: member.joined, member.tier_changed, points.earned, .spent,
// .released, .returned, .clawed_back, .expiring (RemindDays ahead, once per
// lot) and .expired. RunDue expires lots and sends the reminders; it is
// idempotent and safe from several processes.
package membership

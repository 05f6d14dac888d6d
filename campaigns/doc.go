// Package campaigns runs the campaigns that make a WeChat shop spread:
// group buying (拼团), flash sales (秒杀) and bargaining (砍价), on the
// kernel's checkout and orders.
//
// Each rides the normal checkout: the customer names the campaign with an
// extension (OpenGroup, JoinGroup, Flash, Buy), the Adjuster prices the
// line at the campaign's price as a discount adjustment with its per-line
// split (so refunds, points and commission use it like any other), and the
// CheckoutHook takes, in the checkout's transaction, what the campaign
// holds: a place in a group, units of the sale's pool, the bargain. The
// OrderHook follows the order after that, and RunDue ends what time ends.
// The records are the store's keyed records (storage.Records); every
// change to one is a compare-and-swap on its version, so each rule holds
// across processes and the nodes of a cluster.
//
// # Group buying
//
// A leader opens a group by paying a group order; the group then takes
// members until its size is paid, within its time limit from the leader's
// payment. A place is reserved at checkout (a full, closed or past-deadline
// group, or a customer already in it, is refused with the reason and
// leaves nothing) and released when its order is cancelled unpaid, so an
// abandoned checkout never blocks a group. Paid orders wait in the
// kernel's awaiting_group status, not shippable; the payment of the last
// place forms the group and moves every member's order on to paid in the
// same transaction. At the deadline a group that has not formed fails and
// every paid member is refunded in full through the payment channel,
// exactly once (the refund's idempotency key is the group's), coupons and
// points returned by their own hooks; with CompleteShort a group with at
// least two paid members is formed short instead, and its orders say so.
// A payment that arrives after its group ended is refunded the same way.
// Events: group.opened, group.joined, group.formed, group.failed,
// group.closed. GroupToken signs a group's share link; GroupPage is the
// page a chat member opens with it; reading it writes nothing.
//
// Who wins a race is decided on the group's record: the last payment and
// the deadline both change it, so a group forms or fails, never both, and
// a member is never charged and not refunded. A payment arriving at or
// after the deadline does not form the group.
//
// # Flash sales
//
// A flash sale sets units of SKUs aside at sale prices for a time slot:
// they come off the SKUs' stock when the sale is created and go back,
// unsold, when RunDue closes it. The units are spread over several pool
// rows (DefaultFlashShards); a buyer takes from one shard picked by the
// order, moving to the next only when it runs dry, so buyers of one SKU do
// not queue on one row lock, and no shard ever goes below zero. The order's
// line then takes no SKU stock (commerce.OrderLine.StockPool): a cancelled
// order, or a refund of units that never shipped, gives its units back to
// the shards they came from, or to the SKU's stock once the sale has
// closed. Limits per customer and per order hold under racing requests (a
// counter record per customer and SKU), and sale orders wait a shorter
// time for payment.
//
// # Bargaining
//
// A customer starts a bargain on a SKU; friends who open its share link
// each help once (once per activity when it says so), each help cutting
// the price by Cut's rule, which reaches the target in exactly Helpers
// helps, to the fen and never past it. The customer buys at the price
// reached (at the target only, unless BuyBeforeTarget) within the time
// limit; an unbought bargain expires.
package campaigns

// Package gifting sends gifts the WeChat way (docs/wechat-rules.md, §2):
// to one friend, to a chat group one slot per person, by a lottery, or free
// from the merchant. For one friend, the giver buys one unit of a giftable
// SKU and writes a blessing; payment sends the gift, and Token gives the
// claim token the host puts in the gift card (128 bits of the gift's id,
// signed with HMAC-SHA256: it cannot be guessed or altered). The gift order has no
// address and cannot ship until accepted.
//
// The recipient opens the gift (Open) and sees the product, the blessing
// and the giver's display name, never the price; before accepting they may
// switch to another SKU of the same product at the same price that is in
// stock (SwitchSKU: the stock moves from one SKU to the other in the same
// transaction). Accept binds the recipient and their address; the SKU is
// then fixed and the order follows the normal flow. The giver cannot cancel
// a sent gift, cannot accept their own, and the recipient cannot pass it
// on. After-sales belong to the recipient (RequestAfterSales); refunds go
// to the giver's payment.
//
// Open is the recipient's view and records the first opening (gift.opened).
// The plain reads write nothing: GetGift (the gift as stored, with
// ExpiresAt once paid), GiftByOrder, and the paged lists SentGifts (a
// giver's gifts) and ReceivedGifts (the one-friend gifts a customer
// accepted and the group gifts and lotteries where they hold a slot).
// A claim after the last slot is taken is ErrNoSlot; ErrGiftClosed is for
// a gift that is unpaid, expired or not yet drawn.
//
// A gift not accepted within its lifetime (24 hours by default, stored per
// gift) expires: RunDue marks it expired under the gift's lock, so an
// acceptance racing expiry has exactly one outcome, then asks the kernel for
// a full refund of the order (stock back on sale, the money to the giver
// through the payment channel, keyed by the gift, asked again on every
// RunDue until it is on record). One second after expiry nobody can accept.
//
// Products in the jewellery and education categories, and SKUs priced over
// 10,000 (yuan), are not giftable by default; both are configurable.
// Gift orders keep their promoter attribution and credit points to the
// giver (the order's customer).
//
// A group gift (Kind Group) is N units for a chat group the host names:
// the order's line is split at checkout into N one-unit lines, each
// carrying its exact share of what was paid (discounts split evenly, the
// leftover fen round robin: shares differ by at most one fen and sum to the
// total). The token is shared into the group; Claim gives each person at
// most one slot, first come first served, with their own address and
// optionally another SKU of the same product at the same price. Claims of
// one gift take turns on the gift's row and each writes the gift's claim
// count, so the count is exact under any concurrency, across the nodes of a
// Galera cluster too. The last slot claimed sends the order on to be
// shipped; at expiry the claimed slots ship and the unclaimed ones are
// refunded in one partial refund, so claimed plus refunded equals paid, to
// the fen. The giver cannot claim a slot of their own group gift (nor enter
// their own lottery): a gift is for others. A claimer's after-sales cover
// their own slot.
//
// A lottery (Kind Lottery) has N prizes and a draw time. When it is created
// a 256-bit seed is drawn with crypto/rand and its SHA-256 published
// (View.Lottery.SeedHash); people of the group Enter until the draw time or
// until the giver draws (DrawNow); eligibility is everyone, a list the
// giver names, or a rule the host registers (Config.Rules). At the draw the
// seed is revealed and the winners are Winners(seed, entrants, N), a
// documented deterministic shuffle anyone can re-run (VerifyDraw); with no
// more entrants than prizes everyone wins. Winners claim like group-gift
// slots; prizes nobody claims are refunded at expiry, which comes at once
// when every winner has claimed.
//
// A merchant-paid free gift (Free) is any of the above with a zero total:
// the kernel adds a "merchant_gift" adjustment for the whole price, the gift
// is sent at once, and an expiry "refund" returns only stock.
//
// Send is safe to retry with the same IdempotencyKey; Accept and Claim
// are too: the same recipient or claimer with the same address gets back
// what the first call did, even once the gift has closed.
//
// Events: gift.sent, .opened, .sku_switched, .accepted (once per claim for
// group gifts), .drawn, .expired, .refunded.
package gifting

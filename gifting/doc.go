// Package gifting sends gifts the WeChat way (rules G1-G9 of §2): the
// giver buys one unit of a giftable SKU for one friend and writes a
// blessing; payment sends the gift, and Token gives the claim token the
// host puts in the gift card (128 bits of the gift's id, signed with
// HMAC-SHA256: it cannot be guessed or altered). The gift order has no
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
// giver (the order's customer). Events: gift.sent, .opened, .sku_switched,
// .accepted, .expired, .refunded.
//
// Group gifts (one slot per person, first come first served), lotteries
// and merchant-paid free gifts are not offered yet.
package gifting

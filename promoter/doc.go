// Package promoter pays community promoters for the sales they bring, the
// way WeChat's promoter (推客) and shop-sharer (分享员) systems do
// (docs/wechat-rules.md, §3).
//
// People. A Promoter is an individual who shares a merchant's products in
// chats and groups. An Agency is a business that binds promoters
// (BindToAgency) and takes commission on their sales, passing 10 % to 100 %
// of it to the promoter who made the sale (split by minishop), or paying
// them itself (PaysItself), with per-product overrides. A merchant binds
// its own sharers with an invite token (Invite, valid 15 days) up to a cap
// (10 by default), and cannot unbind one within a day of binding.
//
// Plans. A merchant puts a product into promotion (SetPlan): public (any
// promoter), targeted (listed promoters or agencies) or exclusive (named
// promoters, in a window or open ended), at a commerce.Rate from 0 % to
// 90 % (exact to the millionth, as WeChat's API stores it). Lines already
// sold keep the rate of their sale.
//
// Attribution. ShareToken gives a promoter's link for a product, a coupon
// batch or the whole shop, in a scene (live room, group chat, short video,
// product card, QR code): HMAC-signed, so it can be neither forged nor
// altered, valid 30 days by default. A checkout carrying one (WithShare)
// is attributed per line, inside the checkout transaction (CheckoutHook):
// the lines whose product is in a plan that lets the promoter earn now and
// that the link covers. The last link wins, per order, with no customer
// locking, as WeChat does; Config.LockWindow turns locking on. A coupon
// claimed through a promoter's link (coupons' PromoterOnly batches)
// attributes the order that redeems it. Gift orders keep their attribution.
// Sales in the merchant's own live room (SceneOwnLive) pay no agency
// commission: the promoter's commission is theirs alone.
//
// Commission. When the order is paid, each attributed line earns Rate of
// what the line actually paid after every discount (the kernel's stored
// per-line split), rounded half-up to the fen; the agency's and the
// promoter's parts are split from it exactly, so they always sum to it.
// Statuses follow WeChat: Pending (20), Settled (100), Cancelled (200). A
// refund takes back the refunded share pro rata from the same split
// (cumulatively: round_half_up(Amount × refunded / paid), everything when
// the line is refunded in full), so partial refunds never drift; a line
// refunded in full before settlement cancels its commission. Commission
// settles when the order does: the kernel completes an order once the
// after-sales window (7 days by default) closed after receipt with no
// refund open, and completion settles its commission in the same
// transaction, writing the promoter's and agency's parts into the payment
// settlement ledger (payment.PartyPromoter, payment.PartyAgency), beside the
// merchant's sales and fees. A refund granted after settlement claws the
// share back: the ledger entries are reversed and the statement shows a
// clawback against the next payout. Engine.RunDue is what settles: it is
// idempotent and safe from several processes, since each order completes
// once under its row lock.
//
// The law. China's rules on pyramid selling (《禁止传销条例》 art. 7) forbid
// paying people for recruiting others or on the sales of those they
// recruited, and WeChat bans multi-level distribution. minishop pays
// commission only on a promoter's own attributed sales. It has no notion of
// an upline: a promoter is never paid on another promoter's sale, and the
// only layer above a promoter is an agency, which is a business sharing its
// own commission. A configuration asking for more (Config.Levels above 1)
// is refused with ErrRecruitment.
//
// Statements. PromoterStatement and AgencyStatement give, for a period,
// the attributed orders and the party's commission by status (what refunds
// took back before settlement, in part or in full, is cancelled), clawbacks
// and the payout. Commissions pages through the commissions behind them,
// and OrderCommissions reads one order's. Events: promoter.bound, .unbound, .attributed,
// .commission_pending, .commission_reduced, .commission_settled,
// .commission_cancelled, .commission_clawed_back.
package promoter

// Package storedvalue keeps customers' prepaid value at a merchant:
// balances (储值) topped up through the payment channel with a plan's bonus
// (充100送20), gift cards (physical cards sold over the counter, e-cards
// bought in the shop and sent to friends), paying with them at checkout
// beside WeChat Pay, and a ledger of every movement.
//
//   - A top-up is an order of a SKU whose product has category Category:
//     a virtual good, bought on its own and paid through the channel, never
//     from the balance. When it is paid, what the customer paid is credited
//     as principal and the SKU's TopUpPlan bonus (per unit) as bonus.
//   - Principal and bonus are kept apart. A checkout spends them in
//     proportion to what the account holds (the bonus part is rounded down
//     to the fen), so a customer cannot spend the bonus first and then ask
//     for the principal back.
//   - Pay(FromBalance(a), FromCard(number, b)...) in a checkout's
//     extensions takes each part from the balance or a card the customer
//     holds, in the checkout transaction, under the account's or card's
//     compare-and-swap (two orders never spend the same yuan), and records
//     each as one of the order's tenders (commerce.Tender): the channel
//     collects the rest (Order.Due); an order stored value pays in full is
//     paid at checkout. When the order is paid the payment service records
//     each tender as a payment of its own (Payment.Tender, provider
//     "storedvalue", no fees) beside the channel's, with its settlement
//     ledger entries.
//   - An order cancelled unpaid gives its spend back; a refund gives back
//     its tender part (the kernel splits every refund between the tenders
//     and the channel in proportion to what each paid, on cumulative
//     amounts, and each tender's part over the refund's lines:
//     commerce.RefundLine.Tenders), as principal and bonus in the
//     proportion the order spent them; the tender's payment records the
//     refund, and its ledger entries leave.
//   - A top-up's refund returns only unspent principal: it is refused
//     (ErrSpent) when the balance's principal is less than the refund, and
//     takes the top-up's bonus back in proportion. The principal leaves the
//     balance when the refund is planned, so it cannot be spent while the
//     channel pays it back; a failed refund puts it back.
//   - Every movement is an Entry; an account's principal and bonus are the
//     sums of its entries (Statement lists them), and so is a card's
//     balance (CardStatement). Each movement writes an
//     outbox event "storedvalue.<kind>" (topped_up, spent, released,
//     refunded, topup_refund, refund_failed, redeemed) in its transaction;
//     cards write "storedvalue.card_<what>" (issued, activated, bound,
//     sent, accepted, spent, redeemed, voided, expiring, expired,
//     reactivated).
//
// Gift cards come in batches of one face value (CreateCardBatch). Card
// numbers are 12 random symbols of the coupon codes' unambiguous alphabet
// and a check character, so a typo is caught before any lookup.
//
//   - A physical card (IssueCards) is printed with its number and an
//     8-digit secret, returned once and stored only as an HMAC; it is
//     inactive until sold (ActivateCard), when its validity starts.
//     Whoever knows the secret redeems it into their balance (RedeemCard)
//     or binds it to their wallet (BindCard) to pay with it directly. Five
//     wrong secrets lock a card for an hour, and ten in an hour lock the
//     customer out, so guessing a secret (10^8) takes years; the wrong
//     tries are counted in their own transaction and survive the caller's
//     failure.
//   - An e-card is bought as a SKU of category CardCategory whose batch
//     names it; paid, the order issues the cards to the buyer
//     (OrderCards). The holder sends one to a friend (SendCard: a signed
//     link with a message), who accepts it into their wallet once
//     (AcceptCard). Refunding an e-card order voids its unused cards and
//     is refused for cards spent, sent or redeemed.
//   - A card redeemed many times at once credits one balance once.
//   - A registered card (one a customer holds) that its holder reports lost
//     (ReportCardLost) stops, and what is left on it moves to a new card
//     for the holder; an anonymous card cannot be reported lost.
//   - RunDue reminds holders of cards that expire within ReminderLead
//     ("storedvalue.card_expiring") and expires them at their date; a
//     card that expired with money left is reactivated on request
//     (ReactivateCard).
//
// China's rules on single-purpose commercial prepaid cards are enforced for
// CNY merchants unless Config.NoPrepaidRules is set (rules.go has them with
// their sources): a registered balance or card holds at most 5,000.00 (top-
// ups checked out and unpaid count), an anonymous card at most 1,000.00
// and lasts three years or more, registered cards have no expiry, and
// cards for 10,000.00 or more at once need a real name minishop does not
// collect (refused).
//
// The service keeps its accounts, entries, plans, cards and per-order
// records in storage.Records, so every store minishop ships runs it.
// minishop.New wires its checkout and order hooks into the kernel, and its
// RunDue into the Engine's.
package storedvalue

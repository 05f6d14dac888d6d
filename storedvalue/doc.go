// Package storedvalue keeps customers' prepaid balances at a merchant
// (储值): top-ups paid through the payment channel, a top-up plan's bonus
// (充100送20), spending the balance at checkout beside WeChat Pay, and a
// ledger of every movement.
//
//   - A top-up is an order of a SKU whose product has category Category:
//     a virtual good, bought on its own and paid through the channel, never
//     from the balance. When it is paid, what the customer paid is credited
//     as principal and the SKU's TopUpPlan bonus (per unit) as bonus.
//   - Principal and bonus are kept apart. A checkout spends them in
//     proportion to what the account holds (the bonus part is rounded down
//     to the fen), so a customer cannot spend the bonus first and then ask
//     for the principal back.
//   - Spend(amount) in a checkout's extensions takes amount from the
//     balance in the checkout transaction, under the account's
//     compare-and-swap (two orders never spend the same yuan), and records
//     it as the order's tender (commerce.Tender): the channel collects the
//     rest (Order.Due); an order the balance pays in full is paid at
//     checkout.
//   - An order cancelled unpaid gives its spend back; a refund gives back
//     its tender part (the kernel splits every refund between the tenders
//     and the channel in proportion to what each paid, on cumulative
//     amounts), as principal and bonus in the proportion the order spent
//     them.
//   - A top-up's refund returns only unspent principal: it is refused
//     (ErrSpent) when the balance's principal is less than the refund, and
//     takes the top-up's bonus back in proportion. The principal leaves the
//     balance when the refund is planned, so it cannot be spent while the
//     channel pays it back; a failed refund puts it back.
//   - Every movement is an Entry; an account's principal and bonus are the
//     sums of its entries (Statement lists them). Each movement writes an
//     outbox event "storedvalue.<kind>" (topped_up, spent, released,
//     refunded, topup_refund, refund_failed) in its transaction.
//
// The service keeps its accounts, entries, plans and per-order records in
// storage.Records, so every store minishop ships runs it. minishop.New
// wires its checkout and order hooks into the kernel.
//
// Not yet built: gift cards (physical and e-cards), the limits of China's
// rules on single-purpose prepaid cards, expiring-balance reminders.
package storedvalue

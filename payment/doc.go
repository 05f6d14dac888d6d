// Package payment takes payments for orders through payment channels,
// applies the channels' notifications, carries the kernel's refunds to them,
// and keeps each order's settlement ledger.
//
// A Provider is a channel: payment/wechatpay speaks WeChat Pay API v3,
// payment/fakepay is a deterministic channel for tests and examples, and a
// host may write its own. The Service is provider-neutral:
//
//   - Pay opens a payment for an unpaid order. Its amount is the order's
//     total, read on the server; the client never sends one. The channel is
//     called after the payment record commits, keyed by the payment number,
//     so a retry after a crash opens nothing new at the channel.
//   - NotificationHandler (or HandleNotification) verifies a channel's HTTP
//     notification through its Provider and applies it in one transaction
//     with the order: a success marks the order paid through commerce. The
//     same notification delivered many times, or concurrently, changes
//     state once. One whose amount or currency differs from the order, or
//     for an unknown payment, changes nothing, is logged as Rejected, and
//     is answered with an error so the channel's operators see it.
//   - Money that arrives for an order cancelled in the meantime is refunded
//     in full; an unpaid order that is cancelled closes its payment (RunDue
//     tells the channel, outside the transaction).
//   - Refunds: the kernel decides what a refund returns (per line, from the
//     discount split stored at checkout) and hands it to RequestRefund, the
//     commerce.RefundGateway. A payment takes several partial refunds,
//     never more in total than was paid, each with its own refund number
//     and state, settled by the channel's answer or refund notification.
//   - Fees: the channel fee (WeChat Pay: 0.6 %) and the platform's technical
//     service fee by product category (1 % by default, configurable, 0 for
//     some categories) are computed per order in minor units, rounded
//     half-up once. A refund returns fees in proportion, computed
//     cumulatively so a full refund returns exactly the fee.
//   - The settlement ledger records, per order, what the merchant, the
//     channel and the platform get; refunds add negative entries. The
//     entries of an order always sum to what was paid (through the
//     channel and by the order's tenders, such as stored value) minus what
//     was refunded. The promoter package adds commission to the same ledger.
//   - Accounts: a merchant is paid into the channel's own account (a
//     direct merchant) unless SetAccount gives it one at a channel: the
//     sub-merchant a service provider's channel pays it into (Account).
//     Each payment keeps the account it was opened with, every later call
//     about it names that account, and a notification naming another is
//     rejected. One Service runs direct and service-provider channels side
//     by side, under their names.
//   - Profit sharing: a merchant with a SharingPlan is paid frozen; when
//     an order settles one sharing order pays the provider's fee and the
//     commission the promoter package hands over (ShareCommission), and
//     unfreezes the rest. Shares and refunds are checked against each other
//     under the payment's lock; a refund after sharing asks a business
//     receiver's share back (ReturnShare). RunDue sends and follows both.
//   - Cross-border: a merchant prices, is paid, refunds and settles in its
//     own currency (HKD, JPY, USD, ...; amounts in that currency's own
//     minor unit, none for JPY and KRW) while the payer pays in CNY at the
//     channel's rate. The channel reports that side (Transaction.Exchange,
//     RefundResult.Exchange: the payer's amount and the rate) and the
//     Service records it on the payment and the refund, and on the order
//     (commerce.Order.PayerPaid); it never converts money itself, so the
//     fees and the ledger stay in the merchant's currency. An exchange
//     into the payment's own currency, a negative payer amount or rate, or
//     a notification in another currency than the order's is rejected.
//   - Transfers (Transferer) pay a person's balance, for promoter payouts;
//     ReconcileDay checks a day's channel statement (BillSource) against
//     the store and applies payments whose notification was lost.
//
// minishop.New wires the Service to the kernel (refund gateway and order
// hook); Store is implemented by storage/memory and storage/sqlstore.
package payment

// Package commerce is minishop's kernel: money, shops and their catalog,
// stock, carts, pricing, checkout, orders and the outbox, over one Store.
// The social-commerce packages (coupons, membership, gifting, promoter,
// payment) build on it; commerce imports none of them.
//
// # Money
//
// Money is an exact decimal amount with an ISO 4217 currency, never a float.
// Amounts are rounded to the currency's minor unit (fen for CNY, none for
// JPY), half away from zero, at defined points only: line totals, discount
// splits, fees and commission. Allocate splits an amount over weighted parts
// so that the parts add up exactly (largest remainder, in minor units); every
// discount split, refund and commission rests on it. Mixing currencies is an
// error, not a conversion.
//
// Rate is every share, discount, fee and multiplier of every package, held
// exactly in parts per million and written "12.5%" (String, JSON,
// ParseRate); Rate.Of takes it of an amount, rounded half-up to the minor
// unit.
//
// # Pricing and its extension point
//
// Service.Quote prices lines or a cart: unit price × quantity per line, the
// merchant's shipping rule, then the Adjuster pipeline. Adjusters (member
// prices, coupons, points, a host's own promotions) are registered in order
// in Config.Adjusters; each returns Adjustments with their exact per-line
// split, which the pipeline checks before applying. The payable total never
// goes below zero.
//
// # Checkout
//
// Service.Checkout turns lines into an order in one transaction: it prices
// them on the server (a client's total is at most compared, via
// ExpectedTotal), runs the CheckoutHooks (where coupons are redeemed, points
// deducted, attribution recorded), writes an "order.created" event to the
// outbox, counts per-customer purchase limits, and stores the order with each
// line's share of each adjustment while it reserves stock with guarded
// decrements so nothing is oversold (last, so a hot SKU's row lock is held
// for the shortest time; in one round trip where the store can pipeline, see
// OrderPlacer). It commits all of it or nothing. An idempotency key makes it
// safe to retry.
//
// # Orders
//
// An order moves through an explicit state machine (see OrderStatus):
// pending_payment → paid → shipped → received → completed, with cancelled
// before payment and refunded when everything paid was given back. A gift
// order waits in awaiting_recipient until its recipient accepts it with an
// address (a group gift's order, split into one-unit slots at checkout,
// until its slots are claimed or the gift expires). A completed order can
// still be refunded for a late after-sales case. Illegal transitions fail
// with ErrIllegalTransition and change nothing. Refunds take their amounts
// from the per-line record made at checkout, with cumulative rounding, so
// partial refunds add up exactly to what was paid and never more. Every
// change runs the OrderHooks and writes an "order.<action>" event in its
// transaction. Service.RunDue, called by the host on a schedule, cancels
// unpaid orders, confirms receipt and completes (settles) orders when their
// after-sales window closes.
//
// # Errors
//
// Every error is an *Error with an operation, a Kind and a cause, and
// matches exactly one kind's sentinel (ErrInvalid, ErrNotFound, ErrConflict,
// ErrFailedPrecondition, ErrUnavailable) with errors.Is, besides the domain
// sentinel (ErrOutOfStock, ErrIllegalTransition...); KindOf names the kind.
// Bad input names its field. KindUnavailable (a lost connection, a retry
// budget spent, a COMMIT whose outcome is unknown) is the kind to retry,
// with the same idempotency key: checkout, refunds and the order changes
// recognise a repeat and return the first call's result.
//
// Every string the kernel, or any minishop package, accepts is checked once
// where it enters with CheckText or CheckKey, the same way on every store.
//
// # Stores
//
// Store is the interface the kernel needs; storage/memory and
// storage/sqlstore implement it and storage/storetest is its contract. The
// commercetest package has a manual clock, sequential IDs and fixtures.
package commerce

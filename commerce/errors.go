package commerce

import (
	"errors"
	"fmt"
	"strings"

	"github.com/minishop/minishop/storage"
)

// Kind classifies an error by what the caller can do about it. Every error a
// minishop service returns matches exactly one kind's sentinel with errors.Is.
type Kind uint8

const (
	// KindInternal is an unexpected failure (a bug or a store fault).
	KindInternal Kind = iota
	// KindNotFound: the record does not exist for this merchant.
	KindNotFound
	// KindConflict: the request collides with existing state (duplicate key,
	// idempotency key reused with other parameters).
	KindConflict
	// KindInvalid: the input is malformed; the error names the field.
	KindInvalid
	// KindFailedPrecondition: the input is well-formed but the current state
	// does not allow it (out of stock, illegal order transition).
	KindFailedPrecondition
	// KindUnavailable: try again later.
	KindUnavailable
)

// Sentinels for the kinds. ErrNotFound, ErrConflict and ErrUnavailable are the
// storage package's sentinels, so a store error and a service error match the
// same value. Only ErrUnavailable is retryable (see Retryable).
var (
	// ErrInternal: KindInternal. Not retryable: a bug or an unexpected
	// fault, to log.
	ErrInternal = errors.New("internal error")
	// ErrNotFound: KindNotFound. Not retryable.
	ErrNotFound = storage.ErrNotFound
	// ErrConflict: KindConflict. Not retryable: the key stays taken.
	ErrConflict = storage.ErrConflict
	// ErrInvalid: KindInvalid. Not retryable: fix the input.
	ErrInvalid = errors.New("invalid argument")
	// ErrFailedPrecondition: KindFailedPrecondition. Not retryable: the
	// state refuses the call until something else changes it.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable: KindUnavailable. Retryable: try again later with the
	// same idempotency key or request id.
	ErrUnavailable = storage.ErrUnavailable
)

func (k Kind) sentinel() error {
	switch k {
	case KindNotFound:
		return ErrNotFound
	case KindConflict:
		return ErrConflict
	case KindInvalid:
		return ErrInvalid
	case KindFailedPrecondition:
		return ErrFailedPrecondition
	case KindUnavailable:
		return ErrUnavailable
	default:
		return ErrInternal
	}
}

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindInvalid:
		return "invalid"
	case KindFailedPrecondition:
		return "failed precondition"
	case KindUnavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Error is the one error type of minishop's services. It carries the
// operation that failed, the kind, the input field at fault (for KindInvalid)
// and the cause. errors.Is matches both the kind's sentinel (ErrInvalid,
// ErrNotFound...) and whatever the cause matches (a domain sentinel such as
// ErrOutOfStock, or a typed detail error). Other minishop packages use the same
// type, so one errors.Is works whichever package produced the error.
type Error struct {
	Op    string // package-qualified operation, e.g. "commerce.checkout"
	Kind  Kind
	Field string // the offending input field, when Kind is KindInvalid
	Err   error  // the cause: a domain sentinel, a detail error or a store error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(": ")
		b.WriteString(e.Kind.String())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's kind.
func (e *Error) Is(target error) bool { return target == e.Kind.sentinel() }

// ErrorKind returns e's kind. It is the method every error that knows its
// kind shares (the detail errors have it too), so a package that must not
// wrap a classified error in a second kind (a store adding its sentinels)
// can recognize one without knowing its type.
func (e *Error) ErrorKind() Kind { return e.Kind }

// KindOf returns the kind of err: the kind of the outermost *Error in its
// chain, or the kind whose sentinel it matches, or KindInternal.
func KindOf(err error) Kind {
	if err == nil {
		// What the checks below conclude, without the allocation errors.As
		// makes of its target: plugins ask on every call, error or not.
		return KindInternal
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var k interface{ ErrorKind() Kind }
	if errors.As(err, &k) {
		return k.ErrorKind()
	}
	for _, k := range []Kind{KindNotFound, KindConflict, KindInvalid, KindFailedPrecondition, KindUnavailable} {
		if errors.Is(err, k.sentinel()) {
			return k
		}
	}
	return KindInternal
}

// Retryable reports whether the call that returned err may succeed if it is
// made again unchanged, later: err is of KindUnavailable (a lost or refused
// connection, a store that spent its retry budget on aborts, a COMMIT whose
// outcome is unknown, a cancelled or expired context, a payment channel
// down). Every state change takes an idempotency key or request id, so
// repeating it with the same one is safe: it returns the first call's
// result if that call went through. Every other kind is final for these
// arguments: invalid input, a record not found, a conflict (a key taken, an
// idempotency key reused), a failed precondition (out of stock, a coupon
// used, points short) and an internal fault do not go away by asking again.
// Retryable follows KindOf, so it agrees with errors.Is(err, ErrUnavailable)
// for every error minishop returns. A nil err is not retryable.
func Retryable(err error) bool {
	return err != nil && KindOf(err) == KindUnavailable
}

// Invalid returns a KindInvalid error for field with a message saying what
// is wrong with it. Other minishop packages use it for their own validation.
func Invalid(op, field, format string, args ...any) error {
	return &Error{Op: op, Kind: KindInvalid, Field: field, Err: fmt.Errorf(format, args...)}
}

// Wrap returns err annotated with op. A nil err gives nil. An *Error keeps its
// kind and field and gains op only if it has none; any other error takes the
// kind of the sentinel it matches (store errors become not found, conflict or
// unavailable) and internal otherwise.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Op: op, Kind: KindOf(err), Err: err}
}

// Errorf returns an *Error of the given kind whose cause is the formatted
// message; %w verbs keep their operands matchable with errors.Is.
func Errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// Domain sentinels of the commerce package. Each is wrapped in an *Error of
// the kind noted, so errors.Is works for both. None is retryable: each says
// the request or the state refuses the call, and repeating it unchanged
// meets the same refusal (see Retryable).
var (
	// ErrCurrencyMismatch: an operation mixed two currencies (KindInvalid).
	// Not retryable.
	ErrCurrencyMismatch = errors.New("currency mismatch")
	// ErrOutOfStock: a SKU has fewer units than asked for (KindFailedPrecondition).
	// The detail is an *OutOfStockError. Not retryable: only a restock or
	// a cancelled order frees units.
	ErrOutOfStock = errors.New("out of stock")
	// ErrPurchaseLimit: the customer would exceed a SKU's per-customer limit
	// (KindFailedPrecondition). The detail is a *PurchaseLimitError. Not
	// retryable.
	ErrPurchaseLimit = errors.New("purchase limit exceeded")
	// ErrNotListed: a product is not listed for sale (KindFailedPrecondition).
	// Not retryable.
	ErrNotListed = errors.New("product not listed")
	// ErrIllegalTransition: the order's state does not allow the requested
	// change (KindFailedPrecondition). The detail is a *TransitionError. Not
	// retryable.
	ErrIllegalTransition = errors.New("illegal order transition")
	// ErrPriceChanged: the server's total differs from the one the client
	// expected to pay (KindFailedPrecondition). Not retryable as is: show
	// the customer the new price and check out with it.
	ErrPriceChanged = errors.New("price changed")
	// ErrIdempotencyMismatch: an idempotency key was reused with different
	// parameters (KindConflict). Not retryable: the key belongs to the
	// first call's parameters.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with different parameters")
	// ErrRefundExceeded: a refund asks for more than is left to refund
	// (KindFailedPrecondition). Not retryable.
	ErrRefundExceeded = errors.New("refund exceeds what is refundable")
	// ErrEmptyCart: checkout or quote of a cart with no lines (KindInvalid).
	// Not retryable.
	ErrEmptyCart = errors.New("cart is empty")
)

// OutOfStockError is the detail of ErrOutOfStock.
type OutOfStockError struct {
	SKU    SKUID
	Wanted int64
	OnHand int64
}

func (e *OutOfStockError) Error() string {
	return fmt.Sprintf("sku %s: out of stock: wanted %d, on hand %d", e.SKU, e.Wanted, e.OnHand)
}

// ErrorKind is KindFailedPrecondition, so a store error carrying it
// gets the right kind from Wrap.
func (e *OutOfStockError) ErrorKind() Kind { return KindFailedPrecondition }

// Is makes the detail match its sentinel.
func (e *OutOfStockError) Is(target error) bool { return target == ErrOutOfStock }

// PurchaseLimitError is the detail of ErrPurchaseLimit.
type PurchaseLimitError struct {
	SKU     SKUID
	Limit   int64 // units one customer may buy
	Bought  int64 // units already bought (not cancelled or refunded)
	Wanting int64
}

func (e *PurchaseLimitError) Error() string {
	return fmt.Sprintf("sku %s: purchase limit %d per customer: already bought %d, wanting %d", e.SKU, e.Limit, e.Bought, e.Wanting)
}

// ErrorKind is KindFailedPrecondition, so a store error carrying it
// gets the right kind from Wrap.
func (e *PurchaseLimitError) ErrorKind() Kind { return KindFailedPrecondition }

// Is makes the detail match its sentinel.
func (e *PurchaseLimitError) Is(target error) bool { return target == ErrPurchaseLimit }

// TransitionError is the detail of ErrIllegalTransition.
type TransitionError struct {
	Order  OrderID
	From   OrderStatus
	Action string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("order %s: cannot %s an order that is %s", e.Order, e.Action, e.From)
}

// ErrorKind is KindFailedPrecondition, so a store error carrying it
// gets the right kind from Wrap.
func (e *TransitionError) ErrorKind() Kind { return KindFailedPrecondition }

// Is makes the detail match its sentinel.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// NotFoundAs returns err naming field when err says a record was not found
// (a store's ErrNotFound, or an *Error of KindNotFound naming no field): the
// caller learns which of its inputs named nothing. Any other error is
// returned as Wrap returns it.
func NotFoundAs(op, field string, err error) error {
	if err == nil || KindOf(err) != KindNotFound {
		return Wrap(op, err)
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return err
		}
		named := *e
		named.Field = field
		return &named
	}
	return &Error{Op: op, Kind: KindNotFound, Field: field, Err: err}
}

package gifting

import (
	"context"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Store is what the gifting service needs from a store, beside
// commerce.Store on the same transactor. The gift row is the arbiter of
// acceptance racing expiry: both change it under its lock (UpdateGift), so
// exactly one wins.
type Store interface {
	storage.Transactor

	// InsertGift stores a new gift, with Slots free slots (lines 0 to
	// Slots-1); storage.ErrConflict when its order has one.
	InsertGift(ctx context.Context, g *Gift) error
	// GetGift returns the merchant's gift.
	GetGift(ctx context.Context, merchant commerce.MerchantID, id GiftID) (*Gift, error)
	// GiftByOrder returns the gift of an order.
	GiftByOrder(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) (*Gift, error)
	// ListGifts returns up to limit of the merchant's gifts that q selects,
	// by id (oldest first) after q.After: a giver's sent gifts, or the gifts
	// a customer received (a one-friend gift they accepted, or a slot of a
	// group gift or lottery they hold).
	ListGifts(ctx context.Context, merchant commerce.MerchantID, q GiftQuery) ([]*Gift, error)
	// UpdateGift locks the gift, applies fn and saves it (bumping Version)
	// unless fn fails.
	UpdateGift(ctx context.Context, merchant commerce.MerchantID, id GiftID, fn func(*Gift) error) error
	// DueGifts returns up to limit gifts that RunDue must act on: sent ones
	// with ExpiresAt at or before before, then expired ones not yet
	// Refunded (so refunds that keep failing never hold up expiries);
	// soonest first within each.
	DueGifts(ctx context.Context, before time.Time, limit int) ([]*Gift, error)

	// ClaimSlot gives claimer the lowest free slot of a group gift or
	// lottery, with their address, in one atomic step: it locks the gift
	// row as UpdateGift does (so the claims of one gift take turns, the
	// free count is exact, and expiry cannot interleave) and calls check,
	// whose error it returns unchanged; then it takes a free slot. It fails
	// with ErrAlreadyClaimed when claimer holds a slot of this gift,
	// ErrNoSlot when none is free, storage.ErrNotFound for an unknown gift.
	// It returns the slot and how many stay free.
	ClaimSlot(ctx context.Context, merchant commerce.MerchantID, id GiftID, claimer commerce.CustomerID, addr commerce.Address, at time.Time, check func(*Gift) error) (Slot, int, error)
	// GiftSlots returns the slots of a gift by line (none for a
	// one-friend gift).
	GiftSlots(ctx context.Context, merchant commerce.MerchantID, id GiftID) ([]Slot, error)

	// AppendEvents writes outbox events (commerce.Store's method).
	AppendEvents(ctx context.Context, events ...commerce.Event) error
}

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

	// InsertGift stores a new gift; storage.ErrConflict when its order has
	// one.
	InsertGift(ctx context.Context, g *Gift) error
	// GetGift returns the merchant's gift.
	GetGift(ctx context.Context, merchant commerce.MerchantID, id GiftID) (*Gift, error)
	// GiftByOrder returns the gift of an order.
	GiftByOrder(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) (*Gift, error)
	// UpdateGift locks the gift, applies fn and saves it (bumping Version)
	// unless fn fails.
	UpdateGift(ctx context.Context, merchant commerce.MerchantID, id GiftID, fn func(*Gift) error) error
	// DueGifts returns up to limit gifts that RunDue must act on: sent ones
	// with ExpiresAt at or before before, then expired ones not yet
	// Refunded (so refunds that keep failing never hold up expiries);
	// soonest first within each.
	DueGifts(ctx context.Context, before time.Time, limit int) ([]*Gift, error)

	// AppendEvents writes outbox events (commerce.Store's method).
	AppendEvents(ctx context.Context, events ...commerce.Event) error
}

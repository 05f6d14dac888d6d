package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/gifting"
)

var _ gifting.Store = (*Store)(nil)

// Gifts are a JSON document of the whole gift beside the columns the store
// keys, filters and locks on. The columns that change (status, expires_us,
// refunded, recipient, version) are the truth and are overlaid on the
// document when reading; UpdateGift writes them and the document together.
// A gift not yet sent has no expiry: NULL in expires_us.

const giftCols = "doc, recipient, status, expires_us, refunded, version"

func scanGift(row scanner) (*gifting.Gift, error) {
	var doc, recipient, status string
	var expires sql.NullInt64
	var refunded int
	var version int64
	if err := row.Scan(&doc, &recipient, &status, &expires, &refunded, &version); err != nil {
		return nil, err
	}
	g := &gifting.Gift{}
	if err := json.Unmarshal([]byte(doc), g); err != nil {
		return nil, fmt.Errorf("sqlstore: gift document: %w", err)
	}
	g.Recipient, g.Status, g.Refunded, g.Version = commerce.CustomerID(recipient), gifting.Status(status), refunded != 0, version
	g.ExpiresAt = time.Time{}
	if expires.Valid {
		g.ExpiresAt = fromMicros(expires.Int64)
	}
	return g, nil
}

// InsertGift implements gifting.Store.
func (s *Store) InsertGift(ctx context.Context, g *gifting.Gift) error {
	doc, err := json.Marshal(g)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "INSERT INTO {p}gifts (id, merchant_id, order_id, giver, recipient, status, expires_us, refunded, version, created_us, doc) VALUES "+in(11),
		s.d.id(g.ID.UUID()), s.d.id(g.MerchantID.UUID()), s.d.id(g.OrderID.UUID()), string(g.Giver), string(g.Recipient),
		string(g.Status), nullMicros(g.ExpiresAt), flag(g.Refunded), g.Version, micros(g.Created), string(doc))
	return s.translate(err) // the order has a gift (or the ID is taken): ErrConflict
}

func (s *Store) getGift(ctx context.Context, q querier, what any, lock, where string, args ...any) (*gifting.Gift, error) {
	g, err := scanGift(q.QueryRowContext(ctx, s.sql("SELECT "+giftCols+" FROM {p}gifts WHERE "+where+lock), args...))
	if s.d.classify(err) == errNoRows {
		return nil, notFound("gift", what)
	}
	return g, s.translate(err)
}

// GetGift implements gifting.Store.
func (s *Store) GetGift(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID) (*gifting.Gift, error) {
	return s.getGift(ctx, s.q(ctx), id, "", "id = ? AND merchant_id = ?", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
}

// GiftByOrder implements gifting.Store.
func (s *Store) GiftByOrder(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) (*gifting.Gift, error) {
	return s.getGift(ctx, s.q(ctx), "of order "+order.String(), "", "merchant_id = ? AND order_id = ?",
		s.d.id(merchant.UUID()), s.d.id(order.UUID()))
}

// UpdateGift implements gifting.Store: the row is locked (FOR UPDATE on
// PostgreSQL and MySQL; SQLite's transactions hold the write lock from
// BEGIN), fn applied, and every column but the identity (ID, merchant,
// order, giver) written back with the document. Acceptance and expiry both
// go through here, so the row lock decides which of them wins.
func (s *Store) UpdateGift(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID, fn func(*gifting.Gift) error) error {
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		g, err := s.getGift(ctx, q, id, s.d.forUpdate, "id = ? AND merchant_id = ?", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
		if err != nil {
			return err
		}
		orig := *g
		if err := fn(g); err != nil {
			return err
		}
		g.ID, g.MerchantID, g.OrderID, g.Giver = orig.ID, orig.MerchantID, orig.OrderID, orig.Giver
		g.Version = orig.Version + 1
		doc, err := json.Marshal(g)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}gifts SET recipient = ?, status = ?, expires_us = ?, refunded = ?, version = ?, created_us = ?, doc = ? WHERE id = ?"),
			string(g.Recipient), string(g.Status), nullMicros(g.ExpiresAt), flag(g.Refunded), g.Version, micros(g.Created),
			string(doc), s.d.id(id.UUID()))
		return err
	})
	return s.translate(err)
}

// DueGifts implements gifting.Store: sent gifts due to expire and expired
// ones not yet refunded, soonest expiry first (a gift without one first of
// all, which the dialects would otherwise sort apart), then by ID. Each
// branch of the OR is a range of the (status, expires_us) index.
func (s *Store) DueGifts(ctx context.Context, before time.Time, limit int) ([]*gifting.Gift, error) {
	return queryAll(ctx, s, fmt.Sprintf("SELECT %s FROM {p}gifts"+
		" WHERE (status = ? AND expires_us IS NOT NULL AND expires_us <= ?) OR (status = ? AND refunded = 0)"+
		" ORDER BY CASE WHEN status = ? THEN 0 ELSE 1 END, CASE WHEN expires_us IS NULL THEN 0 ELSE 1 END, expires_us, id LIMIT %d", giftCols, commerce.PageLimit(limit)),
		scanGift, string(gifting.Sent), micros(before), string(gifting.Expired), string(gifting.Sent))
}

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
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

// InsertGift implements gifting.Store: a group gift's free slots, and
// their count, are inserted with it, in one transaction.
func (s *Store) InsertGift(ctx context.Context, g *gifting.Gift) error {
	doc, err := json.Marshal(g)
	if err != nil {
		return err
	}
	const insert = "INSERT INTO {p}gifts (id, merchant_id, order_id, giver, recipient, status, expires_us, refunded, version, created_us, doc) VALUES "
	args := []any{s.d.id(g.ID.UUID()), s.d.id(g.MerchantID.UUID()), s.d.id(g.OrderID.UUID()), string(g.Giver), string(g.Recipient),
		string(g.Status), nullMicros(g.ExpiresAt), flag(g.Refunded), g.Version, micros(g.Created), string(doc)}
	if g.Slots <= 0 {
		_, err = s.exec(ctx, insert+in(len(args)), args...)
		return s.translate(err) // the order has a gift (or the ID is taken): ErrConflict
	}
	err = s.write(ctx, func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, s.sql(insert+in(len(args))), args...); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, s.sql("INSERT INTO {p}gift_counts (gift_id, free) VALUES (?, ?)"), s.d.id(g.ID.UUID()), g.Slots); err != nil {
			return err
		}
		return s.insertSlots(ctx, q, g, g.Slots)
	})
	return s.translate(err)
}

// maxSlotRows is the most slot rows one INSERT writes (3 values each).
const maxSlotRows = 512

// insertSlots inserts n free slots, lines 0 to n-1, in multi-row INSERTs of
// a power of two rows each (at most maxSlotRows): any n takes a handful of
// statements, and only a handful of statement texts are ever prepared.
func (s *Store) insertSlots(ctx context.Context, q querier, g *gifting.Gift, n int) error {
	gift, merchant := s.d.id(g.ID.UUID()), s.d.id(g.MerchantID.UUID())
	for line := 0; line < n; {
		rows := maxSlotRows
		for rows > n-line {
			rows /= 2
		}
		var b strings.Builder
		b.WriteString("INSERT INTO {p}gift_slots (gift_id, line, merchant_id) VALUES (?, ?, ?)")
		args := make([]any, 0, 3*rows)
		for i := range rows {
			if i > 0 {
				b.WriteString(", (?, ?, ?)")
			}
			args = append(args, gift, line+i, merchant)
		}
		if _, err := q.ExecContext(ctx, s.sql(b.String()), args...); err != nil {
			return err
		}
		line += rows
	}
	return nil
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

// ListGifts implements gifting.Store: one indexed range per query, the
// received gifts being the accepted one-friend gifts and the gifts whose
// slots the recipient holds.
func (s *Store) ListGifts(ctx context.Context, merchant commerce.MerchantID, q gifting.GiftQuery) ([]*gifting.Gift, error) {
	m, after := s.d.id(merchant.UUID()), s.d.id(q.After.UUID())
	limit := commerce.PageLimit(q.Limit)
	if q.Giver != "" {
		return queryAll(ctx, s, fmt.Sprintf("SELECT %s FROM {p}gifts WHERE merchant_id = ? AND giver = ? AND id > ? ORDER BY id LIMIT %d", giftCols, limit),
			scanGift, m, string(q.Giver), after)
	}
	return queryAll(ctx, s, fmt.Sprintf("SELECT %s FROM {p}gifts WHERE merchant_id = ? AND id > ? AND (recipient = ? OR id IN "+
		"(SELECT gift_id FROM {p}gift_slots WHERE merchant_id = ? AND claimer = ?)) ORDER BY id LIMIT %d", giftCols, limit),
		scanGift, m, after, string(q.Recipient), m, string(q.Recipient))
}

// UpdateGift implements gifting.Store: the row is locked (FOR UPDATE on
// PostgreSQL and MySQL; SQLite's transactions hold the write lock from
// BEGIN), fn applied, and every column but the identity (ID, merchant,
// order, giver) written back with the document. Acceptance and expiry both
// go through here, so the row lock decides which of them wins.
//
// A group gift's or lottery's update also bumps gen of its gift_counts
// row, which every claim writes too (see ClaimSlot). On one server the
// gift row's lock alone orders claims and updates; on a multi-primary
// cluster (Galera) a lock holds only on its node and certification aborts
// only transactions that WRITE a common row, so without this a claim on
// one node and an expiry on another both commit: the expiry refunds a
// slot the claim took, or ships none of the claim's. The bump comes before
// fn reads anything: a claim that another node commits after it meets its
// row lock here (the cluster aborts this transaction), one committed before
// it is visible to fn, and one committing at the same time fails
// certification with it. Bumped after fn, a claim applied between fn's read
// of the slots and the bump would be missed, and certification would not
// see it (it came before this transaction's write). A one-friend gift has
// no slots and no count row.
func (s *Store) UpdateGift(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID, fn func(*gifting.Gift) error) error {
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		g, err := s.getGift(ctx, q, id, s.d.forUpdate, "id = ? AND merchant_id = ?", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
		if err != nil {
			return err
		}
		if g.Shared() {
			// Before fn, which may read the slots (expiry does): see above.
			if _, err := q.ExecContext(ctx, s.sql("UPDATE {p}gift_counts SET gen = gen + 1 WHERE gift_id = ?"), s.d.id(id.UUID())); err != nil {
				return err
			}
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

// ---- slots ----

// Slots are rows of gift_slots, one per unit of a group gift, free while
// claimer is NULL; the address is a JSON document. The unique (gift_id,
// claimer) index, where NULLs never collide, holds each claimer to one slot
// of a gift. gift_counts holds each gift's number of free slots, which
// only ClaimSlot moves (see there why a count of the rows would not do),
// and gen, which UpdateGift bumps so that claims and updates of a gift
// always write one common row.

func scanSlot(row scanner) (gifting.Slot, error) {
	var sl gifting.Slot
	var claimer, address sql.NullString
	var claimed sql.NullInt64
	if err := row.Scan(&sl.Line, &claimer, &address, &claimed); err != nil {
		return sl, err
	}
	sl.Claimer = commerce.CustomerID(claimer.String)
	if address.Valid {
		sl.Address = &commerce.Address{}
		if err := json.Unmarshal([]byte(address.String), sl.Address); err != nil {
			return sl, fmt.Errorf("sqlstore: slot address: %w", err)
		}
	}
	if claimed.Valid {
		sl.ClaimedAt = fromMicros(claimed.Int64)
	}
	return sl, nil
}

// ClaimSlot implements gifting.Store in one transaction:
//
//  1. The gift is read, unlocked, and check called: a refused claim (a
//     closed gift, a lottery loser) goes no further and locks nothing.
//     The claimer's slot is looked for, so the common repeated claim does
//     not abort a PostgreSQL transaction with a unique violation.
//  2. The lowest free line not locked by another claim is locked (FOR
//     UPDATE SKIP LOCKED): concurrent claims take distinct lines at once,
//     without queueing on one row (takeLine tells what a claim does that
//     finds every free line locked).
//  3. The gift row is read again under a shared lock (FOR SHARE on
//     PostgreSQL, LOCK IN SHARE MODE on MySQL), which claims hold together
//     and UpdateGift's FOR UPDATE waits for, and check is called on it:
//     the gift cannot change between this check and the claim's commit.
//  4. The line is taken with a guarded UPDATE; two claims of one claimer
//     that raced past step 1 meet at the unique (gift_id, claimer) index,
//     and the loser gets ErrAlreadyClaimed too.
//  5. The gift's free count is decremented and read. On a multi-primary
//     cluster (Galera) the shared lock of step 3 stops only a gift update
//     that reaches this node while the claim runs (applying it aborts the
//     claim); an update committing on another node at the same time is
//     caught because it writes this row too (UpdateGift bumps its gen):
//     certification fails one of the two, which is retried, and its
//     check then sees the other. Its row lock makes
//     the claims of a gift pass this step one at a time, each after the
//     one before has committed, so the count is exact: the claim of the
//     last slot, and only it, sees 0, and it sees every other claim of the
//     gift committed. (A count of the free rows instead would take the
//     lines other claims hold but have not committed for free, and no
//     claim might ever see 0.)
//
// check is called twice when the claim goes ahead (the second call, on the
// locked gift, is the one that counts), and again before a refusal that
// followed a wait. Nothing waits for an exclusive lock on a slot row (those
// are taken with SKIP LOCKED or NOWAIT), a claim that waits on slot rows
// holds no lock, and the free count is the last lock a claim takes; on
// PostgreSQL the waits never close a cycle. On MySQL, whose lock requests
// queue behind a waiting one, a claim can wait for the gift's shared lock
// behind an UpdateGift that waits for the claims holding it, which is no
// cycle either. UpdateGift takes the count's lock after the gift's
// exclusive one, which it cannot hold while another claim holds the count
// (that claim holds the gift's shared lock until it ends), so that adds no
// cycle. SQLite's transactions are serialized whole: none of the
// locks exist there, nor are they needed.
func (s *Store) ClaimSlot(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID, claimer commerce.CustomerID, addr commerce.Address, at time.Time, check func(*gifting.Gift) error) (gifting.Slot, int, error) {
	if claimer == "" {
		return gifting.Slot{}, 0, commerce.Errorf("sqlstore.claim_slot", commerce.KindInvalid, "gift %s: empty claimer", id)
	}
	address, err := json.Marshal(addr)
	if err != nil {
		return gifting.Slot{}, 0, err
	}
	gift, m := s.d.id(id.UUID()), s.d.id(merchant.UUID())
	var line, free int
	err = s.write(ctx, func(ctx context.Context, q querier) error {
		checked := func(lock string) error {
			g, err := s.getGift(ctx, q, id, lock, "id = ? AND merchant_id = ?", gift, m)
			if err != nil {
				return err
			}
			return check(g)
		}
		holds := func() error {
			var held int
			err := q.QueryRowContext(ctx, s.sql("SELECT line FROM {p}gift_slots WHERE gift_id = ? AND claimer = ?"), gift, string(claimer)).Scan(&held)
			switch {
			case err == nil:
				return fmt.Errorf("gift %s: %q holds slot %d: %w", id, claimer, held, gifting.ErrAlreadyClaimed)
			case s.d.classify(err) == errNoRows:
				return nil
			}
			return err
		}
		if err := checked(""); err != nil {
			return err
		}
		if err := holds(); err != nil {
			return err
		}
		var ok, waited bool
		var err error
		if line, ok, waited, err = s.takeLine(ctx, q, gift, m); err != nil {
			return err
		}
		if !ok {
			// Every line is taken, by claims that have ended: the
			// claimer's own may be among them, and the last may have
			// closed the gift.
			if waited {
				if err := checked(""); err != nil {
					return err
				}
			}
			if err := holds(); err != nil {
				return err
			}
			return fmt.Errorf("gift %s: %w", id, gifting.ErrNoSlot)
		}
		if err := checked(s.d.forShare); err != nil {
			return err
		}
		n, err := rowsAffected(q.ExecContext(ctx, s.sql("UPDATE {p}gift_slots SET claimer = ?, address = ?, claimed_us = ? WHERE gift_id = ? AND line = ? AND claimer IS NULL"),
			string(claimer), string(address), micros(at), gift, line))
		if s.d.classify(err) == errDuplicate {
			return fmt.Errorf("gift %s: %q claimed a slot meanwhile: %w", id, claimer, gifting.ErrAlreadyClaimed)
		}
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("sqlstore: gift %s: slot %d taken under its lock", id, line)
		}
		n, err = rowsAffected(q.ExecContext(ctx, s.sql("UPDATE {p}gift_counts SET free = free - 1 WHERE gift_id = ? AND free > 0"), gift))
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("sqlstore: gift %s: slot %d was free but the count of free slots is 0", id, line)
		}
		return q.QueryRowContext(ctx, s.sql("SELECT free FROM {p}gift_counts WHERE gift_id = ?"), gift).Scan(&free)
	})
	if err != nil {
		return gifting.Slot{}, 0, s.translate(err)
	}
	return gifting.Slot{Line: line, Claimer: claimer, Address: &addr, ClaimedAt: fromMicros(micros(at))}, free, nil
}

// takeLine locks the gift's lowest free line that no other claim holds
// (FOR UPDATE SKIP LOCKED). When other claims hold every free line, the
// outcome depends on them: one may fail and free its line, or be this
// claimer's. takeLine then waits for them, with a shared lock on the lowest
// line still free once they have ended, and holding no other lock (the last
// of them may be closing the gift under UpdateGift, which waits for every
// shared lock on the gift row). No line: the gift is full (ok false, waited
// true). A line: it is locked with NOWAIT, and should other waiters share
// it the transaction fails with a lock error, which InTx retries after a
// jittered backoff. On SQLite the first look is the answer.
func (s *Store) takeLine(ctx context.Context, q querier, gift, merchant any) (line int, ok, waited bool, err error) {
	pick := "SELECT line FROM {p}gift_slots WHERE gift_id = ? AND merchant_id = ? AND claimer IS NULL ORDER BY line LIMIT 1"
	if s.d.name == MySQL {
		// MariaDB's optimizer likes the unique (gift_id, claimer) index
		// for claimer IS NULL, then sorts by line: it reads, and so locks,
		// every free line to return the first, and the other claims find
		// none. The primary key gives the lines in order, and the scan
		// stops at the first free one (it locks and, in READ COMMITTED,
		// unlocks the taken lines it passes).
		pick = "SELECT line FROM {p}gift_slots FORCE INDEX (PRIMARY) WHERE gift_id = ? AND merchant_id = ? AND claimer IS NULL ORDER BY line LIMIT 1"
	}
	first := ""
	if s.d.forUpdate != "" {
		first = s.d.forUpdate + " SKIP LOCKED"
	}
	err = q.QueryRowContext(ctx, s.sql(pick+first), gift, merchant).Scan(&line)
	if s.d.classify(err) != errNoRows || s.d.forUpdate == "" {
		return line, err == nil, false, noRowsIsNil(s, err)
	}
	err = q.QueryRowContext(ctx, s.sql(pick+s.d.forShare), gift, merchant).Scan(&line)
	if err != nil {
		return 0, false, true, noRowsIsNil(s, err)
	}
	err = q.QueryRowContext(ctx, s.sql(pick+s.d.forUpdate+" NOWAIT"), gift, merchant).Scan(&line)
	return line, err == nil, true, noRowsIsNil(s, err)
}

// noRowsIsNil is err, except that no row is no error.
func noRowsIsNil(s *Store, err error) error {
	if s.d.classify(err) == errNoRows {
		return nil
	}
	return err
}

// GiftSlots implements gifting.Store.
func (s *Store) GiftSlots(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID) ([]gifting.Slot, error) {
	gift, m := s.d.id(id.UUID()), s.d.id(merchant.UUID())
	slots, err := queryAll(ctx, s, "SELECT line, claimer, address, claimed_us FROM {p}gift_slots WHERE gift_id = ? AND merchant_id = ? ORDER BY line", scanSlot, gift, m)
	if err != nil || len(slots) > 0 {
		return slots, err
	}
	// No slots: a one-friend gift, or no gift of this merchant.
	var one int
	err = s.q(ctx).QueryRowContext(ctx, s.sql("SELECT 1 FROM {p}gifts WHERE id = ? AND merchant_id = ?"), gift, m).Scan(&one)
	if s.d.classify(err) == errNoRows {
		return nil, notFound("gift", id)
	}
	return nil, s.translate(err)
}

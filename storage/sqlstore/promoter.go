package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage"
)

var _ promoter.Store = (*Store)(nil)

// Agencies, promoters, plans and commissions are a JSON document of the
// whole record beside the columns the store keys, filters and locks on. The
// version column (and a commission's status) is the truth and is overlaid
// on the document when reading; updates write the columns and the document
// together.
//
// A merchant's sharers are rows of promoter_sharers beside a counter row in
// promoter_sharer_counts: BindSharer's guarded increment of the counter is
// what holds a merchant to its cap under concurrent binds.
//
// A customer's lock to a promoter is one row per (merchant, customer),
// rewritten when it has run out.

// scanDoc reads a document and its version column into v, naming what for
// errors; extra receives the remaining columns.
func scanDoc(row scanner, what string, v any, version *int64, extra ...any) error {
	var doc string
	if err := row.Scan(append([]any{&doc, version}, extra...)...); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return fmt.Errorf("sqlstore: %s document: %w", what, err)
	}
	return nil
}

// ---- agencies and promoters ----

func scanAgency(row scanner) (*promoter.Agency, error) {
	a := &promoter.Agency{}
	var version int64
	if err := scanDoc(row, "agency", a, &version); err != nil {
		return nil, err
	}
	a.Version = version
	return a, nil
}

func scanPromoter(row scanner) (*promoter.Promoter, error) {
	p := &promoter.Promoter{}
	var version int64
	if err := scanDoc(row, "promoter", p, &version); err != nil {
		return nil, err
	}
	p.Version = version
	return p, nil
}

// getOne reads one row with scan, ErrNotFound naming what and id when
// there is none.
func getOne[T any](ctx context.Context, s *Store, q querier, scan func(scanner) (T, error), what string, id any, query string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, s.sql(query), args...))
	if s.d.classify(err) == errNoRows {
		return v, notFound(what, id)
	}
	return v, s.translate(err)
}

// InsertAgency implements promoter.Store.
func (s *Store) InsertAgency(ctx context.Context, a *promoter.Agency) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "INSERT INTO {p}agencies (id, version, created_us, doc) VALUES (?, ?, ?, ?)",
		s.d.id(a.ID.UUID()), a.Version, micros(a.Created), string(doc))
	return s.translate(err)
}

// GetAgency implements promoter.Store.
func (s *Store) GetAgency(ctx context.Context, id promoter.AgencyID) (*promoter.Agency, error) {
	return getOne(ctx, s, s.q(ctx), scanAgency, "agency", id, "SELECT doc, version FROM {p}agencies WHERE id = ?", s.d.id(id.UUID()))
}

// UpdateAgency implements promoter.Store: the row is locked, fn applied,
// and the row written back with the version bumped.
func (s *Store) UpdateAgency(ctx context.Context, id promoter.AgencyID, fn func(*promoter.Agency) error) error {
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		a, err := getOne(ctx, s, q, scanAgency, "agency", id, "SELECT doc, version FROM {p}agencies WHERE id = ?"+s.d.forUpdate, s.d.id(id.UUID()))
		if err != nil {
			return err
		}
		version := a.Version
		if err := fn(a); err != nil {
			return err
		}
		a.ID, a.Version = id, version+1
		doc, err := json.Marshal(a)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}agencies SET version = ?, created_us = ?, doc = ? WHERE id = ?"),
			a.Version, micros(a.Created), string(doc), s.d.id(id.UUID()))
		return err
	})
	return s.translate(err)
}

// InsertPromoter implements promoter.Store.
func (s *Store) InsertPromoter(ctx context.Context, p *promoter.Promoter) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "INSERT INTO {p}promoters (id, agency_id, version, created_us, doc) VALUES (?, ?, ?, ?, ?)",
		s.d.id(p.ID.UUID()), s.nullID(p.AgencyID.UUID()), p.Version, micros(p.Created), string(doc))
	return s.translate(err)
}

// GetPromoter implements promoter.Store.
func (s *Store) GetPromoter(ctx context.Context, id promoter.PromoterID) (*promoter.Promoter, error) {
	return getOne(ctx, s, s.q(ctx), scanPromoter, "promoter", id, "SELECT doc, version FROM {p}promoters WHERE id = ?", s.d.id(id.UUID()))
}

// UpdatePromoter implements promoter.Store: the row is locked, fn applied,
// and the row written back with the version bumped.
func (s *Store) UpdatePromoter(ctx context.Context, id promoter.PromoterID, fn func(*promoter.Promoter) error) error {
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		p, err := getOne(ctx, s, q, scanPromoter, "promoter", id, "SELECT doc, version FROM {p}promoters WHERE id = ?"+s.d.forUpdate, s.d.id(id.UUID()))
		if err != nil {
			return err
		}
		version := p.Version
		if err := fn(p); err != nil {
			return err
		}
		p.ID, p.Version = id, version+1
		doc, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}promoters SET agency_id = ?, version = ?, created_us = ?, doc = ? WHERE id = ?"),
			s.nullID(p.AgencyID.UUID()), p.Version, micros(p.Created), string(doc), s.d.id(id.UUID()))
		return err
	})
	return s.translate(err)
}

// ---- sharers ----

// BindSharer implements promoter.Store in one transaction, like TakeClaim:
// the binding is looked for first (so the common refusal does not abort a
// PostgreSQL transaction), then the merchant's counter row is made if
// absent and incremented while below max, then the binding inserted. The
// increment's row lock serializes a merchant's binds, so concurrent binds
// never pass the cap; two binds of one promoter that raced past the first
// step meet at the primary key, and the loser's increment rolls back with
// it.
func (s *Store) BindSharer(ctx context.Context, sh promoter.Sharer, limit int) error {
	m, p := s.d.id(sh.MerchantID.UUID()), s.d.id(sh.PromoterID.UUID())
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		var one int
		err := q.QueryRowContext(ctx, s.sql("SELECT 1 FROM {p}promoter_sharers WHERE merchant_id = ? AND promoter_id = ?"), m, p).Scan(&one)
		if err == nil {
			return fmt.Errorf("promoter %s is a sharer of merchant %s: %w", sh.PromoterID, sh.MerchantID, storage.ErrConflict)
		}
		if s.d.classify(err) != errNoRows {
			return err
		}
		ins := s.d.insertIgnore("{p}promoter_sharer_counts", "merchant_id, bound", "merchant_id", "bound")
		if _, err := q.ExecContext(ctx, s.sql(ins), m, 0); err != nil {
			return err
		}
		n, err := rowsAffected(q.ExecContext(ctx, s.sql("UPDATE {p}promoter_sharer_counts SET bound = bound + 1 WHERE merchant_id = ? AND bound < ?"), m, limit))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("merchant %s: %w", sh.MerchantID, promoter.ErrSharerCap)
		}
		_, err = q.ExecContext(ctx, s.sql("INSERT INTO {p}promoter_sharers (merchant_id, promoter_id, bound_us) VALUES (?, ?, ?)"), m, p, micros(sh.BoundAt))
		return err
	})
	return s.translate(err)
}

// UnbindSharer implements promoter.Store: a guarded DELETE of a binding old
// enough and the counter's decrement, in one transaction; when nothing was
// deleted, a read tells an unknown binding from a young one.
func (s *Store) UnbindSharer(ctx context.Context, merchant commerce.MerchantID, p promoter.PromoterID, boundBefore time.Time) error {
	m, pid := s.d.id(merchant.UUID()), s.d.id(p.UUID())
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		n, err := rowsAffected(q.ExecContext(ctx, s.sql("DELETE FROM {p}promoter_sharers WHERE merchant_id = ? AND promoter_id = ? AND bound_us <= ?"), m, pid, micros(boundBefore)))
		if err != nil {
			return err
		}
		if n == 1 {
			_, err = q.ExecContext(ctx, s.sql("UPDATE {p}promoter_sharer_counts SET bound = bound - 1 WHERE merchant_id = ? AND bound > 0"), m)
			return err
		}
		var bound int64
		err = q.QueryRowContext(ctx, s.sql("SELECT bound_us FROM {p}promoter_sharers WHERE merchant_id = ? AND promoter_id = ?"), m, pid).Scan(&bound)
		if s.d.classify(err) == errNoRows {
			return fmt.Errorf("sharer %s of merchant %s: %w", p, merchant, storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("sharer %s of merchant %s bound at %s: %w", p, merchant, fromMicros(bound), promoter.ErrTooSoon)
	})
	return s.translate(err)
}

// Sharers implements promoter.Store: oldest binding first, then by
// promoter ID.
func (s *Store) Sharers(ctx context.Context, merchant commerce.MerchantID) ([]promoter.Sharer, error) {
	return queryAll(ctx, s, "SELECT promoter_id, bound_us FROM {p}promoter_sharers WHERE merchant_id = ? ORDER BY bound_us, promoter_id",
		func(row scanner) (promoter.Sharer, error) {
			sh := promoter.Sharer{MerchantID: merchant}
			var bound int64
			err := row.Scan(&sh.PromoterID, &bound)
			sh.BoundAt = fromMicros(bound)
			return sh, err
		}, s.d.id(merchant.UUID()))
}

// ---- plans ----

func scanPlan(row scanner) (*promoter.Plan, error) {
	p := &promoter.Plan{}
	var version int64
	if err := scanDoc(row, "promotion plan", p, &version); err != nil {
		return nil, err
	}
	p.Version = version
	return p, nil
}

// PutPlan implements promoter.Store: an upsert that starts a new plan at
// version 1 and bumps a stored one's, then reads the version back (under
// the row lock the upsert took) into p.Version.
func (s *Store) PutPlan(ctx context.Context, p *promoter.Plan) error {
	stored := p.Clone()
	stored.Version = 0 // the column holds it
	doc, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	up := "INSERT INTO {p}promoter_plans (merchant_id, product_id, version, updated_us, doc) VALUES (?, ?, 1, ?, ?)"
	if s.d.name == MySQL {
		up += " ON DUPLICATE KEY UPDATE version = version + 1, updated_us = VALUES(updated_us), doc = VALUES(doc)"
	} else {
		up += " ON CONFLICT (merchant_id, product_id) DO UPDATE SET version = {p}promoter_plans.version + 1, updated_us = excluded.updated_us, doc = excluded.doc"
	}
	m, prod := s.d.id(p.MerchantID.UUID()), s.d.id(p.ProductID.UUID())
	var version int64
	err = s.write(ctx, func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, s.sql(up), m, prod, micros(p.Updated), string(doc)); err != nil {
			return err
		}
		return q.QueryRowContext(ctx, s.sql("SELECT version FROM {p}promoter_plans WHERE merchant_id = ? AND product_id = ?"), m, prod).Scan(&version)
	})
	if err != nil {
		return s.translate(err)
	}
	p.Version = version
	return nil
}

// Plans implements promoter.Store: by product ID.
func (s *Store) Plans(ctx context.Context, merchant commerce.MerchantID, products []commerce.ProductID) ([]*promoter.Plan, error) {
	if len(products) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(products)+1)
	args = append(args, s.d.id(merchant.UUID()))
	for _, id := range products {
		args = append(args, s.d.id(id.UUID()))
	}
	return queryAll(ctx, s, "SELECT doc, version FROM {p}promoter_plans WHERE merchant_id = ? AND product_id IN "+in(len(products))+" ORDER BY product_id", scanPlan, args...)
}

// ---- customer locks ----

// LockCustomer implements promoter.Store in one transaction: the lock row
// is inserted with promoter and until if absent, then read under its row
// lock (FOR UPDATE; SQLite's transactions hold the write lock from BEGIN).
// A lock that holds at now (its end after now) wins, whoever holds it;
// otherwise the row is rewritten for promoter. Concurrent callers queue on
// the row, so all of them see the one lock the first set.
func (s *Store) LockCustomer(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, p promoter.PromoterID, now, until time.Time) (promoter.PromoterID, error) {
	m, pid := s.d.id(merchant.UUID()), s.d.id(p.UUID())
	var out promoter.PromoterID
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		ins := s.d.insertIgnore("{p}promoter_locks", "merchant_id, customer_id, promoter_id, until_us", "merchant_id, customer_id", "until_us")
		if _, err := q.ExecContext(ctx, s.sql(ins), m, string(customer), pid, micros(until)); err != nil {
			return err
		}
		var held promoter.PromoterID
		var heldUntil int64
		err := q.QueryRowContext(ctx, s.sql("SELECT promoter_id, until_us FROM {p}promoter_locks WHERE merchant_id = ? AND customer_id = ?"+s.d.forUpdate),
			m, string(customer)).Scan(&held, &heldUntil)
		if err != nil {
			return err
		}
		if heldUntil > micros(now) {
			out = held
			return nil
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}promoter_locks SET promoter_id = ?, until_us = ? WHERE merchant_id = ? AND customer_id = ?"),
			pid, micros(until), m, string(customer))
		out = p
		return err
	})
	if err != nil {
		return promoter.PromoterID{}, s.translate(err)
	}
	return out, nil
}

// ---- commissions ----

// commissionCols are the columns a commission row is read from.
const commissionCols = "doc, version, status"

func scanCommission(row scanner) (*promoter.Commission, error) {
	c := &promoter.Commission{}
	var version int64
	var status int
	if err := scanDoc(row, "commission", c, &version, &status); err != nil {
		return nil, err
	}
	c.Version, c.Status = version, promoter.Status(status)
	return c, nil
}

// maxCommissionRows is the most commission rows one INSERT writes (10
// values each).
const maxCommissionRows = 64

// InsertCommissions implements promoter.Store in one transaction. The
// order lines are looked for first, so the common conflict (a commission
// recorded again) writes nothing and leaves a PostgreSQL transaction
// usable; a race past that check meets the unique (merchant, order, line)
// index. Rows go in multi-row INSERTs of a power of two rows each, so only
// a handful of statement texts are ever prepared.
func (s *Store) InsertCommissions(ctx context.Context, cs []*promoter.Commission) error {
	if len(cs) == 0 {
		return nil
	}
	type orderKey struct {
		merchant commerce.MerchantID
		order    commerce.OrderID
	}
	lines := map[orderKey]map[int]bool{}
	ids := make(map[promoter.CommissionID]bool, len(cs))
	docs := make([]string, len(cs))
	for i, c := range cs {
		k := orderKey{c.MerchantID, c.OrderID}
		if lines[k] == nil {
			lines[k] = map[int]bool{}
		}
		if lines[k][c.Line] || ids[c.ID] {
			return fmt.Errorf("commission %s (line %d of order %s) given twice: %w", c.ID, c.Line, c.OrderID, storage.ErrConflict)
		}
		lines[k][c.Line], ids[c.ID] = true, true
		doc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		docs[i] = string(doc)
	}
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		for k, want := range lines {
			taken, err := queryAll(ctx, s, "SELECT line FROM {p}commissions WHERE merchant_id = ? AND order_id = ?",
				func(row scanner) (int, error) {
					var line int
					err := row.Scan(&line)
					return line, err
				}, s.d.id(k.merchant.UUID()), s.d.id(k.order.UUID()))
			if err != nil {
				return err
			}
			for _, line := range taken {
				if want[line] {
					return fmt.Errorf("line %d of order %s has a commission: %w", line, k.order, storage.ErrConflict)
				}
			}
		}
		for done := 0; done < len(cs); {
			rows := maxCommissionRows
			for rows > len(cs)-done {
				rows /= 2
			}
			var b strings.Builder
			b.WriteString("INSERT INTO {p}commissions (id, merchant_id, order_id, line, promoter_id, agency_id, status, created_us, version, doc) VALUES ")
			args := make([]any, 0, 10*rows)
			for i, c := range cs[done : done+rows] {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(in(10))
				args = append(args, s.d.id(c.ID.UUID()), s.d.id(c.MerchantID.UUID()), s.d.id(c.OrderID.UUID()), c.Line,
					s.d.id(c.PromoterID.UUID()), s.nullID(c.AgencyID.UUID()), int(c.Status), micros(c.Created), c.Version, docs[done+i])
			}
			if _, err := q.ExecContext(ctx, s.sql(b.String()), args...); err != nil {
				return err
			}
			done += rows
		}
		return nil
	})
	return s.translate(err)
}

// OrderCommissions implements promoter.Store.
func (s *Store) OrderCommissions(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*promoter.Commission, error) {
	return queryAll(ctx, s, "SELECT "+commissionCols+" FROM {p}commissions WHERE merchant_id = ? AND order_id = ? ORDER BY line",
		scanCommission, s.d.id(merchant.UUID()), s.d.id(order.UUID()))
}

// UpdateCommission implements promoter.Store: the row is locked, fn
// applied, and every column but the identity (ID, merchant, order, line)
// written back with the document.
func (s *Store) UpdateCommission(ctx context.Context, merchant commerce.MerchantID, id promoter.CommissionID, fn func(*promoter.Commission) error) error {
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		c, err := getOne(ctx, s, q, scanCommission, "commission", id,
			"SELECT "+commissionCols+" FROM {p}commissions WHERE id = ? AND merchant_id = ?"+s.d.forUpdate, s.d.id(id.UUID()), s.d.id(merchant.UUID()))
		if err != nil {
			return err
		}
		orig := *c
		if err := fn(c); err != nil {
			return err
		}
		c.ID, c.MerchantID, c.OrderID, c.Line = orig.ID, orig.MerchantID, orig.OrderID, orig.Line
		c.Version = orig.Version + 1
		doc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}commissions SET promoter_id = ?, agency_id = ?, status = ?, created_us = ?, version = ?, doc = ? WHERE id = ?"),
			s.d.id(c.PromoterID.UUID()), s.nullID(c.AgencyID.UUID()), int(c.Status), micros(c.Created), c.Version, string(doc), s.d.id(id.UUID()))
		return err
	})
	return s.translate(err)
}

// Commissions implements promoter.Store: a range of the (promoter_id,
// created_us) or (agency_id, created_us) index, starting at the cursor's
// creation time (read first) and past the cursor's ID at that time.
func (s *Store) Commissions(ctx context.Context, q promoter.CommissionQuery) ([]*promoter.Commission, error) {
	if q.Promoter.IsZero() == q.Agency.IsZero() {
		return nil, commerce.Invalid("promoter.commissions", "promoter", "want a promoter or an agency, not both or neither")
	}
	col, id := "promoter_id", q.Promoter.UUID()
	if q.Promoter.IsZero() {
		col, id = "agency_id", q.Agency.UUID()
	}
	query := "SELECT " + commissionCols + " FROM {p}commissions WHERE " + col + " = ? AND created_us >= ? AND created_us < ?"
	args := []any{s.d.id(id), micros(q.From), micros(q.To)}
	if !q.After.IsZero() {
		var created int64
		err := s.q(ctx).QueryRowContext(ctx, s.sql("SELECT created_us FROM {p}commissions WHERE id = ?"), s.d.id(q.After.UUID())).Scan(&created)
		if s.d.classify(err) == errNoRows {
			return nil, notFound("commission", q.After)
		}
		if err != nil {
			return nil, s.translate(err)
		}
		// The range starts at the cursor's time (the index seeks there);
		// at that very microsecond only the IDs past the cursor's count.
		args[1] = max(micros(q.From), created)
		query += " AND (created_us > ? OR id > ?)"
		args = append(args, created, s.d.id(q.After.UUID()))
	}
	query += fmt.Sprintf(" ORDER BY created_us, id LIMIT %d", commerce.PageLimit(q.Limit))
	return queryAll(ctx, s, query, scanCommission, args...)
}

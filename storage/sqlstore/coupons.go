package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
)

var _ coupons.Store = (*Store)(nil)

// Batches are a JSON document beside the columns the store filters and
// counts on. claimed is the truth for Batch.Claimed: only TakeClaim's
// guarded increment writes it, and reads overlay it on the document.
//
// Coupons keep the fields the guarded updates change (customer_id, status,
// order_id, used_at_us, reminded, version) in columns, which are the truth
// and are overlaid on the document when reading: RedeemCoupon and
// ReleaseCoupon are then single UPDATEs that leave the document alone.

// nullID is the argument of a nullable ID column: NULL for the zero ID.
func (s *Store) nullID(u uuid.UUID) any {
	if u == uuid.Nil {
		return nil
	}
	return s.d.id(u)
}

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

func nullText(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// scoped returns the arguments of a query for a merchant's rows by id:
// the merchant, then the ids.
func scoped[T interface{ UUID() uuid.UUID }](s *Store, merchant commerce.MerchantID, ids []T) []any {
	args := make([]any, 0, len(ids)+1)
	args = append(args, s.d.id(merchant.UUID()))
	for _, id := range ids {
		args = append(args, s.d.id(id.UUID()))
	}
	return args
}

// ---- batches ----

const batchCols = "doc, claimed, version"

// batchScan holds a batch row's columns (batchCols) until they are decoded.
type batchScan struct {
	doc              string
	claimed, version int64
}

func (bs *batchScan) targets() []any { return []any{&bs.doc, &bs.claimed, &bs.version} }

func (bs *batchScan) batch(s *Store) (*coupons.Batch, error) {
	b, err := s.batches.get(bs.doc, "coupon batch")
	if err != nil {
		return nil, err
	}
	b.Claimed, b.Version = bs.claimed, bs.version
	return b, nil
}

func (s *Store) scanBatch(row scanner) (*coupons.Batch, error) {
	var bs batchScan
	if err := row.Scan(bs.targets()...); err != nil {
		return nil, err
	}
	return bs.batch(s)
}

// CreateBatch implements coupons.Store.
func (s *Store) CreateBatch(ctx context.Context, b *coupons.Batch) error {
	doc, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "INSERT INTO {p}coupon_batches (id, merchant_id, status, claimed, total, per_person, version, created_us, updated_us, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.d.id(b.ID.UUID()), s.d.id(b.MerchantID.UUID()), string(b.Status), b.Claimed, b.Total, b.PerPerson, b.Version,
		micros(b.Created), micros(b.Updated), string(doc))
	return s.translate(err)
}

func (s *Store) getBatch(ctx context.Context, q querier, merchant commerce.MerchantID, id coupons.BatchID, lock string) (*coupons.Batch, error) {
	b, err := s.scanBatch(q.QueryRowContext(ctx, s.sql("SELECT "+batchCols+" FROM {p}coupon_batches WHERE id = ? AND merchant_id = ?"+lock),
		s.d.id(id.UUID()), s.d.id(merchant.UUID())))
	if s.d.classify(err) == errNoRows {
		return nil, notFound("coupon batch", id)
	}
	return b, s.translate(err)
}

func (s *Store) listBatches(ctx context.Context, query string, args ...any) ([]*coupons.Batch, error) {
	return queryAll(ctx, s, query, s.scanBatch, args...)
}

// GetBatch implements coupons.Store.
func (s *Store) GetBatch(ctx context.Context, merchant commerce.MerchantID, id coupons.BatchID) (*coupons.Batch, error) {
	return s.getBatch(ctx, s.q(ctx), merchant, id, "")
}

// GetBatches implements coupons.Store.
func (s *Store) GetBatches(ctx context.Context, merchant commerce.MerchantID, ids []coupons.BatchID) ([]*coupons.Batch, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := scoped(s, merchant, ids)
	return s.listBatches(ctx, "SELECT "+batchCols+" FROM {p}coupon_batches WHERE merchant_id = ? AND id IN "+in(len(ids)), args...)
}

// UpdateBatch implements coupons.Store: the row is locked, fn applied, and
// everything but claimed written back.
func (s *Store) UpdateBatch(ctx context.Context, merchant commerce.MerchantID, id coupons.BatchID, fn func(*coupons.Batch) error) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		b, err := s.getBatch(ctx, q, merchant, id, s.d.forUpdate)
		if err != nil {
			return err
		}
		claimed, version := b.Claimed, b.Version
		if err := fn(b); err != nil {
			return err
		}
		b.ID, b.MerchantID = id, merchant
		b.Claimed, b.Version = claimed, version+1
		doc, err := json.Marshal(b)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}coupon_batches SET status = ?, total = ?, per_person = ?, version = ?, updated_us = ?, doc = ? WHERE id = ?"),
			string(b.Status), b.Total, b.PerPerson, b.Version, micros(b.Updated), string(doc), s.d.id(id.UUID()))
		return err
	})
}

// ListBatches implements coupons.Store.
func (s *Store) ListBatches(ctx context.Context, merchant commerce.MerchantID, after coupons.BatchID, limit int) ([]*coupons.Batch, error) {
	where, args := "merchant_id = ?", []any{s.d.id(merchant.UUID())}
	if !after.IsZero() {
		where += " AND id > ?"
		args = append(args, s.d.id(after.UUID()))
	}
	return s.listBatches(ctx, fmt.Sprintf("SELECT %s FROM {p}coupon_batches WHERE %s ORDER BY id LIMIT %d", batchCols, where, commerce.PageLimit(limit)), args...)
}

// TakeClaim implements coupons.Store with two guarded increments in one
// transaction: the customer's counter (insert-if-absent, then n + 1 while
// below perPerson) and the batch's claimed (while below total). When the
// second fails the first rolls back with it. The claim row is locked before
// the batch row on every path, so claims do not deadlock each other.
func (s *Store) TakeClaim(ctx context.Context, merchant commerce.MerchantID, batch coupons.BatchID, customer commerce.CustomerID, perPerson, total int64) error {
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		m, b := s.d.id(merchant.UUID()), s.d.id(batch.UUID())
		ins := s.d.insertIgnore("{p}coupon_claims", "batch_id, customer_id, merchant_id, n", "batch_id, customer_id", "n")
		if _, err := q.ExecContext(ctx, s.sql(ins), b, string(customer), m, 0); err != nil {
			return err
		}
		inc, args := "UPDATE {p}coupon_claims SET n = n + 1 WHERE batch_id = ? AND customer_id = ?", []any{b, string(customer)}
		if perPerson > 0 {
			inc += " AND n < ?"
			args = append(args, perPerson)
		}
		n, err := rowsAffected(q.ExecContext(ctx, s.sql(inc), args...))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("coupon batch %s, customer %q: %w", batch, customer, coupons.ErrLimitReached)
		}
		n, err = rowsAffected(q.ExecContext(ctx, s.sql("UPDATE {p}coupon_batches SET claimed = claimed + 1 WHERE id = ? AND merchant_id = ? AND claimed < ?"), b, m, total))
		if err != nil {
			return err
		}
		if n == 1 {
			return nil
		}
		var one int
		err = q.QueryRowContext(ctx, s.sql("SELECT 1 FROM {p}coupon_batches WHERE id = ? AND merchant_id = ?"), b, m).Scan(&one)
		if s.d.classify(err) == errNoRows {
			return notFound("coupon batch", batch)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("coupon batch %s: %w", batch, coupons.ErrSoldOut)
	})
	return s.translate(err)
}

// ---- coupons ----

const couponCols = "doc, customer_id, status, order_id, used_at_us, reminded, version"

// couponScan holds a coupon row's columns (couponCols) until they are
// decoded.
type couponScan struct {
	doc, customer, status string
	order                 commerce.OrderID
	usedAt                sql.NullInt64
	reminded              int
	version               int64
}

func (cs *couponScan) targets() []any {
	return []any{&cs.doc, &cs.customer, &cs.status, &cs.order, &cs.usedAt, &cs.reminded, &cs.version}
}

func (cs *couponScan) coupon() (*coupons.Coupon, error) {
	c := &coupons.Coupon{}
	if err := json.Unmarshal([]byte(cs.doc), c); err != nil {
		return nil, fmt.Errorf("sqlstore: coupon document: %w", err)
	}
	c.Customer, c.Status, c.OrderID, c.Reminded, c.Version = commerce.CustomerID(cs.customer), coupons.Status(cs.status), cs.order, cs.reminded != 0, cs.version
	c.UsedAt = time.Time{}
	if cs.usedAt.Valid {
		c.UsedAt = fromMicros(cs.usedAt.Int64)
	}
	return c, nil
}

func scanCoupon(row scanner) (*coupons.Coupon, error) {
	var cs couponScan
	if err := row.Scan(cs.targets()...); err != nil {
		return nil, err
	}
	return cs.coupon()
}

// InsertCoupon implements coupons.Store. A coupon without a RequestID
// stores NULL there, which the unique (batch, customer, request) index
// does not compare: only claims that carry a request ID are idempotent.
func (s *Store) InsertCoupon(ctx context.Context, c *coupons.Coupon) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "INSERT INTO {p}coupons (id, merchant_id, batch_id, customer_id, status, valid_until_us, reminded, request_id, grp, order_id, used_at_us, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.d.id(c.ID.UUID()), s.d.id(c.MerchantID.UUID()), s.d.id(c.BatchID.UUID()), string(c.Customer), string(c.Status),
		micros(c.ValidUntil), flag(c.Reminded), nullText(c.RequestID), c.Group, s.nullID(c.OrderID.UUID()), nullMicros(c.UsedAt),
		c.Version, string(doc))
	return s.translate(err)
}

func (s *Store) getCoupon(ctx context.Context, q querier, what any, lock, where string, args ...any) (*coupons.Coupon, error) {
	c, err := scanCoupon(q.QueryRowContext(ctx, s.sql("SELECT "+couponCols+" FROM {p}coupons WHERE "+where+lock), args...))
	if s.d.classify(err) == errNoRows {
		return nil, notFound("coupon", what)
	}
	return c, s.translate(err)
}

func (s *Store) listCoupons(ctx context.Context, query string, args ...any) ([]*coupons.Coupon, error) {
	return queryAll(ctx, s, query, scanCoupon, args...)
}

// CouponByRequest implements coupons.Store.
func (s *Store) CouponByRequest(ctx context.Context, merchant commerce.MerchantID, batch coupons.BatchID, customer commerce.CustomerID, requestID string) (*coupons.Coupon, error) {
	return s.getCoupon(ctx, s.q(ctx), fmt.Sprintf("of batch %s with request %q", batch, requestID), "",
		"batch_id = ? AND customer_id = ? AND request_id = ? AND merchant_id = ?",
		s.d.id(batch.UUID()), string(customer), requestID, s.d.id(merchant.UUID()))
}

// GetCoupon implements coupons.Store.
func (s *Store) GetCoupon(ctx context.Context, merchant commerce.MerchantID, id coupons.CouponID) (*coupons.Coupon, error) {
	return s.getCoupon(ctx, s.q(ctx), id, "", "id = ? AND merchant_id = ?", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
}

// GetCoupons implements coupons.Store.
func (s *Store) GetCoupons(ctx context.Context, merchant commerce.MerchantID, ids []coupons.CouponID) ([]*coupons.Coupon, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := scoped(s, merchant, ids)
	return s.listCoupons(ctx, "SELECT "+couponCols+" FROM {p}coupons WHERE merchant_id = ? AND id IN "+in(len(ids)), args...)
}

// GetCandidates implements coupons.Store: the coupons joined with their
// batches.
func (s *Store) GetCandidates(ctx context.Context, merchant commerce.MerchantID, ids []coupons.CouponID) ([]coupons.Candidate, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := scoped(s, merchant, ids)
	return queryAll(ctx, s, candidateSelect+"WHERE c.merchant_id = ? AND c.id IN "+in(len(ids)), s.scanCandidate, args...)
}

// WalletCandidates implements coupons.Store: the customer's valid coupons
// at the merchant joined with their batches, through the customer's index.
func (s *Store) WalletCandidates(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, limit int) ([]coupons.Candidate, error) {
	return queryAll(ctx, s, fmt.Sprintf(candidateSelect+"WHERE c.customer_id = ? AND c.status = ? AND c.merchant_id = ? ORDER BY c.valid_until_us, c.id LIMIT %d", commerce.PageLimit(limit)),
		s.scanCandidate, string(customer), string(coupons.Valid), s.d.id(merchant.UUID()))
}

// candidateSelect reads coupons (c) with their batches (b).
const candidateSelect = "SELECT c.doc, c.customer_id, c.status, c.order_id, c.used_at_us, c.reminded, c.version, b.doc, b.claimed, b.version" +
	" FROM {p}coupons c JOIN {p}coupon_batches b ON b.id = c.batch_id AND b.merchant_id = c.merchant_id "

func (s *Store) scanCandidate(row scanner) (coupons.Candidate, error) {
	var cs couponScan
	var bs batchScan
	if err := row.Scan(append(cs.targets(), bs.targets()...)...); err != nil {
		return coupons.Candidate{}, err
	}
	c, err := cs.coupon()
	if err != nil {
		return coupons.Candidate{}, err
	}
	b, err := bs.batch(s)
	return coupons.Candidate{Coupon: c, Batch: b}, err
}

// UpdateCoupon implements coupons.Store: the row is locked, fn applied, and
// every column and the document written back.
func (s *Store) UpdateCoupon(ctx context.Context, merchant commerce.MerchantID, id coupons.CouponID, fn func(*coupons.Coupon) error) error {
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		c, err := s.getCoupon(ctx, q, id, s.d.forUpdate, "id = ? AND merchant_id = ?", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
		if err != nil {
			return err
		}
		orig := *c
		if err := fn(c); err != nil {
			return err
		}
		c.ID, c.MerchantID, c.BatchID = orig.ID, orig.MerchantID, orig.BatchID
		c.Version = orig.Version + 1
		doc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}coupons SET customer_id = ?, status = ?, valid_until_us = ?, reminded = ?, request_id = ?, grp = ?, order_id = ?, used_at_us = ?, version = ?, doc = ? WHERE id = ?"),
			string(c.Customer), string(c.Status), micros(c.ValidUntil), flag(c.Reminded), nullText(c.RequestID), c.Group,
			s.nullID(c.OrderID.UUID()), nullMicros(c.UsedAt), c.Version, string(doc), s.d.id(id.UUID()))
		return err
	})
	return s.translate(err) // a changed request ID may collide: ErrConflict
}

// CustomerCoupons implements coupons.Store.
func (s *Store) CustomerCoupons(ctx context.Context, customer commerce.CustomerID, status coupons.Status, limit int) ([]*coupons.Coupon, error) {
	where, args := "customer_id = ?", []any{string(customer)}
	if status != "" {
		where += " AND status = ?"
		args = append(args, string(status))
	}
	return s.listCoupons(ctx, fmt.Sprintf("SELECT %s FROM {p}coupons WHERE %s ORDER BY valid_until_us, id LIMIT %d", couponCols, where, commerce.PageLimit(limit)), args...)
}

// CountGroupCoupons implements coupons.Store.
func (s *Store) CountGroupCoupons(ctx context.Context, merchant commerce.MerchantID, batch coupons.BatchID, customer commerce.CustomerID, group string) (int, error) {
	var n int
	err := s.q(ctx).QueryRowContext(ctx, s.sql("SELECT COUNT(*) FROM {p}coupons WHERE batch_id = ? AND customer_id = ? AND grp = ? AND merchant_id = ?"),
		s.d.id(batch.UUID()), string(customer), group, s.d.id(merchant.UUID())).Scan(&n)
	return n, s.translate(err)
}

// DueCoupons implements coupons.Store.
func (s *Store) DueCoupons(ctx context.Context, before time.Time, unreminded bool, limit int) ([]*coupons.Coupon, error) {
	where := "status = ? AND valid_until_us <= ?"
	if unreminded {
		where += " AND reminded = 0"
	}
	return s.listCoupons(ctx, fmt.Sprintf("SELECT %s FROM {p}coupons WHERE %s ORDER BY valid_until_us, id LIMIT %d", couponCols, where, commerce.PageLimit(limit)),
		string(coupons.Valid), micros(before))
}

// LockValidCoupons implements coupons.Store. The status and customer are in
// the WHERE clause so that a row redeemed while this statement waited for
// its lock is left out, and left unlocked: PostgreSQL re-checks the clause
// on the row's new version, and InnoDB under READ COMMITTED evaluates it on
// the latest committed version and releases the lock of a row that fails
// it. Rows are locked in id order, so two checkouts locking overlapping
// sets wait for each other rather than deadlock. SQLite's transactions are
// serializable, so there the plain read is enough.
func (s *Store) LockValidCoupons(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, ids []coupons.CouponID) ([]*coupons.Coupon, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(ids)+3)
	args = append(args, s.d.id(merchant.UUID()), string(customer), string(coupons.Valid))
	for _, id := range ids {
		args = append(args, s.d.id(id.UUID()))
	}
	return s.listCoupons(ctx, "SELECT "+couponCols+" FROM {p}coupons WHERE merchant_id = ? AND customer_id = ? AND status = ? AND id IN "+in(len(ids))+" ORDER BY id"+s.d.forUpdate, args...)
}

// RedeemCoupon implements coupons.Store: the guarded UPDATE decides; the
// follow-up read only tells an unknown coupon from an unavailable one.
func (s *Store) RedeemCoupon(ctx context.Context, merchant commerce.MerchantID, id coupons.CouponID, customer commerce.CustomerID, order commerce.OrderID, at time.Time) error {
	cid, m := s.d.id(id.UUID()), s.d.id(merchant.UUID())
	n, err := rowsAffected(s.exec(ctx, "UPDATE {p}coupons SET status = ?, order_id = ?, used_at_us = ?, version = version + 1 WHERE id = ? AND merchant_id = ? AND customer_id = ? AND status = ?",
		string(coupons.Used), s.nullID(order.UUID()), micros(at), cid, m, string(customer), string(coupons.Valid)))
	if err != nil {
		return s.translate(err)
	}
	if n == 1 {
		return nil
	}
	var one int
	err = s.q(ctx).QueryRowContext(ctx, s.sql("SELECT 1 FROM {p}coupons WHERE id = ? AND merchant_id = ?"), cid, m).Scan(&one)
	if s.d.classify(err) == errNoRows {
		return notFound("coupon", id)
	}
	if err != nil {
		return s.translate(err)
	}
	return fmt.Errorf("coupon %s: %w", id, coupons.ErrCouponUnavailable)
}

// ReleaseCoupon implements coupons.Store.
func (s *Store) ReleaseCoupon(ctx context.Context, merchant commerce.MerchantID, id coupons.CouponID, order commerce.OrderID) (bool, error) {
	n, err := rowsAffected(s.exec(ctx, "UPDATE {p}coupons SET status = ?, order_id = NULL, used_at_us = NULL, version = version + 1 WHERE id = ? AND merchant_id = ? AND status = ? AND order_id = ?",
		string(coupons.Valid), s.d.id(id.UUID()), s.d.id(merchant.UUID()), string(coupons.Used), s.d.id(order.UUID())))
	if err != nil {
		return false, s.translate(err)
	}
	return n == 1, nil
}

// ---- codes ----

// codesPerInsert is how many codes one multi-row INSERT carries; the
// remainder goes one row at a time, so only two statements are prepared.
const codesPerInsert = 100

// InsertCodes implements coupons.Store.
func (s *Store) InsertCodes(ctx context.Context, codes []coupons.Code) error {
	const insert = "INSERT INTO {p}coupon_codes (code, merchant_id, batch_id, coupon_id) VALUES "
	row := "(?, ?, ?, ?)"
	many := insert + strings.TrimSuffix(strings.Repeat(row+", ", codesPerInsert), ", ")
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		for len(codes) > 0 {
			chunk, query := codes[:1], insert+row
			if len(codes) >= codesPerInsert {
				chunk, query = codes[:codesPerInsert], many
			}
			args := make([]any, 0, 4*len(chunk))
			for _, c := range chunk {
				args = append(args, c.Code, s.d.id(c.MerchantID.UUID()), s.d.id(c.BatchID.UUID()), s.nullID(c.CouponID.UUID()))
			}
			if _, err := q.ExecContext(ctx, s.sql(query), args...); err != nil {
				return err
			}
			codes = codes[len(chunk):]
		}
		return nil
	})
	return s.translate(err) // a duplicate code: ErrConflict, in a host's transaction too
}

// TakeCode implements coupons.Store: the guarded UPDATE decides; the read
// after it returns the row, or tells a used code from an unknown one.
func (s *Store) TakeCode(ctx context.Context, code string, coupon coupons.CouponID) (*coupons.Code, error) {
	var out *coupons.Code
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		n, err := rowsAffected(q.ExecContext(ctx, s.sql("UPDATE {p}coupon_codes SET coupon_id = ? WHERE code = ? AND coupon_id IS NULL"),
			s.d.id(coupon.UUID()), code))
		if err != nil {
			return err
		}
		c := &coupons.Code{}
		err = q.QueryRowContext(ctx, s.sql("SELECT code, merchant_id, batch_id, coupon_id FROM {p}coupon_codes WHERE code = ?"), code).
			Scan(&c.Code, &c.MerchantID, &c.BatchID, &c.CouponID)
		if s.d.classify(err) == errNoRows {
			return notFound("coupon code", fmt.Sprintf("%q", code))
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("coupon code %q: %w", code, coupons.ErrCodeUsed)
		}
		out = c
		return nil
	})
	return out, s.translate(err)
}

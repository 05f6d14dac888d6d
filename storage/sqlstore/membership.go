package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/membership"
)

var _ membership.Store = (*Store)(nil)

// Programs are a JSON document beside next_number, the truth for
// Program.NextNumber: only TakeMemberNumber's guarded increment writes it,
// and reads overlay it (and version) on the document.
//
// Members, lots and entries are columns throughout (an entry's burns and
// note aside), so every guarded update and every listing works on columns.

// ---- programs ----

// PutProgram implements membership.Store: an upsert that writes the
// document, version and update time and leaves next_number alone once the
// row exists. A new row starts at the program's NextNumber, at least 1.
func (s *Store) PutProgram(ctx context.Context, p *membership.Program) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	q := "INSERT INTO {p}member_programs (merchant_id, next_number, version, updated_us, doc) VALUES (?, ?, ?, ?, ?)"
	if s.d.name == MySQL {
		q += " ON DUPLICATE KEY UPDATE version = VALUES(version), updated_us = VALUES(updated_us), doc = VALUES(doc)"
	} else {
		q += " ON CONFLICT (merchant_id) DO UPDATE SET version = excluded.version, updated_us = excluded.updated_us, doc = excluded.doc"
	}
	_, err = s.exec(ctx, q, s.d.id(p.MerchantID.UUID()), max(1, p.NextNumber), p.Version, micros(p.Updated), string(doc))
	return s.translate(err)
}

// GetProgram implements membership.Store.
func (s *Store) GetProgram(ctx context.Context, merchant commerce.MerchantID) (*membership.Program, error) {
	var doc string
	var next, version int64
	err := s.q(ctx).QueryRowContext(ctx, s.sql("SELECT doc, next_number, version FROM {p}member_programs WHERE merchant_id = ?"),
		s.d.id(merchant.UUID())).Scan(&doc, &next, &version)
	if s.d.classify(err) == errNoRows {
		return nil, notFound("membership program of merchant", merchant)
	}
	if err != nil {
		return nil, s.translate(err)
	}
	p, err := s.programs.get(doc, "membership program")
	if err != nil {
		return nil, err
	}
	p.MerchantID, p.NextNumber, p.Version = merchant, next, version
	return p, nil
}

// TakeMemberNumber implements membership.Store: one guarded increment, read
// back in the same transaction under the row lock it took.
func (s *Store) TakeMemberNumber(ctx context.Context, merchant commerce.MerchantID) (int64, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		m := s.d.id(merchant.UUID())
		affected, err := rowsAffected(q.ExecContext(ctx, s.sql("UPDATE {p}member_programs SET next_number = next_number + 1 WHERE merchant_id = ?"), m))
		if err != nil {
			return err
		}
		if affected == 0 {
			return notFound("membership program of merchant", merchant)
		}
		err = q.QueryRowContext(ctx, s.sql("SELECT next_number FROM {p}member_programs WHERE merchant_id = ?"), m).Scan(&n)
		n-- // the number taken is the one before the increment
		return err
	})
	return n, s.translate(err)
}

// ---- members ----

const memberCols = "merchant_id, customer_id, number, level, experience, available, pending, debt, next_review_us, review_exp, version, joined_us, updated_us"

func scanMember(row scanner) (*membership.Member, error) {
	m := &membership.Member{}
	var customer string
	var joined, updated int64
	var review sql.NullInt64
	if err := row.Scan(&m.MerchantID, &customer, &m.Number, &m.Level, &m.Experience, &m.Available, &m.Pending, &m.Debt,
		&review, &m.ReviewExperience, &m.Version, &joined, &updated); err != nil {
		return nil, err
	}
	m.Customer, m.JoinedAt, m.Updated = commerce.CustomerID(customer), fromMicros(joined), fromMicros(updated)
	if review.Valid {
		m.NextReview = fromMicros(review.Int64)
	}
	return m, nil
}

// CreateMember implements membership.Store.
func (s *Store) CreateMember(ctx context.Context, m *membership.Member) error {
	_, err := s.exec(ctx, "INSERT INTO {p}members ("+memberCols+") VALUES "+in(13),
		s.d.id(m.MerchantID.UUID()), string(m.Customer), m.Number, m.Level, m.Experience, m.Available, m.Pending, m.Debt,
		nullMicros(m.NextReview), m.ReviewExperience, m.Version, micros(m.JoinedAt), micros(m.Updated))
	return s.translate(err) // the customer is a member already: ErrConflict
}

func (s *Store) getMember(ctx context.Context, q querier, merchant commerce.MerchantID, customer commerce.CustomerID, lock string) (*membership.Member, error) {
	m, err := scanMember(q.QueryRowContext(ctx, s.sql("SELECT "+memberCols+" FROM {p}members WHERE merchant_id = ? AND customer_id = ?"+lock),
		s.d.id(merchant.UUID()), string(customer)))
	if s.d.classify(err) == errNoRows {
		return nil, notFound("member", fmt.Sprintf("%q of merchant %s", customer, merchant))
	}
	return m, s.translate(err)
}

// GetMember implements membership.Store.
func (s *Store) GetMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*membership.Member, error) {
	return s.getMember(ctx, s.q(ctx), merchant, customer, "")
}

// UpdateMember implements membership.Store: the row is locked, fn applied,
// and every column but the key and the number written back.
func (s *Store) UpdateMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, fn func(*membership.Member) error) error {
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		m, err := s.getMember(ctx, q, merchant, customer, s.d.forUpdate)
		if err != nil {
			return err
		}
		orig := *m
		if err := fn(m); err != nil {
			return err
		}
		m.MerchantID, m.Customer, m.Number = orig.MerchantID, orig.Customer, orig.Number
		m.Version = orig.Version + 1
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}members SET level = ?, experience = ?, available = ?, pending = ?, debt = ?, next_review_us = ?, review_exp = ?, version = ?, joined_us = ?, updated_us = ? WHERE merchant_id = ? AND customer_id = ?"),
			m.Level, m.Experience, m.Available, m.Pending, m.Debt, nullMicros(m.NextReview), m.ReviewExperience, m.Version,
			micros(m.JoinedAt), micros(m.Updated), s.d.id(merchant.UUID()), string(customer))
		return err
	})
	return s.translate(err)
}

// ProgramAndMember implements membership.Store: the program row joined
// with the member's, whose columns come back zero (customer ”) when the
// customer is not a member; with lots, the member's open lots follow in
// the same statement (UNION ALL: a row of kind 1 per lot, its program and
// member columns zero, after the program's row of kind 0 whose lot
// columns are zero).
func (s *Store) ProgramAndMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, lots bool) (*membership.Program, *membership.Member, []*membership.Lot, error) {
	query := "SELECT 0 AS k, p.doc, p.next_number, p.version, " +
		"COALESCE(m.customer_id, ''), COALESCE(m.number, 0), COALESCE(m.level, 0), COALESCE(m.experience, 0), COALESCE(m.available, 0), " +
		"COALESCE(m.pending, 0), COALESCE(m.debt, 0), m.next_review_us, COALESCE(m.review_exp, 0), COALESCE(m.version, 0), " +
		"COALESCE(m.joined_us, 0), COALESCE(m.updated_us, 0)"
	args := []any{string(customer), s.d.id(merchant.UUID())}
	if lots {
		query += ", NULL AS lid, NULL, '', NULL, 0, 0, 0, NULL AS lexp, 0, 0, 0 AS lcreated, 0 AS never"
	}
	query += " FROM {p}member_programs p LEFT JOIN {p}members m ON m.merchant_id = p.merchant_id AND m.customer_id = ? WHERE p.merchant_id = ?"
	if lots {
		query += " UNION ALL SELECT 1, '', 0, 0, '', 0, 0, 0, 0, 0, 0, NULL, 0, 0, 0, 0, " + lotCols +
			", CASE WHEN expires_us IS NULL THEN 1 ELSE 0 END FROM {p}member_lots" +
			" WHERE merchant_id = ? AND customer_id = ? AND left_points > 0 AND pending = 0 AND expired = 0" +
			" ORDER BY k, never, lexp, lcreated, lid"
		args = append(args, s.d.id(merchant.UUID()), string(customer))
	}
	rows, err := s.q(ctx).QueryContext(ctx, s.sql(query), args...)
	if err != nil {
		return nil, nil, nil, s.translate(err)
	}
	defer rows.Close()
	var p *membership.Program
	var m *membership.Member
	var open []*membership.Lot
	if lots {
		open = []*membership.Lot{}
	}
	for rows.Next() {
		var k int
		var doc, cust string
		var next, version, joined, updated int64
		var review sql.NullInt64
		mm := &membership.Member{}
		dest := []any{&k, &doc, &next, &version,
			&cust, &mm.Number, &mm.Level, &mm.Experience, &mm.Available, &mm.Pending, &mm.Debt, &review, &mm.ReviewExperience, &mm.Version, &joined, &updated}
		l := &membership.Lot{}
		var lcust string
		var pending, expired, reminded, never int
		var expires sql.NullInt64
		var created int64
		if lots {
			dest = append(dest, &l.ID, &l.MerchantID, &lcust, &l.OrderID, &l.Points, &l.Left, &pending, &expires, &expired, &reminded, &created, &never)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, nil, s.translate(err)
		}
		if k == 1 {
			l.Customer, l.Pending, l.Expired, l.Reminded, l.Created = commerce.CustomerID(lcust), pending != 0, expired != 0, reminded != 0, fromMicros(created)
			if expires.Valid {
				l.ExpiresAt = fromMicros(expires.Int64)
			}
			open = append(open, l)
			continue
		}
		if p, err = s.programs.get(doc, "membership program"); err != nil {
			return nil, nil, nil, err
		}
		p.MerchantID, p.NextNumber, p.Version = merchant, next, version
		if cust != "" {
			mm.MerchantID, mm.Customer, mm.JoinedAt, mm.Updated = merchant, commerce.CustomerID(cust), fromMicros(joined), fromMicros(updated)
			if review.Valid {
				mm.NextReview = fromMicros(review.Int64)
			}
			m = mm
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, nil, s.translate(err)
	}
	if p == nil {
		return nil, nil, nil, notFound("membership program of merchant", merchant)
	}
	return p, m, open, nil
}

// SaveMember implements membership.Store: UpdateMember's write, guarded by
// the version m was read at.
func (s *Store) SaveMember(ctx context.Context, m *membership.Member) (bool, error) {
	n, err := rowsAffected(s.exec(ctx, "UPDATE {p}members SET level = ?, experience = ?, available = ?, pending = ?, debt = ?, next_review_us = ?, review_exp = ?, version = ?, joined_us = ?, updated_us = ? WHERE merchant_id = ? AND customer_id = ? AND version = ?",
		m.Level, m.Experience, m.Available, m.Pending, m.Debt, nullMicros(m.NextReview), m.ReviewExperience, m.Version+1,
		micros(m.JoinedAt), micros(m.Updated), s.d.id(m.MerchantID.UUID()), string(m.Customer), m.Version))
	if err != nil || n == 0 {
		return false, s.translate(err)
	}
	m.Version++
	return true, nil
}

// DueReviews implements membership.Store.
func (s *Store) DueReviews(ctx context.Context, before time.Time, limit int) ([]*membership.Member, error) {
	return queryAll(ctx, s, fmt.Sprintf("SELECT %s FROM {p}members WHERE next_review_us IS NOT NULL AND next_review_us <= ? ORDER BY next_review_us, merchant_id, customer_id LIMIT %d", memberCols, commerce.PageLimit(limit)),
		scanMember, micros(before))
}

// ListMembers implements membership.Store.
func (s *Store) ListMembers(ctx context.Context, merchant commerce.MerchantID, after commerce.CustomerID, limit int) ([]*membership.Member, error) {
	return queryAll(ctx, s, fmt.Sprintf("SELECT %s FROM {p}members WHERE merchant_id = ? AND customer_id > ? ORDER BY customer_id LIMIT %d", memberCols, commerce.PageLimit(limit)),
		scanMember, s.d.id(merchant.UUID()), string(after))
}

// ---- lots ----

const lotCols = "id, merchant_id, customer_id, order_id, points, left_points, pending, expires_us, expired, reminded, created_us"

// lotOrder is MemberLots' order: earliest expiry first, lots that never
// expire (NULL, which the dialects sort apart) last, then oldest first.
const lotOrder = " ORDER BY CASE WHEN expires_us IS NULL THEN 1 ELSE 0 END, expires_us, created_us, id"

func scanLot(row scanner) (*membership.Lot, error) {
	l := &membership.Lot{}
	var customer string
	var pending, expired, reminded int
	var expires sql.NullInt64
	var created int64
	if err := row.Scan(&l.ID, &l.MerchantID, &customer, &l.OrderID, &l.Points, &l.Left, &pending, &expires, &expired, &reminded, &created); err != nil {
		return nil, err
	}
	l.Customer, l.Pending, l.Expired, l.Reminded, l.Created = commerce.CustomerID(customer), pending != 0, expired != 0, reminded != 0, fromMicros(created)
	if expires.Valid {
		l.ExpiresAt = fromMicros(expires.Int64)
	}
	return l, nil
}

func (s *Store) listLots(ctx context.Context, query string, args ...any) ([]*membership.Lot, error) {
	return queryAll(ctx, s, query, scanLot, args...)
}

// InsertLot implements membership.Store.
func (s *Store) InsertLot(ctx context.Context, l *membership.Lot) error {
	st := statement{"INSERT INTO {p}member_lots (" + lotCols + ") VALUES " + in(11),
		[]any{s.d.id(l.ID.UUID()), s.d.id(l.MerchantID.UUID()), string(l.Customer), s.nullID(l.OrderID.UUID()), l.Points, l.Left,
			flag(l.Pending), nullMicros(l.ExpiresAt), flag(l.Expired), flag(l.Reminded), micros(l.Created)}}
	if s.writeLater(ctx, st, func(int64) error { return nil }) {
		return nil
	}
	_, err := s.exec(ctx, st.query, st.args...)
	return s.translate(err)
}

// SaveLots implements membership.Store: one UPDATE per lot, in one
// transaction. MySQL counts only changed rows, so a lot saved unchanged is
// told from an unknown one by a read.
func (s *Store) SaveLots(ctx context.Context, lots ...*membership.Lot) error {
	if len(lots) == 0 {
		return nil
	}
	// One UPDATE for the lots of one merchant (a spend burns several);
	// the same lot twice is saved as it was given last.
	byID := make(map[membership.LotID]int, len(lots))
	var uniq []*membership.Lot
	for _, l := range lots {
		if k, ok := byID[l.ID]; ok {
			uniq[k] = l
			continue
		}
		byID[l.ID] = len(uniq)
		uniq = append(uniq, l)
	}
	for _, l := range uniq[1:] {
		if l.MerchantID != uniq[0].MerchantID {
			return s.write(ctx, func(ctx context.Context, _ querier) error {
				for _, l := range uniq {
					if err := s.SaveLots(ctx, l); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	st := s.lotsUpdate(uniq)
	n := int64(len(uniq))
	// PostgreSQL counts the rows matched: fewer is an unknown lot.
	if s.writeLater(ctx, st, func(got int64) error {
		if got < n {
			return notFound("points lot", fmt.Sprintf("among %d saved", n))
		}
		return nil
	}) {
		return nil
	}
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		got, err := rowsAffected(q.ExecContext(ctx, s.sql(st.query), st.args...))
		if err != nil || got == n {
			return err
		}
		// MySQL counts only the rows it changed: a lot saved unchanged is
		// told from an unknown one by a read.
		ids := make([]membership.LotID, len(uniq))
		for i, l := range uniq {
			ids[i] = l.ID
		}
		found, err := queryAll(ctx, s, "SELECT id FROM {p}member_lots WHERE merchant_id = ? AND id IN "+in(len(ids)),
			func(row scanner) (membership.LotID, error) {
				var id membership.LotID
				return id, row.Scan(&id)
			}, scoped(s, uniq[0].MerchantID, ids)...)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !slices.Contains(found, id) {
				return notFound("points lot", id)
			}
		}
		return nil
	})
	return s.translate(err)
}

// lotsUpdate is SaveLots' statement for lots of one merchant, each column
// set per lot by a CASE on the id.
func (s *Store) lotsUpdate(lots []*membership.Lot) statement {
	n := len(lots)
	var b strings.Builder
	var args []any
	b.WriteString("UPDATE {p}member_lots SET ")
	cols := []struct {
		name  string
		value func(*membership.Lot) any
	}{
		{"left_points", func(l *membership.Lot) any { return l.Left }},
		{"pending", func(l *membership.Lot) any { return flag(l.Pending) }},
		{"expired", func(l *membership.Lot) any { return flag(l.Expired) }},
		{"reminded", func(l *membership.Lot) any { return flag(l.Reminded) }},
		{"expires_us", func(l *membership.Lot) any { return nullMicros(l.ExpiresAt) }},
	}
	for k, c := range cols {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name + " = CASE id")
		for _, l := range lots {
			b.WriteString(" WHEN ? THEN " + s.d.intArg)
			args = append(args, s.d.id(l.ID.UUID()), c.value(l))
		}
		b.WriteString(" END")
	}
	b.WriteString(" WHERE merchant_id = ? AND id IN " + in(n))
	args = append(args, s.d.id(lots[0].MerchantID.UUID()))
	for _, l := range lots {
		args = append(args, s.d.id(l.ID.UUID()))
	}
	return statement{b.String(), args}
}

// MemberLots implements membership.Store.
func (s *Store) MemberLots(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, open bool) ([]*membership.Lot, error) {
	where := "merchant_id = ? AND customer_id = ?"
	if open {
		where += " AND left_points > 0 AND pending = 0 AND expired = 0"
	}
	return s.listLots(ctx, "SELECT "+lotCols+" FROM {p}member_lots WHERE "+where+lotOrder, s.d.id(merchant.UUID()), string(customer))
}

// OrderLots implements membership.Store.
func (s *Store) OrderLots(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, also ...membership.LotID) ([]*membership.Lot, error) {
	args := []any{s.d.id(merchant.UUID()), s.d.id(order.UUID())}
	where := "order_id = ?"
	if len(also) > 0 {
		where = "(order_id = ? OR id IN " + in(len(also)) + ")"
		for _, id := range also {
			args = append(args, s.d.id(id.UUID()))
		}
	}
	return s.listLots(ctx, "SELECT "+lotCols+" FROM {p}member_lots WHERE merchant_id = ? AND "+where+lotOrder, args...)
}

// DueLots implements membership.Store.
func (s *Store) DueLots(ctx context.Context, before time.Time, unreminded bool, limit int) ([]*membership.Lot, error) {
	cond := ""
	if unreminded {
		cond = " AND reminded = 0"
	}
	return s.listLots(ctx, fmt.Sprintf("SELECT %s FROM {p}member_lots WHERE expired = 0 AND pending = 0 AND expires_us IS NOT NULL AND expires_us <= ? AND left_points > 0%s ORDER BY expires_us, id LIMIT %d",
		lotCols, cond, commerce.PageLimit(limit)), micros(before))
}

// ---- entries ----

const entryCols = "id, merchant_id, customer_id, kind, points, pending_points, balance, request_id, order_id, time_us, doc"

// entryDoc is what an entry keeps outside its columns.
type entryDoc struct {
	Burns []membership.Burn `json:",omitempty"`
	Note  string            `json:",omitempty"`
}

func scanEntry(row scanner) (*membership.Entry, error) {
	e := &membership.Entry{}
	var customer, kind, doc string
	var request sql.NullString
	var t int64
	if err := row.Scan(&e.ID, &e.MerchantID, &customer, &kind, &e.Points, &e.PendingPoints, &e.Balance, &request, &e.OrderID, &t, &doc); err != nil {
		return nil, err
	}
	var d entryDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("sqlstore: points entry document: %w", err)
	}
	e.Customer, e.Kind, e.RequestID, e.Time = commerce.CustomerID(customer), membership.EntryKind(kind), request.String, fromMicros(t)
	e.Burns, e.Note = d.Burns, d.Note
	return e, nil
}

func (s *Store) listEntries(ctx context.Context, query string, args ...any) ([]*membership.Entry, error) {
	return queryAll(ctx, s, query, scanEntry, args...)
}

// AppendEntry implements membership.Store. An entry without a RequestID
// stores NULL there, which the unique (merchant, customer, request) index
// does not compare.
func (s *Store) AppendEntry(ctx context.Context, es ...*membership.Entry) error {
	if len(es) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO {p}member_entries (" + entryCols + ") VALUES ")
	args := make([]any, 0, 11*len(es))
	for i, e := range es {
		doc, err := json.Marshal(entryDoc{Burns: e.Burns, Note: e.Note})
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(in(11))
		args = append(args, s.d.id(e.ID.UUID()), s.d.id(e.MerchantID.UUID()), string(e.Customer), string(e.Kind), e.Points, e.PendingPoints, e.Balance,
			nullText(e.RequestID), s.nullID(e.OrderID.UUID()), micros(e.Time), string(doc))
	}
	st := statement{b.String(), args}
	if s.writeLater(ctx, st, func(int64) error { return nil }) {
		return nil
	}
	_, err := s.exec(ctx, st.query, st.args...)
	return s.translate(err) // a reused request ID: ErrConflict
}

// EntryByRequest implements membership.Store.
func (s *Store) EntryByRequest(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, requestID string) (*membership.Entry, error) {
	e, err := scanEntry(s.q(ctx).QueryRowContext(ctx, s.sql("SELECT "+entryCols+" FROM {p}member_entries WHERE merchant_id = ? AND customer_id = ? AND request_id = ?"),
		s.d.id(merchant.UUID()), string(customer), requestID))
	if s.d.classify(err) == errNoRows {
		return nil, notFound("points entry", fmt.Sprintf("of %q with request %q", customer, requestID))
	}
	return e, s.translate(err)
}

// Entries implements membership.Store.
func (s *Store) Entries(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, after membership.EntryID, limit int) ([]*membership.Entry, error) {
	where, args := "merchant_id = ? AND customer_id = ?", []any{s.d.id(merchant.UUID()), string(customer)}
	if !after.IsZero() {
		where += " AND id > ?"
		args = append(args, s.d.id(after.UUID()))
	}
	return s.listEntries(ctx, fmt.Sprintf("SELECT %s FROM {p}member_entries WHERE %s ORDER BY id LIMIT %d", entryCols, where, commerce.PageLimit(limit)), args...)
}

// OrderEntries implements membership.Store.
func (s *Store) OrderEntries(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*membership.Entry, error) {
	return s.listEntries(ctx, "SELECT "+entryCols+" FROM {p}member_entries WHERE merchant_id = ? AND order_id = ? ORDER BY id",
		s.d.id(merchant.UUID()), s.d.id(order.UUID()))
}

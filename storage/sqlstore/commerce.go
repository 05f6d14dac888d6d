package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

var _ commerce.Store = (*Store)(nil)

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func notFound(what string, id any) error {
	return fmt.Errorf("%s %v: %w", what, id, storage.ErrNotFound)
}

// in returns "(?, ?, ...)" for n values.
func in(n int) string { return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")" }

func (s *Store) ids(us []uuid.UUID) []any {
	args := make([]any, len(us))
	for i, u := range us {
		args[i] = s.d.id(u)
	}
	return args
}

// merchantDoc is the JSON part of a merchant row.
type merchantDoc struct {
	Profile  commerce.ShopProfile
	Shipping commerce.ShippingRule
}

// CreateMerchant implements commerce.Store.
func (s *Store) CreateMerchant(ctx context.Context, m *commerce.Merchant) error {
	doc, err := json.Marshal(merchantDoc{m.Profile, m.Shipping})
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "INSERT INTO {p}merchants (id, currency, doc, created_us, updated_us) VALUES (?, ?, ?, ?, ?)",
		s.d.id(m.ID.UUID()), m.Currency.String(), string(doc), micros(m.Created), micros(m.Updated))
	return s.translate(err)
}

func (s *Store) getMerchant(ctx context.Context, q querier, id commerce.MerchantID, lock string) (*commerce.Merchant, error) {
	var cur, doc string
	var created, updated int64
	err := q.QueryRowContext(ctx, s.sql("SELECT currency, doc, created_us, updated_us FROM {p}merchants WHERE id = ?"+lock),
		s.d.id(id.UUID())).Scan(&cur, &doc, &created, &updated)
	if s.d.classify(err) == errNoRows {
		return nil, notFound("merchant", id)
	}
	if err != nil {
		return nil, s.translate(err)
	}
	return merchantFrom(id, cur, doc, created, updated)
}

func merchantFrom(id commerce.MerchantID, cur, doc string, created, updated int64) (*commerce.Merchant, error) {
	m := &commerce.Merchant{ID: id, Created: fromMicros(created), Updated: fromMicros(updated)}
	var err error
	if m.Currency, err = commerce.ParseCurrency(cur); err != nil {
		return nil, err
	}
	var d merchantDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("sqlstore: merchant %s: %w", id, err)
	}
	m.Profile, m.Shipping = d.Profile, d.Shipping
	return m, nil
}

// MerchantProducts implements commerce.CatalogReader: the merchant and the
// products of skus in one statement, the merchant row outer-joined so an
// unknown merchant and a merchant without those SKUs stay apart.
func (s *Store) MerchantProducts(ctx context.Context, merchant commerce.MerchantID, skus []commerce.SKUID) (*commerce.Merchant, []*commerce.Product, error) {
	if len(skus) == 0 {
		m, err := s.GetMerchant(ctx, merchant)
		return m, nil, err
	}
	args := make([]any, 0, len(skus)+1)
	for _, id := range skus {
		args = append(args, s.d.id(id.UUID()))
	}
	args = append(args, s.d.id(merchant.UUID()))
	rows, err := s.q(ctx).QueryContext(ctx, s.sql("SELECT m.currency, m.doc, m.created_us, m.updated_us, "+joinedProductCols+
		" FROM {p}merchants m LEFT JOIN {p}products p ON p.merchant_id = m.id AND p.id IN (SELECT product_id FROM {p}skus WHERE id IN "+in(len(skus))+")"+
		" LEFT JOIN {p}skus s ON s.product_id = p.id WHERE m.id = ? ORDER BY p.id, s.position"), args...)
	if err != nil {
		return nil, nil, s.translate(err)
	}
	defer rows.Close()
	var m *commerce.Merchant
	var out []*commerce.Product
	var cur *commerce.Product
	for rows.Next() {
		var mcur, mdoc string
		var mcreated, mupdated int64
		var n nullProduct
		if err := rows.Scan(append([]any{&mcur, &mdoc, &mcreated, &mupdated}, n.targets()...)...); err != nil {
			return nil, nil, err
		}
		if m == nil {
			if m, err = merchantFrom(merchant, mcur, mdoc, mcreated, mupdated); err != nil {
				return nil, nil, err
			}
		}
		if n.id.IsZero() {
			continue // the merchant has none of these SKUs
		}
		ps, ss := n.scans()
		if cur == nil || cur.ID != n.id {
			if cur, err = ps.product(); err != nil {
				return nil, nil, err
			}
			out = append(out, cur)
		}
		sku, err := ss.result()
		if err != nil {
			return nil, nil, err
		}
		cur.SKUs = append(cur.SKUs, sku)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.translate(err)
	}
	if m == nil {
		return nil, nil, notFound("merchant", merchant)
	}
	return m, out, nil
}

// nullProduct scans the product and SKU columns of an outer join, where
// they may all be NULL (the IDs then scan as zero).
type nullProduct struct {
	id, skuProduct                            commerce.ProductID
	merchant                                  commerce.MerchantID
	sku                                       commerce.SKUID
	title, description, category, pics, state sql.NullString
	attrs, cur                                sql.NullString
	created, updated, price, stock, limit     sql.NullInt64
}

func (n *nullProduct) targets() []any {
	return []any{&n.id, &n.merchant, &n.title, &n.description, &n.category, &n.pics, &n.state, &n.created, &n.updated,
		&n.skuProduct, &n.sku, &n.attrs, &n.price, &n.cur, &n.stock, &n.limit}
}

// scans returns the row as the non-null scans the inner-join readers use.
func (n *nullProduct) scans() (productScan, skuScan) {
	ps := productScan{p: &commerce.Product{ID: n.id, MerchantID: n.merchant, Title: n.title.String,
		Description: n.description.String, Category: n.category.String},
		pics: n.pics.String, state: n.state.String, created: n.created.Int64, updated: n.updated.Int64}
	ss := skuScan{sku: commerce.SKU{ID: n.sku, Stock: n.stock.Int64, PurchaseLimit: n.limit.Int64},
		attrs: n.attrs.String, cur: n.cur.String, price: n.price.Int64, productID: n.skuProduct}
	return ps, ss
}

// GetMerchant implements commerce.Store.
func (s *Store) GetMerchant(ctx context.Context, id commerce.MerchantID) (*commerce.Merchant, error) {
	return s.getMerchant(ctx, s.q(ctx), id, "")
}

// UpdateMerchant implements commerce.Store.
func (s *Store) UpdateMerchant(ctx context.Context, id commerce.MerchantID, fn func(*commerce.Merchant) error) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		m, err := s.getMerchant(ctx, q, id, s.d.forUpdate)
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
		doc, err := json.Marshal(merchantDoc{m.Profile, m.Shipping})
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}merchants SET doc = ?, updated_us = ? WHERE id = ?"), string(doc), micros(m.Updated), s.d.id(id.UUID()))
		return err
	})
}

// CreateProduct implements commerce.Store.
func (s *Store) CreateProduct(ctx context.Context, p *commerce.Product) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		var n int
		if err := q.QueryRowContext(ctx, s.sql("SELECT COUNT(*) FROM {p}merchants WHERE id = ?"), s.d.id(p.MerchantID.UUID())).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return notFound("merchant", p.MerchantID)
		}
		pics, err := json.Marshal(p.Pictures)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("INSERT INTO {p}products (id, merchant_id, title, description, category, pictures, state, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
			s.d.id(p.ID.UUID()), s.d.id(p.MerchantID.UUID()), p.Title, p.Description, p.Category, string(pics), string(p.State), micros(p.Created), micros(p.Updated))
		if err != nil {
			return err
		}
		for i := range p.SKUs {
			if err := s.insertSKU(ctx, q, p, i); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) insertSKU(ctx context.Context, q querier, p *commerce.Product, i int) error {
	sku := &p.SKUs[i]
	attrs, price, err := skuColumns(sku)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, s.sql("INSERT INTO {p}skus (id, product_id, merchant_id, position, attributes, price_minor, currency, stock, purchase_limit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		s.d.id(sku.ID.UUID()), s.d.id(p.ID.UUID()), s.d.id(p.MerchantID.UUID()), i, attrs, price, sku.Price.Currency().String(), sku.Stock, sku.PurchaseLimit)
	return err
}

func skuColumns(sku *commerce.SKU) (attrs string, price int64, err error) {
	b, err := json.Marshal(sku.Attributes)
	if err != nil {
		return "", 0, err
	}
	price, err = sku.Price.Minor()
	if err != nil {
		return "", 0, fmt.Errorf("sqlstore: sku %s price: %w", sku.ID, err)
	}
	return string(b), price, nil
}

const productCols = "id, merchant_id, title, description, category, pictures, state, created_us, updated_us"

// productScan is one product row's columns.
type productScan struct {
	p                *commerce.Product
	pics, state      string
	created, updated int64
}

func (ps *productScan) targets() []any {
	ps.p = &commerce.Product{}
	return []any{&ps.p.ID, &ps.p.MerchantID, &ps.p.Title, &ps.p.Description, &ps.p.Category, &ps.pics, &ps.state, &ps.created, &ps.updated}
}

func (ps *productScan) product() (*commerce.Product, error) {
	p := ps.p
	if err := json.Unmarshal([]byte(ps.pics), &p.Pictures); err != nil {
		return nil, fmt.Errorf("sqlstore: product %s pictures: %w", p.ID, err)
	}
	p.State, p.Created, p.Updated = commerce.ListingState(ps.state), fromMicros(ps.created), fromMicros(ps.updated)
	return p, nil
}

// skuScan is one SKU row's columns.
type skuScan struct {
	sku        commerce.SKU
	attrs, cur string
	price      int64
	productID  commerce.ProductID
}

const skuCols = "product_id, id, attributes, price_minor, currency, stock, purchase_limit"

func (ss *skuScan) targets() []any {
	ss.sku = commerce.SKU{}
	return []any{&ss.productID, &ss.sku.ID, &ss.attrs, &ss.price, &ss.cur, &ss.sku.Stock, &ss.sku.PurchaseLimit}
}

func (ss *skuScan) result() (commerce.SKU, error) {
	sku := ss.sku
	if err := json.Unmarshal([]byte(ss.attrs), &sku.Attributes); err != nil {
		return sku, fmt.Errorf("sqlstore: sku %s attributes: %w", sku.ID, err)
	}
	unit, err := commerce.ParseCurrency(ss.cur)
	if err != nil {
		return sku, err
	}
	sku.Price = commerce.FromMinor(ss.price, unit)
	return sku, nil
}

// loadProducts reads a page of products by a WHERE clause (which may end in
// ORDER BY and LIMIT), then their SKUs.
func (s *Store) loadProducts(ctx context.Context, q querier, where string, args ...any) ([]*commerce.Product, error) {
	rows, err := q.QueryContext(ctx, s.sql("SELECT "+productCols+" FROM {p}products WHERE "+where), args...)
	if err != nil {
		return nil, s.translate(err)
	}
	var out []*commerce.Product
	byID := map[commerce.ProductID]*commerce.Product{}
	for rows.Next() {
		var ps productScan
		if err := rows.Scan(ps.targets()...); err != nil {
			rows.Close()
			return nil, err
		}
		p, err := ps.product()
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, p)
		byID[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, s.translate(err)
	}
	rows.Close()
	if len(out) == 0 {
		return nil, nil
	}
	pids := make([]uuid.UUID, len(out))
	for i, p := range out {
		pids[i] = p.ID.UUID()
	}
	rows, err = q.QueryContext(ctx, s.sql("SELECT "+skuCols+" FROM {p}skus WHERE product_id IN "+in(len(pids))+" ORDER BY product_id, position"), s.ids(pids)...)
	if err != nil {
		return nil, s.translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var ss skuScan
		if err := rows.Scan(ss.targets()...); err != nil {
			return nil, err
		}
		sku, err := ss.result()
		if err != nil {
			return nil, err
		}
		p := byID[ss.productID]
		p.SKUs = append(p.SKUs, sku)
	}
	return out, s.translate(rows.Err())
}

// joinedProductCols are productCols and skuCols over "p" and "s" aliases.
var joinedProductCols = "p." + strings.ReplaceAll(productCols, ", ", ", p.") + ", s." + strings.ReplaceAll(skuCols, ", ", ", s.")

// loadProductsJoined reads whole products (every SKU) by a WHERE clause on
// alias p in one statement: checkout's catalog read is one round trip.
func (s *Store) loadProductsJoined(ctx context.Context, q querier, where string, args ...any) ([]*commerce.Product, error) {
	rows, err := q.QueryContext(ctx, s.sql("SELECT "+joinedProductCols+" FROM {p}products p JOIN {p}skus s ON s.product_id = p.id WHERE "+where+" ORDER BY p.id, s.position"), args...)
	if err != nil {
		return nil, s.translate(err)
	}
	defer rows.Close()
	var out []*commerce.Product
	var cur *commerce.Product
	for rows.Next() {
		var ps productScan
		var ss skuScan
		if err := rows.Scan(append(ps.targets(), ss.targets()...)...); err != nil {
			return nil, err
		}
		if cur == nil || cur.ID != ps.p.ID {
			if cur, err = ps.product(); err != nil {
				return nil, err
			}
			out = append(out, cur)
		}
		sku, err := ss.result()
		if err != nil {
			return nil, err
		}
		cur.SKUs = append(cur.SKUs, sku)
	}
	return out, s.translate(rows.Err())
}

// GetProduct implements commerce.Store.
func (s *Store) GetProduct(ctx context.Context, merchant commerce.MerchantID, id commerce.ProductID) (*commerce.Product, error) {
	ps, err := s.loadProductsJoined(ctx, s.q(ctx), "p.id = ? AND p.merchant_id = ?", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, notFound("product", id)
	}
	return ps[0], nil
}

// UpdateProduct implements commerce.Store.
func (s *Store) UpdateProduct(ctx context.Context, merchant commerce.MerchantID, id commerce.ProductID, fn func(*commerce.Product) error) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		// Lock the product row first so concurrent updates of one product
		// serialize; its SKUs are read after the lock is held.
		var one int
		err := q.QueryRowContext(ctx, s.sql("SELECT 1 FROM {p}products WHERE id = ? AND merchant_id = ?"+s.d.forUpdate),
			s.d.id(id.UUID()), s.d.id(merchant.UUID())).Scan(&one)
		if s.d.classify(err) == errNoRows {
			return notFound("product", id)
		}
		if err != nil {
			return err
		}
		ps, err := s.loadProductsJoined(ctx, q, "p.id = ?", s.d.id(id.UUID()))
		if err != nil {
			return err
		}
		p := ps[0]
		old := map[commerce.SKUID]bool{}
		for _, sku := range p.SKUs {
			old[sku.ID] = true
		}
		if err := fn(p); err != nil {
			return err
		}
		p.ID, p.MerchantID = id, merchant
		pics, err := json.Marshal(p.Pictures)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}products SET title = ?, description = ?, category = ?, pictures = ?, state = ?, updated_us = ? WHERE id = ?"),
			p.Title, p.Description, p.Category, string(pics), string(p.State), micros(p.Updated), s.d.id(id.UUID()))
		if err != nil {
			return err
		}
		for i := range p.SKUs {
			sku := &p.SKUs[i]
			if !old[sku.ID] {
				if err := s.insertSKU(ctx, q, p, i); err != nil {
					return err
				}
				continue
			}
			delete(old, sku.ID)
			attrs, price, err := skuColumns(sku)
			if err != nil {
				return err
			}
			// Stock is not written: it changes only by guarded updates.
			_, err = q.ExecContext(ctx, s.sql("UPDATE {p}skus SET position = ?, attributes = ?, price_minor = ?, currency = ?, purchase_limit = ? WHERE id = ?"),
				i, attrs, price, sku.Price.Currency().String(), sku.PurchaseLimit, s.d.id(sku.ID.UUID()))
			if err != nil {
				return err
			}
		}
		for gone := range old {
			if _, err := q.ExecContext(ctx, s.sql("DELETE FROM {p}skus WHERE id = ?"), s.d.id(gone.UUID())); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListProducts implements commerce.Store.
func (s *Store) ListProducts(ctx context.Context, merchant commerce.MerchantID, pq commerce.ProductQuery) ([]*commerce.Product, error) {
	where := "merchant_id = ?"
	args := []any{s.d.id(merchant.UUID())}
	if pq.State != "" {
		where += " AND state = ?"
		args = append(args, string(pq.State))
	}
	if pq.Category != "" {
		where += " AND category = ?"
		args = append(args, pq.Category)
	}
	if !pq.After.IsZero() {
		where += " AND id > ?"
		args = append(args, s.d.id(pq.After.UUID()))
	}
	where += fmt.Sprintf(" ORDER BY id LIMIT %d", commerce.PageLimit(pq.Limit))
	return s.loadProducts(ctx, s.q(ctx), where, args...)
}

// ProductsBySKU implements commerce.Store.
func (s *Store) ProductsBySKU(ctx context.Context, merchant commerce.MerchantID, skus []commerce.SKUID) ([]*commerce.Product, error) {
	if len(skus) == 0 {
		return nil, nil
	}
	us := make([]uuid.UUID, len(skus))
	for i, id := range skus {
		us[i] = id.UUID()
	}
	args := append([]any{s.d.id(merchant.UUID())}, s.ids(us)...)
	return s.loadProductsJoined(ctx, s.q(ctx), "p.merchant_id = ? AND p.id IN (SELECT product_id FROM {p}skus WHERE id IN "+in(len(us))+")", args...)
}

// ReserveStock implements commerce.Store: one guarded decrement for every
// SKU at once,
//
//	UPDATE skus SET stock = stock - CASE id WHEN ? THEN ? ... END
//	WHERE merchant_id = ? AND id IN (...) AND stock >= CASE id WHEN ? THEN ? ... END
//
// so a three-line checkout takes its stock in one round trip. When fewer
// rows than SKUs change, one read of the SKUs names the first that is
// missing or short; the rows that did change are undone by the
// transaction's rollback, which the caller's failure brings (a store method
// run on its own has a transaction of its own).
func (s *Store) ReserveStock(ctx context.Context, merchant commerce.MerchantID, changes []commerce.StockChange) error {
	if len(changes) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, q querier) error {
		st := s.stockUpdate(merchant, changes)
		affected, err := rowsAffected(q.ExecContext(ctx, s.sql(st.query), st.args...))
		if err != nil || affected == int64(len(changes)) {
			return err
		}
		return s.shortStock(ctx, q, merchant, changes)
	})
}

// stockUpdate is ReserveStock's guarded decrement of every SKU in changes:
// it changes len(changes) rows when every SKU has the units.
func (s *Store) stockUpdate(merchant commerce.MerchantID, changes []commerce.StockChange) statement {
	n := len(changes)
	when := strings.Repeat(" WHEN ? THEN "+s.d.intArg, n)
	args := make([]any, 0, 5*n+1)
	for _, c := range changes {
		args = append(args, s.d.id(c.SKU.UUID()), c.Quantity)
	}
	args = append(args, s.d.id(merchant.UUID()))
	for _, c := range changes {
		args = append(args, s.d.id(c.SKU.UUID()))
	}
	args = append(args, args[:2*n]...)
	rows := "merchant_id = ? AND id IN " + in(n)
	if s.d.name == Postgres {
		// One UPDATE locks its rows in the order it meets them, which on
		// PostgreSQL follows where each row's latest version lies and so
		// differs between concurrent checkouts of the same SKUs: they
		// deadlock. The rows are locked in SKU order first, as the kernel
		// sorted them. (InnoDB walks the primary key in order; SQLite has
		// one writer.)
		rows = "id IN (SELECT id FROM {p}skus WHERE " + rows + " ORDER BY id FOR UPDATE)"
	}
	return statement{"UPDATE {p}skus SET stock = stock - CASE id" + when + " END WHERE " + rows + " AND stock >= CASE id" + when + " END", args}
}

// shortStock explains a guarded decrement that changed fewer rows than it
// was given: the first SKU that does not exist, or whose stock is below
// what was asked.
func (s *Store) shortStock(ctx context.Context, q querier, merchant commerce.MerchantID, changes []commerce.StockChange) error {
	onHand := make(map[uuid.UUID]int64, len(changes))
	args := []any{s.d.id(merchant.UUID())}
	for _, c := range changes {
		args = append(args, s.d.id(c.SKU.UUID()))
	}
	rows, err := q.QueryContext(ctx, s.sql("SELECT id, stock FROM {p}skus WHERE merchant_id = ? AND id IN "+in(len(changes))), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		onHand[id] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range changes {
		n, ok := onHand[c.SKU.UUID()]
		if !ok {
			return notFound("sku", c.SKU)
		}
		if n < c.Quantity {
			return fmt.Errorf("%w", &commerce.OutOfStockError{SKU: c.SKU, Wanted: c.Quantity, OnHand: n})
		}
	}
	// Every SKU has the units now: a row short at the update was restocked
	// since. Run the transaction again rather than refuse the buyer.
	return errStale
}

// ReleaseStock implements commerce.Store.
func (s *Store) ReleaseStock(ctx context.Context, merchant commerce.MerchantID, changes []commerce.StockChange) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		for _, c := range changes {
			// A SKU deleted since the sale has nothing to return to: no row, no error.
			if _, err := q.ExecContext(ctx, s.sql("UPDATE {p}skus SET stock = stock + ? WHERE id = ? AND merchant_id = ?"),
				c.Quantity, s.d.id(c.SKU.UUID()), s.d.id(merchant.UUID())); err != nil {
				return err
			}
		}
		return nil
	})
}

// AdjustStock implements commerce.Store.
func (s *Store) AdjustStock(ctx context.Context, merchant commerce.MerchantID, sku commerce.SKUID, delta int64) (int64, error) {
	var out int64
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		err := q.QueryRowContext(ctx, s.sql("SELECT stock FROM {p}skus WHERE id = ? AND merchant_id = ?"+s.d.forUpdate),
			s.d.id(sku.UUID()), s.d.id(merchant.UUID())).Scan(&out)
		if s.d.classify(err) == errNoRows {
			return notFound("sku", sku)
		}
		if err != nil {
			return err
		}
		n := out + delta
		if n < 0 || n > commerce.MaxStock {
			return commerce.Errorf("sqlstore.adjust_stock", commerce.KindFailedPrecondition,
				"sku %s: stock %d%+d would leave [0, %d]", sku, out, delta, commerce.MaxStock)
		}
		out = n
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}skus SET stock = ? WHERE id = ?"), n, s.d.id(sku.UUID()))
		return err
	})
	return out, err
}

// AddPurchases implements commerce.Store: an insert-if-absent of the
// counter row, then a guarded increment.
func (s *Store) AddPurchases(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, changes []commerce.PurchaseChange) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		for _, c := range changes {
			m, sku := s.d.id(merchant.UUID()), s.d.id(c.SKU.UUID())
			ins := s.d.insertIgnore("{p}purchases", "merchant_id, customer_id, sku_id, quantity", "merchant_id, customer_id, sku_id", "quantity")
			if _, err := q.ExecContext(ctx, s.sql(ins), m, string(customer), sku, 0); err != nil {
				return err
			}
			res, err := q.ExecContext(ctx, s.sql("UPDATE {p}purchases SET quantity = quantity + ? WHERE merchant_id = ? AND customer_id = ? AND sku_id = ? AND quantity + ? <= ?"),
				c.Quantity, m, string(customer), sku, c.Quantity, c.Limit)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				continue
			}
			var bought int64
			if err := q.QueryRowContext(ctx, s.sql("SELECT quantity FROM {p}purchases WHERE merchant_id = ? AND customer_id = ? AND sku_id = ?"), m, string(customer), sku).Scan(&bought); err != nil {
				return err
			}
			return fmt.Errorf("%w", &commerce.PurchaseLimitError{SKU: c.SKU, Limit: c.Limit, Bought: bought, Wanting: c.Quantity})
		}
		return nil
	})
}

// RemovePurchases implements commerce.Store.
func (s *Store) RemovePurchases(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, changes []commerce.PurchaseChange) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		for _, c := range changes {
			_, err := q.ExecContext(ctx, s.sql("UPDATE {p}purchases SET quantity = CASE WHEN quantity > ? THEN quantity - ? ELSE 0 END WHERE merchant_id = ? AND customer_id = ? AND sku_id = ?"),
				c.Quantity, c.Quantity, s.d.id(merchant.UUID()), string(customer), s.d.id(c.SKU.UUID()))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) getCart(ctx context.Context, q querier, merchant commerce.MerchantID, customer commerce.CustomerID, lock string) (*commerce.Cart, error) {
	c := &commerce.Cart{MerchantID: merchant, CustomerID: customer}
	var lines string
	var updated int64
	err := q.QueryRowContext(ctx, s.sql("SELECT cart_lines, updated_us FROM {p}carts WHERE merchant_id = ? AND customer_id = ?"+lock),
		s.d.id(merchant.UUID()), string(customer)).Scan(&lines, &updated)
	if s.d.classify(err) == errNoRows {
		return c, nil
	}
	if err != nil {
		return nil, s.translate(err)
	}
	if err := json.Unmarshal([]byte(lines), &c.Lines); err != nil {
		return nil, fmt.Errorf("sqlstore: cart: %w", err)
	}
	c.Updated = fromMicros(updated)
	return c, nil
}

// GetCart implements commerce.Store.
func (s *Store) GetCart(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*commerce.Cart, error) {
	return s.getCart(ctx, s.q(ctx), merchant, customer, "")
}

// UpdateCart implements commerce.Store: the row is created empty if absent,
// then locked, so concurrent first edits of a cart serialize too.
func (s *Store) UpdateCart(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, fn func(*commerce.Cart) error) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		if _, err := s.getMerchant(ctx, q, merchant, ""); err != nil {
			return err
		}
		ins := s.d.insertIgnore("{p}carts", "merchant_id, customer_id, cart_lines, updated_us", "merchant_id, customer_id", "cart_lines")
		if _, err := q.ExecContext(ctx, s.sql(ins), s.d.id(merchant.UUID()), string(customer), "null", 0); err != nil {
			return err
		}
		c, err := s.getCart(ctx, q, merchant, customer, s.d.forUpdate)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		lines, err := json.Marshal(c.Lines)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}carts SET cart_lines = ?, updated_us = ? WHERE merchant_id = ? AND customer_id = ?"),
			string(lines), micros(c.Updated), s.d.id(merchant.UUID()), string(customer))
		return err
	})
}

// dueArg is the due_us column value: NULL when nothing is scheduled.
func dueArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

// InsertOrder implements commerce.Store. The order is one row: the columns
// that queries filter on, and the whole order as a JSON document (amounts as
// exact decimal strings), so an order change is one read and one write.
func (s *Store) InsertOrder(ctx context.Context, o *commerce.Order) error {
	st, err := s.orderInsert(o)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, st.query, st.args...)
	return s.translate(err)
}

// statement is a logical query ({p} and ? placeholders) with its arguments.
type statement struct {
	query string
	args  []any
}

// orderInsert is InsertOrder's statement.
func (s *Store) orderInsert(o *commerce.Order) (statement, error) {
	doc, total, err := orderColumns(o)
	if err != nil {
		return statement{}, err
	}
	return statement{"INSERT INTO {p}orders (id, merchant_id, customer_id, status, idempotency_key, currency, total_minor, due_us, created_us, updated_us, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		[]any{s.d.id(o.ID.UUID()), s.d.id(o.MerchantID.UUID()), string(o.CustomerID), string(o.Status), o.IdempotencyKey, o.Currency.String(),
			total, dueArg(o.DueAt), micros(o.Created), micros(o.Updated), o.Version, doc}}, nil
}

func orderColumns(o *commerce.Order) (doc string, total int64, err error) {
	b, err := json.Marshal(o)
	if err != nil {
		return "", 0, err
	}
	total, err = o.Total.Minor()
	if err != nil {
		return "", 0, fmt.Errorf("sqlstore: order %s total: %w", o.ID, err)
	}
	return string(b), total, nil
}

func (s *Store) scanOrder(row scanner) (*commerce.Order, error) {
	var doc, cur string
	var version int64
	if err := row.Scan(&doc, &cur, &version); err != nil {
		return nil, err
	}
	o := &commerce.Order{}
	if err := json.Unmarshal([]byte(doc), o); err != nil {
		return nil, fmt.Errorf("sqlstore: order document: %w", err)
	}
	unit, err := commerce.ParseCurrency(cur)
	if err != nil {
		return nil, err
	}
	o.Currency, o.Version = unit, version
	return o, nil
}

func (s *Store) getOrder(ctx context.Context, q querier, where string, lock string, args ...any) (*commerce.Order, error) {
	o, err := s.scanOrder(q.QueryRowContext(ctx, s.sql("SELECT doc, currency, version FROM {p}orders WHERE "+where+lock), args...))
	if err != nil {
		return nil, s.translate(err)
	}
	return o, nil
}

// GetOrder implements commerce.Store.
func (s *Store) GetOrder(ctx context.Context, merchant commerce.MerchantID, id commerce.OrderID) (*commerce.Order, error) {
	o, err := s.getOrder(ctx, s.q(ctx), "id = ? AND merchant_id = ?", "", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, notFound("order", id)
	}
	return o, err
}

// OrderByIdempotencyKey implements commerce.Store.
func (s *Store) OrderByIdempotencyKey(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, key string) (*commerce.Order, error) {
	return s.getOrder(ctx, s.q(ctx), "merchant_id = ? AND customer_id = ? AND idempotency_key = ?", "", s.d.id(merchant.UUID()), string(customer), key)
}

// UpdateOrder implements commerce.Store.
func (s *Store) UpdateOrder(ctx context.Context, merchant commerce.MerchantID, id commerce.OrderID, fn func(*commerce.Order) error) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		o, err := s.getOrder(ctx, q, "id = ? AND merchant_id = ?", s.d.forUpdate, s.d.id(id.UUID()), s.d.id(merchant.UUID()))
		if errors.Is(err, storage.ErrNotFound) {
			return notFound("order", id)
		}
		if err != nil {
			return err
		}
		key, customer, version := o.IdempotencyKey, o.CustomerID, o.Version
		refundSince := o.PendingRefundSince()
		if err := fn(o); err != nil {
			return err
		}
		o.ID, o.MerchantID, o.IdempotencyKey, o.CustomerID, o.Version = id, merchant, key, customer, version+1
		doc, total, err := orderColumns(o)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}orders SET status = ?, total_minor = ?, due_us = ?, updated_us = ?, version = ?, doc = ? WHERE id = ?"),
			string(o.Status), total, dueArg(o.DueAt), micros(o.Updated), o.Version, doc, s.d.id(id.UUID()))
		if err != nil {
			return err
		}
		// order_refunds follows the pending refunds, written only when they
		// change (a refund asked for or answered), not on every update.
		if since := o.PendingRefundSince(); !since.Equal(refundSince) {
			return s.setOrderRefunds(ctx, q, o, since)
		}
		return nil
	})
}

// setOrderRefunds records in order_refunds since when o has had a refund
// pending, or removes o when since is zero: under the order's row lock, in
// its transaction, so the row always agrees with the document.
func (s *Store) setOrderRefunds(ctx context.Context, q querier, o *commerce.Order, since time.Time) error {
	if _, err := q.ExecContext(ctx, s.sql("DELETE FROM {p}order_refunds WHERE order_id = ?"), s.d.id(o.ID.UUID())); err != nil || since.IsZero() {
		return err
	}
	_, err := q.ExecContext(ctx, s.sql("INSERT INTO {p}order_refunds (order_id, merchant_id, since_us) VALUES (?, ?, ?)"),
		s.d.id(o.ID.UUID()), s.d.id(o.MerchantID.UUID()), micros(since))
	return err
}

// ListOrders implements commerce.Store.
func (s *Store) ListOrders(ctx context.Context, merchant commerce.MerchantID, oq commerce.OrderQuery) ([]*commerce.Order, error) {
	where := "merchant_id = ?"
	args := []any{s.d.id(merchant.UUID())}
	if oq.Customer != "" {
		where += " AND customer_id = ?"
		args = append(args, string(oq.Customer))
	}
	if oq.Status != "" {
		where += " AND status = ?"
		args = append(args, string(oq.Status))
	}
	if !oq.After.IsZero() {
		where += " AND id > ?"
		args = append(args, s.d.id(oq.After.UUID()))
	}
	return queryAll(ctx, s, fmt.Sprintf("SELECT doc, currency, version FROM {p}orders WHERE %s ORDER BY id LIMIT %d", where, commerce.PageLimit(oq.Limit)),
		s.scanOrder, args...)
}

// DueOrders implements commerce.Store.
func (s *Store) DueOrders(ctx context.Context, status commerce.OrderStatus, now time.Time, limit int) ([]commerce.OrderRef, error) {
	return queryAll(ctx, s, fmt.Sprintf("SELECT merchant_id, id FROM {p}orders WHERE status = ? AND due_us IS NOT NULL AND due_us <= ? ORDER BY due_us, id LIMIT %d", max(limit, 1)),
		func(row scanner) (commerce.OrderRef, error) {
			var r commerce.OrderRef
			err := row.Scan(&r.MerchantID, &r.ID)
			return r, err
		}, string(status), micros(now))
}

// AppendEvents implements commerce.Store. Events are inserted without a
// sequence number; ReadEvents numbers committed events in one serialized
// step, so numbers follow commit order and a cursor never skips one. In a
// transaction InTx owns they are held until just before its COMMIT and
// written together (see txState.events).
func (s *Store) AppendEvents(ctx context.Context, events ...commerce.Event) error {
	if t := s.txFrom(ctx); t != nil && !t.hosted {
		for _, e := range events {
			e.Payload = slices.Clone(e.Payload) // the caller may reuse its buffer
			t.events = append(t.events, e)
		}
		return nil
	}
	return s.insertEvents(ctx, events)
}

// insertEvents writes events, up to eventBatch of them per statement.
func (s *Store) insertEvents(ctx context.Context, events []commerce.Event) error {
	for _, st := range s.eventInserts(events) {
		if _, err := s.exec(ctx, st.query, st.args...); err != nil {
			return s.translate(err)
		}
	}
	return nil
}

// eventInserts are the statements that insert events, up to eventBatch
// rows each.
func (s *Store) eventInserts(events []commerce.Event) []statement {
	var out []statement
	for len(events) > 0 {
		n := min(len(events), eventBatch)
		rows := strings.TrimSuffix(strings.Repeat("(?, NULL, ?, ?, ?, ?, ?), ", n), ", ")
		args := make([]any, 0, 6*n)
		for _, e := range events[:n] {
			args = append(args, s.d.id(e.ID), e.Type, e.AggregateID, s.d.id(e.MerchantID.UUID()), string(e.Payload), micros(e.Time))
		}
		out = append(out, statement{"INSERT INTO {p}events (id, seq, type, aggregate_id, merchant_id, payload, time_us) VALUES " + rows, args})
		events = events[n:]
	}
	return out
}

// eventBatch bounds the rows of one event insert (and so the distinct
// prepared statements it makes).
const eventBatch = 16

// sequenceBatch bounds how many events one numbering step takes.
const sequenceBatch = 500

// sequence numbers committed events that have no number yet, in one
// transaction that first locks the outbox state row: numbering steps
// serialize, and an event committed after a step is numbered by a later one,
// above every number handed out before. That is why a reader's cursor never
// skips an event, on every database, without advisory locks.
func (s *Store) sequence(ctx context.Context) error {
	var pending int
	err := s.q(ctx).QueryRowContext(ctx, s.sql("SELECT COUNT(*) FROM (SELECT 1 AS x FROM {p}events WHERE seq IS NULL LIMIT 1) t")).Scan(&pending)
	if err != nil || pending == 0 {
		return s.translate(err)
	}
	return s.write(ctx, func(ctx context.Context, q querier) error {
		var last int64
		if err := q.QueryRowContext(ctx, s.sql("SELECT last_seq FROM {p}outbox_state WHERE name = 'seq'"+s.d.forUpdate)).Scan(&last); err != nil {
			return err
		}
		rows, err := q.QueryContext(ctx, s.sql(fmt.Sprintf("SELECT id FROM {p}events WHERE seq IS NULL ORDER BY time_us, id LIMIT %d", sequenceBatch)))
		if err != nil {
			return err
		}
		var ids []uuid.UUID
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			last++
			if _, err := q.ExecContext(ctx, s.sql("UPDATE {p}events SET seq = ? WHERE id = ?"), last, s.d.id(id)); err != nil {
				return err
			}
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}outbox_state SET last_seq = ? WHERE name = 'seq'"), last)
		return err
	})
}

// ReadEvents implements commerce.Store.
func (s *Store) ReadEvents(ctx context.Context, after uint64, limit int) ([]commerce.Event, error) {
	if err := s.sequence(ctx); err != nil {
		return nil, err
	}
	rows, err := s.q(ctx).QueryContext(ctx, s.sql(fmt.Sprintf("SELECT seq, id, type, aggregate_id, merchant_id, payload, time_us FROM {p}events WHERE seq > ? ORDER BY seq LIMIT %d", commerce.PageLimit(limit))),
		int64(after))
	if err != nil {
		return nil, s.translate(err)
	}
	defer rows.Close()
	var out []commerce.Event
	for rows.Next() {
		var e commerce.Event
		var seq, t int64
		var payload string
		if err := rows.Scan(&seq, &e.ID, &e.Type, &e.AggregateID, &e.MerchantID, &payload, &t); err != nil {
			return nil, err
		}
		e.Seq, e.Payload, e.Time = uint64(seq), json.RawMessage(payload), fromMicros(t)
		out = append(out, e)
	}
	return out, s.translate(rows.Err())
}

// Cursor implements commerce.Store.
func (s *Store) Cursor(ctx context.Context, consumer string) (uint64, error) {
	var seq int64
	err := s.q(ctx).QueryRowContext(ctx, s.sql("SELECT seq FROM {p}cursors WHERE consumer = ?"), consumer).Scan(&seq)
	if s.d.classify(err) == errNoRows {
		return 0, nil
	}
	return uint64(seq), s.translate(err)
}

// SetCursor implements commerce.Store.
func (s *Store) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	_, err := s.exec(ctx, "INSERT INTO {p}cursors (consumer, seq) VALUES (?, ?)"+s.d.upsertMax("{p}cursors", "consumer", "seq"), consumer, int64(seq))
	return s.translate(err)
}

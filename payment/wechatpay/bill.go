package wechatpay

import (
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

var _ payment.BillSource = (*Client)(nil)

// MaxBillSize caps a bill download, compressed and decompressed alike: a
// broken or hostile answer (a gzip bomb) cannot exhaust memory or disk. A
// trade bill line is about 400 bytes, so the cap is some two and a half
// million transactions a day.
const MaxBillSize = 1 << 30

// Trade bill types (bill_type).
const (
	BillAll     = "ALL"     // payments and refunds
	BillSuccess = "SUCCESS" // payments only
	BillRefund  = "REFUND"  // refunds only
)

// Fund-flow accounts (account_type).
const (
	AccountBasic     = "BASIC"     // 基本账户
	AccountOperation = "OPERATION" // 运营账户
	AccountFees      = "FEES"      // 手续费账户
)

// ErrNoStatement is matched by the error for a day WeChat Pay has no bill
// of (nothing happened that day) once its bills are out (KindNotFound).
// Before then, the same answer means the bill is not ready yet:
// payment.ErrBillNotReady.
var ErrNoStatement = errors.New("no bill for the day")

// ErrBillDigest is matched by the error for a bill whose SHA-1 is not the
// hash_value WeChat Pay gave for it: the file was cut or changed on the way.
// Nothing of it is returned. It is KindUnavailable: download it again.
var ErrBillDigest = errors.New("bill digest mismatch")

// TradeBillRequest asks for a day's trade bill.
type TradeBillRequest struct {
	// Date is the day: its calendar date as written in its location,
	// which WeChat Pay reads as a China-time day (bill_date yyyy-MM-dd).
	Date time.Time
	// Type is BillAll (default), BillSuccess or BillRefund.
	Type string
	// Account names the sub-merchant of a service provider (sub_mchid);
	// the zero Account is the merchant itself (for a service provider: all
	// its sub-merchants).
	Account payment.Account
	// NoGzip downloads the bill uncompressed; by default it comes
	// gzipped (tar_type=GZIP), a tenth of the size.
	NoGzip bool
}

// FundFlowBillRequest asks for a day's fund-flow bill.
type FundFlowBillRequest struct {
	Date time.Time
	// AccountType is AccountBasic (default), AccountOperation or
	// AccountFees.
	AccountType string
	NoGzip      bool
}

// TradeBill is a downloaded, checked trade bill.
type TradeBill struct {
	Date    string // yyyy-MM-dd, China time
	Type    string
	Rows    []TradeBillRow
	Summary TradeBillSummary
}

// FundFlowBill is a downloaded, checked fund-flow bill.
type FundFlowBill struct {
	Date        string
	AccountType string
	Rows        []FundFlowRow
	Summary     FundFlowSummary
}

// billDate is the China-time date of d's calendar date.
func billDate(d time.Time) string {
	y, m, day := d.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, chinaTime).Format(time.DateOnly)
}

// billsOut is when WeChat Pay's bills of date are out for certain: they are
// generated from 09:00 the next day, China time, and WeChat advises fetching
// after 10:00.
func billsOut(date string) time.Time {
	d, _ := time.ParseInLocation(time.DateOnly, date, chinaTime)
	return d.AddDate(0, 0, 1).Add(10 * time.Hour)
}

// TradeBill applies for a day's trade bill (GET /v3/bill/tradebill),
// downloads it and reads it: the apply answer is verified like every
// answer; the download, which WeChat Pay does not sign, is checked by its
// SHA-1 against the hash_value of the verified answer, and the file by its
// summary (ParseTradeBill). Only a bill that passes every check is
// returned.
//
// A bill not generated yet is an error matching payment.ErrBillNotReady
// (KindUnavailable); a day without transactions, once the bills are out,
// matches ErrNoStatement (KindNotFound).
func (c *Client) TradeBill(ctx context.Context, r TradeBillRequest) (*TradeBill, error) {
	const op = "wechatpay.trade_bill"
	typ := r.Type
	if typ == "" {
		typ = BillAll
	}
	if typ != BillAll && typ != BillSuccess && typ != BillRefund {
		return nil, commerce.Invalid(op, "Type", "%q: want ALL, SUCCESS or REFUND", truncate(typ, 32))
	}
	if r.Date.IsZero() {
		return nil, commerce.Invalid(op, "Date", "missing")
	}
	q := url.Values{"bill_date": {billDate(r.Date)}, "bill_type": {typ}}
	if !r.Account.IsDirect() {
		if err := checkDigits(r.Account.SubMerchant, 32); err != nil {
			return nil, commerce.Invalid(op, "Account.SubMerchant", "%v", err)
		}
		q.Set("sub_mchid", r.Account.SubMerchant)
	}
	if !r.NoGzip {
		q.Set("tar_type", "GZIP")
	}
	bill := &TradeBill{Date: billDate(r.Date), Type: typ}
	err := c.bill(ctx, op, "/v3/bill/tradebill", q, !r.NoGzip, func(rd io.Reader) error {
		s, err := ParseTradeBill(rd, func(row *TradeBillRow) error {
			bill.Rows = append(bill.Rows, *row)
			return nil
		})
		if err == nil {
			bill.Summary = *s
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return bill, nil
}

// FundFlowBill applies for a day's fund-flow bill (GET
// /v3/bill/fundflowbill), downloads it and reads it, checked as TradeBill
// checks the trade bill.
func (c *Client) FundFlowBill(ctx context.Context, r FundFlowBillRequest) (*FundFlowBill, error) {
	const op = "wechatpay.fund_flow_bill"
	typ := r.AccountType
	if typ == "" {
		typ = AccountBasic
	}
	if typ != AccountBasic && typ != AccountOperation && typ != AccountFees {
		return nil, commerce.Invalid(op, "AccountType", "%q: want BASIC, OPERATION or FEES", truncate(typ, 32))
	}
	if r.Date.IsZero() {
		return nil, commerce.Invalid(op, "Date", "missing")
	}
	q := url.Values{"bill_date": {billDate(r.Date)}, "account_type": {typ}}
	if !r.NoGzip {
		q.Set("tar_type", "GZIP")
	}
	bill := &FundFlowBill{Date: billDate(r.Date), AccountType: typ}
	err := c.bill(ctx, op, "/v3/bill/fundflowbill", q, !r.NoGzip, func(rd io.Reader) error {
		s, err := ParseFundFlowBill(rd, func(row *FundFlowRow) error {
			bill.Rows = append(bill.Rows, *row)
			return nil
		})
		if err == nil {
			bill.Summary = *s
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return bill, nil
}

// applyAnswer is the verified answer to a bill application.
type applyAnswer struct {
	HashType    string `json:"hash_type"`
	HashValue   string `json:"hash_value"`
	DownloadURL string `json:"download_url"`
}

// bill applies at path, downloads the file and hands it to read as it
// arrives, hashing it on the way; the digest is checked when read is done
// (the rest of the file is read for it even if read stopped early), and a
// digest that does not match wins over read's own error: the file is not
// WeChat's.
func (c *Client) bill(ctx context.Context, op, path string, q url.Values, gz bool, read func(io.Reader) error) error {
	date := q.Get("bill_date")
	var ans applyAnswer
	if err := c.call(ctx, http.MethodGet, path, q.Encode(), nil, &ans); err != nil {
		return c.billCallError(op, date, err)
	}
	if ans.HashType != "SHA1" {
		return fmt.Errorf("%s: answer's hash_type %q, want SHA1", op, truncate(ans.HashType, 16))
	}
	want, err := hex.DecodeString(ans.HashValue)
	if err != nil || len(want) != sha1.Size {
		return fmt.Errorf("%s: answer's hash_value %q is not a SHA-1 in hex", op, truncate(ans.HashValue, 64))
	}
	u, err := c.downloadURL(ans.DownloadURL)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	body, err := c.downloadBill(ctx, op, u)
	if err != nil {
		return err
	}
	defer body.Close()
	var rd io.Reader = io.LimitReader(body, MaxBillSize+1)
	if gz {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return commerce.Errorf(op, commerce.KindUnavailable, "%w: download is not gzip: %v", ErrBillDigest, err)
		}
		defer zr.Close()
		rd = zr
	}
	h := sha1.New()
	capped := &capReader{r: io.TeeReader(rd, h), left: MaxBillSize}
	rerr := read(capped)
	// The digest covers the whole file, read or not.
	if _, err := io.Copy(io.Discard, capped); err != nil {
		if errors.Is(err, errBillTooLarge) {
			return fmt.Errorf("%s: %w", op, err)
		}
		return commerce.Errorf(op, commerce.KindUnavailable, "reading the bill: %w", err)
	}
	if capped.over {
		return fmt.Errorf("%s: %w", op, errBillTooLarge)
	}
	if !digestIs(h, want) {
		return commerce.Errorf(op, commerce.KindUnavailable, "%w: SHA-1 of the downloaded file is %x, the apply answer's hash_value %s (cut or changed on the way; download it again)",
			ErrBillDigest, h.Sum(nil), ans.HashValue)
	}
	if rerr != nil {
		var be *BillError
		if errors.As(rerr, &be) {
			return fmt.Errorf("%s: bill of %s: %w", op, date, rerr)
		}
		if errors.Is(rerr, errBillTooLarge) {
			return fmt.Errorf("%s: %w", op, rerr)
		}
		return commerce.Errorf(op, commerce.KindUnavailable, "reading the bill: %w", rerr)
	}
	return nil
}

func digestIs(h hash.Hash, want []byte) bool {
	return subtle.ConstantTimeCompare(h.Sum(nil), want) == 1
}

var errBillTooLarge = commerce.Errorf("wechatpay.bill", commerce.KindInternal, "bill larger than %d bytes (MaxBillSize)", MaxBillSize)

// capReader fails reads past left bytes.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a file of exactly the cap from a longer one.
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
			return 0, errBillTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// billCallError maps the apply call's refusals: a bill still being made,
// or none for a day whose bills are not out yet, is not ready (try later);
// none once they are out is no bill.
func (c *Client) billCallError(op, date string, err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return wrapCall(op, err)
	}
	generating := strings.Contains(ae.Message, "生成中")
	if ae.Code == "NO_STATEMENT_EXIST" || generating {
		if generating || c.now().Before(billsOut(date)) {
			return commerce.Errorf(op, commerce.KindUnavailable, "%w: WeChat Pay's bills of %s are out after %s (answered %v)",
				payment.ErrBillNotReady, date, billsOut(date).Format("2006-01-02 15:04 MST"), err)
		}
		return commerce.Errorf(op, commerce.KindNotFound, "%w %s (answered %v)", ErrNoStatement, date, err)
	}
	return wrapCall(op, err)
}

// downloadURL checks a download_url before a signed request goes to it: it
// must be on the API host the client is configured for (the request is
// signed, and a signed request is never sent elsewhere) at WeChat's
// download path.
func (c *Client) downloadURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return nil, fmt.Errorf("answer's download_url %q is not a URL", truncate(raw, 200))
	}
	base, _ := url.Parse(c.base)
	if !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) || u.User != nil {
		return nil, fmt.Errorf("answer's download_url %q is not on %s: refused (the download request is signed)", truncate(raw, 200), c.base)
	}
	if u.Path != "/v3/billdownload/file" || u.Fragment != "" {
		return nil, fmt.Errorf("answer's download_url %q is not WeChat Pay's download path /v3/billdownload/file", truncate(raw, 200))
	}
	return u, nil
}

// downloadBill sends the signed GET for a bill file and returns the body of a
// 200 answer, which is not signed (WeChat Pay signs no file; the digest
// stands in for the signature). An error answer is handled like any other
// (verified when signed).
func (c *Client) downloadBill(ctx context.Context, op string, u *url.URL) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	auth, err := c.authorization(http.MethodGet, req.URL.RequestURI(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, wrapCall(op, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		raw, rerr := readCapped(resp.Body)
		if rerr != nil {
			return nil, commerce.Errorf(op, commerce.KindUnavailable, "download answered HTTP %d, unreadable: %w", resp.StatusCode, rerr)
		}
		ans := &answer{status: resp.StatusCode, header: resp.Header, body: raw}
		verify := func(h http.Header, body []byte) error { return c.verify(ctx, h, body) }
		return nil, wrapCall(op, c.apiError("GET "+u.Path, ans, verify))
	}
	return resp.Body, nil
}

// DayBill implements payment.BillSource with the day's ALL trade bill,
// gzipped, for account. Payment lines are the SUCCESS rows, refund lines
// the REFUND rows (other states, such as a revoked payment-code trade, are
// not payments minishop makes and are left out). A line's amount is what
// minishop's payment and refund amounts are: 订单金额 (amount.total) and
// 申请退款金额 (amount.refund), or 应结订单金额 and 退款金额 in layouts
// without them. The fee is 手续费 exactly as written.
func (c *Client) DayBill(ctx context.Context, account payment.Account, day time.Time) (*payment.Bill, error) {
	const op = "wechatpay.day_bill"
	date := billDate(day)
	from, _ := time.ParseInLocation(time.DateOnly, date, chinaTime)
	out := &payment.Bill{Provider: c.Name(), Account: account, Day: date, From: from, To: from.AddDate(0, 0, 1)}
	tb, err := c.TradeBill(ctx, TradeBillRequest{Date: day, Account: account})
	if errors.Is(err, ErrNoStatement) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range tb.Rows {
		row := &tb.Rows[i]
		l := payment.BillLine{Line: row.Line, Time: row.Time, PaymentNo: row.OutTradeNo, ProviderRef: row.TransactionID, Fee: row.Fee}
		if row.SubMchID != "" && row.SubMchID != "0" {
			l.SubMerchant = row.SubMchID
		}
		switch row.TradeState {
		case "SUCCESS":
			l.Kind, l.Amount = payment.BillPayment, pick(row.OrderAmount, row.SettlementTotal)
		case "REFUND":
			l.Kind, l.Amount = payment.BillRefund, pick(row.RequestedRefund, row.SettlementRefund)
			l.RefundNo, l.RefundRef = row.OutRefundNo, row.RefundID
			l.RefundState = refundState(row.RefundStatus)
			if l.RefundNo == "" {
				return nil, fmt.Errorf("%s: %w", op, billErr(row.Line, colOutRefundNo, "empty on a refund row"))
			}
		default:
			continue
		}
		if row.Currency != "" && row.Currency != "CNY" {
			return nil, fmt.Errorf("%s: %w", op, billErr(row.Line, colCurrency, "%q: minishop takes CNY bills only", truncate(row.Currency, 8)))
		}
		out.Lines = append(out.Lines, l)
	}
	return out, nil
}

// pick is a, or b when the layout has no a.
func pick(a, b commerce.Money) commerce.Money {
	if a.IsSet() {
		return a
	}
	return b
}

func refundState(s string) payment.RefundState {
	switch s {
	case "SUCCESS":
		return payment.RefundSucceeded
	case "CLOSED", "ABNORMAL", "FAIL", "REFUNDCLOSE", "CHANGE":
		return payment.RefundFailed
	}
	return payment.RefundProcessing
}

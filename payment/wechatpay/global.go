package wechatpay

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

// Cross-border WeChat Pay (境外支付): the same Client, built with
// Config.CrossBorder, on the /v3/global/ paths. See "Cross-border" in the
// package documentation for what is confirmed and what is not.

// DefaultGlobalName is a cross-border client's provider name in payment
// records when Config.Name is empty. It is not DefaultName on purpose:
// WeChat's shipping-info management (发货信息管理) does not see
// cross-border payments, and the shipping upload acts only on the providers
// it is told about (by default DefaultName), so cross-border orders stay
// out of it.
const DefaultGlobalName = "wechatpay_global"

// Cross-border paths. The transaction, refund and certificate paths are
// WeChat's documented ones; the close path and the refund query path
// follow the domestic shape under /v3/global/ and are NOT CONFIRMED.
const (
	globalTxPrefix          = "/v3/global/transactions/out-trade-no/"
	globalRefundPath        = "/v3/global/refunds"
	globalRefundQueryPrefix = "/v3/global/refunds/out-refund-no/"
)

// globalRateScale is how exchange_rate.rate is written: the rate times
// 10^8, as an integer (NOT CONFIRMED by WeChat's documentation; it is what
// cross-border answers are reported to carry).
const globalRateScale = 8

// GlobalCurrencies are the pricing currencies (标价币种) WeChat's
// cross-border payments take, by ISO 4217 code. A cross-border client
// refuses others before calling WeChat.
var GlobalCurrencies = []string{
	"CNY", "HKD", "GBP", "USD", "JPY", "CAD", "AUD", "EUR", "NZD", "KRW",
	"THB", "SGD", "RUB", "CHF", "SEK", "DKK", "NOK", "AED", "TRY", "MOP",
	"TWD", "CZK", "MYR", "PHP", "IDR", "MNT", "QAR", "HUF", "KHR", "ISK",
}

var globalCurrencySet = func() map[string]bool {
	m := make(map[string]bool, len(GlobalCurrencies))
	for _, c := range GlobalCurrencies {
		m[c] = true
	}
	return m
}()

// global reports whether the client is a cross-border merchant's.
func (c *Client) global() bool { return c.cfg.CrossBorder }

// path picks the domestic or the cross-border path.
func (c *Client) path(domestic, global string) string {
	if c.global() {
		return global
	}
	return domestic
}

// toMinor converts an amount to the integer WeChat sends: fen for a
// domestic client (toFen); for a cross-border one, the amount in the
// smallest unit of its currency (USD 17.50 is 1750, JPY 1235 is 1235: the
// minor digits come from ISO 4217, commerce.MinorDigits), which must be one
// of GlobalCurrencies, whole and positive.
func (c *Client) toMinor(m commerce.Money) (int64, error) {
	if !c.global() {
		return toFen(m)
	}
	if !m.IsSet() {
		return 0, errors.New("missing")
	}
	if code := m.Currency().String(); !globalCurrencySet[code] {
		return 0, fmt.Errorf("%s: %s is not one of WeChat Pay's cross-border pricing currencies", m, code)
	}
	v, err := m.Minor()
	if err != nil {
		return 0, err
	}
	if v <= 0 {
		return 0, fmt.Errorf("%s: must be positive", m)
	}
	return v, nil
}

// fromMinor reads an amount WeChat reports: fen of CNY for a domestic
// client (fromFen); for a cross-border one, minor units of the named
// currency, which is required.
func (c *Client) fromMinor(v int64, cur string) (commerce.Money, error) {
	if !c.global() {
		return fromFen(v, cur)
	}
	u, err := globalCurrency(cur)
	if err != nil {
		return commerce.Money{}, err
	}
	if v < 0 {
		return commerce.Money{}, fmt.Errorf("negative amount %d", v)
	}
	return commerce.FromMinor(v, u), nil
}

func globalCurrency(code string) (currency.Unit, error) {
	if code == "" {
		return currency.Unit{}, errors.New("no currency")
	}
	u, err := currency.ParseISO(code)
	if err != nil || len(code) != 3 {
		return currency.Unit{}, fmt.Errorf("unknown currency %q", truncate(code, 8))
	}
	return u, nil
}

// wireExchangeRate is a cross-border amount's exchange_rate: type
// (SETTLEMENT_RATE) and rate, an integer that is the rate times 10^8.
type wireExchangeRate struct {
	Type string          `json:"type"`
	Rate json.RawMessage `json:"rate"`
}

// globalExchange reads a cross-border amount's payer side: payer (the
// payer_total or payer_refund, named field) in payerCur at rate. It is nil
// when WeChat reports no payer amount, or one in the pricing currency cur
// itself (a CNY-priced payment). A payer amount without payer_currency, or
// a rate that is not a positive integer, is refused: it cannot be recorded
// faithfully. The rate may be absent (Exchange.Rate is then zero).
func globalExchange(cur string, payer *int64, payerCur, field string, rate *wireExchangeRate) (*payment.Exchange, error) {
	if payer == nil {
		return nil, nil
	}
	if payerCur == "" {
		return nil, fmt.Errorf("%s without payer_currency", field)
	}
	if payerCur == cur {
		return nil, nil
	}
	u, err := globalCurrency(payerCur)
	if err != nil {
		return nil, fmt.Errorf("payer_currency: %w", err)
	}
	if *payer < 0 {
		return nil, fmt.Errorf("negative %s %d", field, *payer)
	}
	x := &payment.Exchange{Payer: commerce.FromMinor(*payer, u)}
	if rate != nil {
		raw := string(rate.Rate)
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("exchange_rate.rate %s is not a positive integer (the rate times 10^8)", truncate(cmp.Or(raw, "(missing)"), 40))
		}
		x.Rate = decimal.New(n, -globalRateScale)
		x.RateType = rate.Type
	}
	return x, nil
}

// globalTxID is a cross-border transaction's id: transaction_id, or id
// when only that is sent (WeChat's documents show both; NOT CONFIRMED which
// the answers carry).
func globalTxID(w *wireTransaction) string { return cmp.Or(w.TransactionID, w.ID) }

// globalRefundParties names the merchant and app in a cross-border refund
// body: mchid and appid for a direct merchant; sp_mchid, sp_appid,
// sub_mchid (already set) and sub_appid for an institutional one. The
// cross-border refund body names them (the domestic one does not); NOT
// CONFIRMED which of the app fields WeChat requires.
func (c *Client) globalRefundParties(req *refundRequest, acct payment.Account) {
	if c.partner() {
		req.SpMchID, req.SpAppID, req.SubAppID = c.cfg.MchID, c.cfg.AppID, acct.SubApp
		return
	}
	req.MchID, req.AppID = c.cfg.MchID, c.cfg.AppID
}

// globalMerchantQuery is the query naming the merchant on cross-border
// GETs: mchid=, or sp_mchid=&sub_mchid=.
func (c *Client) globalMerchantQuery(acct payment.Account) string {
	if c.partner() {
		return "sp_mchid=" + url.QueryEscape(c.cfg.MchID) + "&sub_mchid=" + url.QueryEscape(acct.SubMerchant)
	}
	return "mchid=" + url.QueryEscape(c.cfg.MchID)
}

// ErrRefundFundsPending marks a cross-border refund WeChat refused with
// NOT_ENOUGH: the day's CNY refund pool (the merchant's settlement funds
// not yet converted) cannot cover it yet. It is KindUnavailable, so
// minishop retries it later with the same out_refund_no, as WeChat asks.
var ErrRefundFundsPending = errors.New("cross-border refund funds not available yet (NOT_ENOUGH); retry later with the same out_refund_no")

// wrapRefundCall is wrapCall for refunds: a cross-border NOT_ENOUGH is
// retryable (KindUnavailable) rather than the failed precondition an
// APIError reports for it, since the funds arrive later by themselves.
func (c *Client) wrapRefundCall(op string, err error) error {
	var apiErr *APIError
	if c.global() && errors.As(err, &apiErr) && apiErr.Code == "NOT_ENOUGH" {
		return commerce.Errorf(op, commerce.KindUnavailable, "%w: %w", ErrRefundFundsPending, err)
	}
	return wrapCall(op, err)
}

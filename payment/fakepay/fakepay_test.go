package fakepay_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
)

func TestNotificationsVerify(t *testing.T) {
	ctx := context.Background()
	p := fakepay.New()
	_, err := p.CreatePayment(ctx, payment.CreateRequest{PaymentNo: "n1", Amount: commercetest.CNY("9.90")})
	require.NoError(t, err)
	req, err := p.Pay("n1")
	require.NoError(t, err)
	n, err := p.ParseNotification(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, payment.NotifyPayment, n.Kind)
	assert.Equal(t, payment.TxSucceeded, n.Transaction.State)
	assert.Equal(t, "CNY 9.90", n.Transaction.Amount.String())

	// The body changed after signing: refused.
	req, err = p.Pay("n1")
	require.NoError(t, err)
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(strings.NewReader(strings.Replace(string(body), "9.90", "0.01", 1)))
	_, err = p.ParseNotification(ctx, req)
	assert.ErrorContains(t, err, "signature")

	// Signed with another key: refused.
	req, err = p.Pay("n1")
	require.NoError(t, err)
	_, err = fakepay.New(fakepay.WithSecret([]byte("another key"))).ParseNotification(ctx, req)
	assert.ErrorContains(t, err, "signature")
}

func TestRefundsNeverExceedAndRepeat(t *testing.T) {
	ctx := context.Background()
	p := fakepay.New()
	_, err := p.CreatePayment(ctx, payment.CreateRequest{PaymentNo: "n1", Amount: commercetest.CNY("10.00")})
	require.NoError(t, err)
	_, err = p.Refund(ctx, payment.RefundRequest{RefundNo: "r0", PaymentNo: "n1", Amount: commercetest.CNY("1.00")})
	assert.ErrorContains(t, err, "not paid")
	_, err = p.Pay("n1")
	require.NoError(t, err)
	r1, err := p.Refund(ctx, payment.RefundRequest{RefundNo: "r1", PaymentNo: "n1", Amount: commercetest.CNY("6.00")})
	require.NoError(t, err)
	assert.Equal(t, payment.RefundSucceeded, r1.State)
	again, err := p.Refund(ctx, payment.RefundRequest{RefundNo: "r1", PaymentNo: "n1", Amount: commercetest.CNY("6.00")})
	require.NoError(t, err)
	assert.Equal(t, r1.ProviderRef, again.ProviderRef, "the same refund number is one refund")
	_, err = p.Refund(ctx, payment.RefundRequest{RefundNo: "r2", PaymentNo: "n1", Amount: commercetest.CNY("4.01")})
	assert.ErrorContains(t, err, "exceed")
	p.FailNext("Refund", io.ErrUnexpectedEOF)
	_, err = p.Refund(ctx, payment.RefundRequest{RefundNo: "r2", PaymentNo: "n1", Amount: commercetest.CNY("4.00")})
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, 5, p.Calls("Refund"))
}

func TestFailAndClose(t *testing.T) {
	ctx := context.Background()
	p := fakepay.New()
	_, err := p.CreatePayment(ctx, payment.CreateRequest{PaymentNo: "n1", Amount: commercetest.CNY("10.00")})
	require.NoError(t, err)
	req, err := p.Fail("n1")
	require.NoError(t, err)
	n, err := p.ParseNotification(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, payment.TxFailed, n.Transaction.State)
	_, err = p.Pay("n1")
	assert.Error(t, err, "a failed payment cannot be paid")

	_, err = p.CreatePayment(ctx, payment.CreateRequest{PaymentNo: "n2", Amount: commercetest.CNY("10.00")})
	require.NoError(t, err)
	require.NoError(t, p.ClosePayment(ctx, payment.Account{}, "n2"))
	tx, err := p.QueryPayment(ctx, payment.Account{}, "n2")
	require.NoError(t, err)
	assert.Equal(t, payment.TxClosed, tx.State)
	_, err = p.CreatePayment(ctx, payment.CreateRequest{PaymentNo: "n2", Amount: commercetest.CNY("11.00")})
	assert.ErrorContains(t, err, "exists with amount")
}

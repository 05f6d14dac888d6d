package payment

import (
	"fmt"

	"github.com/minishop/minishop/commerce"
)

// FeeSchedule says what a paid order costs the merchant.
//
// Rates are of the amount paid. The channel fee applies to the
// whole payment; the platform's technical service fee goes by product
// category (each line at its category's rate, shipping at the default), and
// both are rounded half-up to the minor unit once per order, as WeChat Pay
// rounds its per-order fee.
type FeeSchedule struct {
	// Channel is the payment channel's fee; WeChat Pay charges 0.6 % on
	// physical goods.
	Channel commerce.Rate
	// Platform is the technical service fee for categories not in
	// PlatformByCategory.
	Platform commerce.Rate
	// PlatformByCategory overrides Platform per product category; 0 % makes
	// a category free.
	PlatformByCategory map[string]commerce.Rate
}

// DefaultFees is WeChat Pay's 0.6 % channel fee and the Mini Store's 1 %
// technical service fee on every category.
func DefaultFees() FeeSchedule {
	return FeeSchedule{Channel: commerce.MustPercent(0.6), Platform: commerce.MustPercent(1)}
}

// Validate checks every rate is between 0 and 100 %.
func (f FeeSchedule) Validate() error {
	check := func(field string, r commerce.Rate) error {
		if r.PPM() < 0 || r.PPM() > commerce.MustPercent(100).PPM() {
			return commerce.Invalid("payment.fees", field, "rate %s is outside 0 %%..100 %%", r)
		}
		return nil
	}
	if err := check("channel", f.Channel); err != nil {
		return err
	}
	if err := check("platform", f.Platform); err != nil {
		return err
	}
	for cat, r := range f.PlatformByCategory {
		if err := check(fmt.Sprintf("platform_by_category[%s]", cat), r); err != nil {
			return err
		}
	}
	return nil
}

// Fees are what a payment costs, fixed when it succeeds.
type Fees struct {
	Channel  commerce.Money
	Platform commerce.Money
}

func (f FeeSchedule) platformRate(category string) commerce.Rate {
	if r, ok := f.PlatformByCategory[category]; ok {
		return r
	}
	return f.Platform
}

// OrderFees computes the fees of order o paid in full: the channel fee on the
// total (on Due when tenders paid part of it, the platform fee then in
// proportion), the platform fee on each line's payable amount (after every
// discount) at its category's rate and on the rest (shipping) at the
// default rate, each summed exactly and rounded half-up once.
func (f FeeSchedule) OrderFees(o *commerce.Order) (Fees, error) {
	total := o.Total
	channel := f.Channel.Of(total)
	platform := commerce.Zero(total.Currency())
	lines := commerce.Zero(total.Currency())
	for _, l := range o.Lines {
		var err error
		if platform, err = platform.Add(f.platformRate(l.Category).OfExact(l.Payable)); err != nil {
			return Fees{}, err
		}
		if lines, err = lines.Add(l.Payable); err != nil {
			return Fees{}, err
		}
	}
	rest, err := total.Sub(lines)
	if err != nil {
		return Fees{}, err
	}
	if platform, err = platform.Add(f.Platform.OfExact(rest)); err != nil {
		return Fees{}, err
	}
	if due := o.Due(); len(o.Tenders) > 0 {
		// Part of the order was paid from stored value, whose money bore
		// its fees when it was topped up: the channel fee is on what the
		// channel collects, the platform fee on that part of the order.
		return Fees{Channel: f.Channel.Of(due), Platform: prorate(platform.Round(), due, total)}, nil
	}
	return Fees{Channel: channel, Platform: platform.Round()}, nil
}

// prorate is part/whole of fee, rounded half-up to the minor unit. Refunds
// return fees cumulatively (what all refunds so far return, minus what the
// earlier ones returned), so the rounding never drifts and a full refund
// returns exactly the fee.
func prorate(fee, part, whole commerce.Money) commerce.Money {
	if whole.IsZero() {
		return commerce.Zero(fee.Currency())
	}
	exp := -commerce.MinorDigits(fee.Currency())
	share := fee.Amount().Mul(part.Amount()).DivRound(whole.Amount(), -exp)
	return commerce.NewMoney(share, fee.Currency())
}

// paymentEntries splits a succeeded payment: the channel and the platform
// take their fees, the merchant the rest.
func paymentEntries(p *Payment) []LedgerEntry {
	net, _ := p.Amount.Sub(p.Fees.Channel)
	net, _ = net.Sub(p.Fees.Platform)
	return []LedgerEntry{
		{Party: PartyMerchant, Amount: net},
		{Party: PartyChannel, Amount: p.Fees.Channel},
		{Party: PartyPlatform, Amount: p.Fees.Platform},
	}
}

// refundEntries gives back what refund r returns, fees in proportion: p's
// succeeded refunds before r are already in p.Refunds as succeeded, r is not.
func refundEntries(p *Payment, r *Refund) []LedgerEntry {
	before := p.RefundedAmount()
	after, _ := before.Add(r.Amount)
	channel, _ := prorate(p.Fees.Channel, after, p.Amount).Sub(prorate(p.Fees.Channel, before, p.Amount))
	platform, _ := prorate(p.Fees.Platform, after, p.Amount).Sub(prorate(p.Fees.Platform, before, p.Amount))
	merchant, _ := r.Amount.Sub(channel)
	merchant, _ = merchant.Sub(platform)
	return []LedgerEntry{
		{Party: PartyMerchant, Amount: merchant.Neg()},
		{Party: PartyChannel, Amount: channel.Neg()},
		{Party: PartyPlatform, Amount: platform.Neg()},
	}
}

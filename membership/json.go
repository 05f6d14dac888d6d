package membership

import (
	"encoding/json"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/legacy"
)

// Stores keep a program as a JSON document of Program. Versions before
// commerce.Rate and PointsPer wrote integer fields in their place; the
// UnmarshalJSON methods read them, so programs stored then load with the
// same figures. Marshalling is encoding/json's, in the current form only.

// UnmarshalJSON reads a tier, with DiscountBP and EarnMultiplierBP (basis
// points) of earlier versions.
func (t *Tier) UnmarshalJSON(b []byte) error {
	type plain Tier
	v := struct {
		*plain
		DiscountBP, EarnMultiplierBP json.RawMessage
	}{plain: (*plain)(t)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	if v.DiscountBP != nil {
		if t.Discount, err = legacy.Rate(v.DiscountBP, legacy.BasisPoints); err != nil {
			return err
		}
	}
	if v.EarnMultiplierBP != nil {
		t.EarnMultiplier, err = legacy.Rate(v.EarnMultiplierBP, legacy.BasisPoints)
	}
	return err
}

// UnmarshalJSON reads a program, with the fields of earlier versions:
// ExpFenPerPoint and FenPerPoint (that many minor units earn one point)
// become Experience and Earn, PointsPerFen (that many points pay one minor
// unit) Redeem, and MaxShareBP (basis points) MaxShare. Those versions kept
// no currency with the rules: the program's MinOrder or first member price
// gives it, and CNY (WeChat's) when it has neither.
func (p *Program) UnmarshalJSON(b []byte) error {
	type plain Program
	v := struct {
		*plain
		ExpFenPerPoint, FenPerPoint, PointsPerFen *int64
		MaxShareBP                                json.RawMessage
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	cur := currency.CNY
	if p.MinOrder.IsSet() {
		cur = p.MinOrder.Currency()
	} else if len(p.MemberPrices) > 0 && p.MemberPrices[0].Price.IsSet() {
		cur = p.MemberPrices[0].Price.Currency()
	}
	perMinor := func(n *int64, points int64) PointsPer { // n minor units earn points
		return PointsPer{Points: points, Per: commerce.FromMinor(*n, cur)}
	}
	if n := v.ExpFenPerPoint; n != nil && *n > 0 {
		p.Experience = perMinor(n, 1)
	}
	if n := v.FenPerPoint; n != nil && *n > 0 {
		p.Earn = perMinor(n, 1)
	}
	if n := v.PointsPerFen; n != nil && *n > 0 {
		one := int64(1)
		p.Redeem = perMinor(&one, *n)
	}
	if v.MaxShareBP != nil {
		var err error
		if p.MaxShare, err = legacy.Rate(v.MaxShareBP, legacy.BasisPoints); err != nil {
			return err
		}
	}
	return nil
}

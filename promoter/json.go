package promoter

import (
	"encoding/json"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/legacy"
)

// Stores keep agencies, plans and commissions as JSON documents of these
// structs. Versions before commerce.Rate wrote their rates as integer ppm
// (120000 for 12 %); the UnmarshalJSON methods read both forms, so records
// stored then still load. Marshalling is encoding/json's: rates as "12%".

// UnmarshalJSON reads an agency in either form.
func (a *Agency) UnmarshalJSON(b []byte) error {
	type plain Agency
	v := struct {
		*plain
		PromoterShare, Overrides json.RawMessage
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	if a.PromoterShare, err = legacy.Rate(v.PromoterShare, legacy.PPM); err != nil {
		return err
	}
	a.Overrides, err = legacy.Rates[commerce.ProductID](v.Overrides, legacy.PPM)
	return err
}

// UnmarshalJSON reads a plan in either form.
func (p *Plan) UnmarshalJSON(b []byte) error {
	type plain Plan
	v := struct {
		*plain
		Rate json.RawMessage
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	p.Rate, err = legacy.Rate(v.Rate, legacy.PPM)
	return err
}

// UnmarshalJSON reads a commission in either form.
func (c *Commission) UnmarshalJSON(b []byte) error {
	type plain Commission
	v := struct {
		*plain
		Rate json.RawMessage
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	c.Rate, err = legacy.Rate(v.Rate, legacy.PPM)
	return err
}

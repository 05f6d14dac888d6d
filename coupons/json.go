package coupons

import (
	"encoding/json"

	"github.com/minishop/minishop/internal/legacy"
)

// UnmarshalJSON reads a batch as stores keep it (a JSON document of the
// struct). Versions before commerce.Rate wrote PercentOff as integer basis
// points (1500 for 15 %); both forms load, so batches stored then keep
// their discount. Marshalling is encoding/json's: PercentOff as "15%".
func (b *Batch) UnmarshalJSON(data []byte) error {
	type plain Batch
	v := struct {
		*plain
		PercentOff json.RawMessage
	}{plain: (*plain)(b)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	var err error
	b.PercentOff, err = legacy.Rate(v.PercentOff, legacy.BasisPoints)
	return err
}

package httpapi_test

import (
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/httpapi"
)

var update = flag.Bool("update", false, "rewrite the OpenAPI documents' schemas from the Go types")

// schemaTypes are the request and response shapes the documents describe,
// by schema name.
var schemaTypes = []any{
	httpapi.Attribute{}, httpapi.SKU{}, httpapi.Product{}, httpapi.List[httpapi.Product]{}, httpapi.Cart{}, httpapi.CartLine{},
	httpapi.Adjustment{}, httpapi.Line{}, httpapi.Quote{}, httpapi.Address{}, httpapi.Shipment{}, httpapi.Refund{}, httpapi.Order{},
	httpapi.List[httpapi.Order]{}, httpapi.Payment{}, httpapi.LineRequest{}, httpapi.QuoteRequest{}, httpapi.CheckoutRequest{},
	httpapi.CartItemRequest{}, httpapi.PayRequest{}, httpapi.RefundRequest{}, httpapi.RefundItem{}, httpapi.ProductRequest{},
	httpapi.SKURequest{}, httpapi.StockRequest{}, httpapi.ShipRequest{},
	httpapi.SendGiftRequest{}, httpapi.SentGift{}, httpapi.Gift{}, httpapi.GiftLine{}, httpapi.List[httpapi.Gift]{}, httpapi.GiftLink{},
	httpapi.GiftOption{}, httpapi.AcceptGiftRequest{}, httpapi.ClaimedSlot{}, httpapi.Group{}, httpapi.GroupMember{},
	httpapi.GroupActivity{}, httpapi.GroupItem{}, httpapi.Coupon{}, httpapi.CouponBatch{}, httpapi.List[httpapi.Coupon]{},
	httpapi.ClaimCouponRequest{}, httpapi.MemberCard{}, httpapi.PointsEntry{}, httpapi.List[httpapi.PointsEntry]{},
	httpapi.ShareLinkRequest{}, httpapi.ShareLink{}, httpapi.Sharer{}, httpapi.List[httpapi.Sharer]{}, httpapi.PromoterStatement{},
	httpapi.Near{}, httpapi.Point{},
}

// schemaName is the document's name of a Go type: List[T] is TList.
func schemaName(t reflect.Type) string {
	if name, ok := strings.CutPrefix(t.Name(), "List["); ok {
		return name[strings.LastIndex(name, ".")+1:len(name)-1] + "List"
	}
	return t.Name()
}

var (
	moneyType = reflect.TypeFor[commerce.Money]()
	rateType  = reflect.TypeFor[commerce.Rate]()
	timeType  = reflect.TypeFor[time.Time]()
)

// propertySchema is the JSON Schema of a field's type.
func propertySchema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == moneyType:
		return map[string]any{"$ref": "#/components/schemas/Money"}
	case t == rateType:
		return map[string]any{"type": "string"}
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": propertySchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": propertySchema(t.Elem())}
	case reflect.Struct:
		return map[string]any{"$ref": "#/components/schemas/" + schemaName(t)}
	}
	panic("no schema for " + t.String())
}

// objectSchema is the schema of a struct: its JSON fields (embedded
// structs' flattened), required unless omitempty.
func objectSchema(t reflect.Type) map[string]any {
	props, required := map[string]any{}, []any{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			props[name] = propertySchema(f.Type)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	return map[string]any{"type": "object", "additionalProperties": false, "properties": props, "required": required}
}

// shape keeps what the Go type decides of a schema (types, references,
// formats, fields), not what the document adds (enums, patterns, prose).
func shape(v any) any {
	switch s := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range s {
			switch k {
			case "type", "$ref", "format", "items", "additionalProperties":
				out[k] = shape(x)
			case "properties":
				ps := map[string]any{}
				for name, p := range x.(map[string]any) {
					ps[name] = shape(p)
				}
				out[k] = ps
			case "required":
				var names []string
				for _, n := range x.([]any) {
					names = append(names, n.(string))
				}
				slices.Sort(names)
				out[k] = names
			}
		}
		return out
	}
	return v
}

// The documents' schemas are those of the Go types the handlers encode
// and decode: a field added, dropped or retyped in Go fails here until the
// documents follow (go test ./httpapi -run TestOpenAPISchemas -update).
func TestOpenAPISchemas(t *testing.T) {
	for _, file := range []string{"openapi_customer.json", "openapi_merchant.json"} {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var doc map[string]any
			require.NoError(t, json.Unmarshal(raw, &doc))
			schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
			for _, v := range schemaTypes {
				typ := reflect.TypeOf(v)
				name, want := schemaName(typ), objectSchema(typ)
				if *update {
					schemas[name] = merge(schemas[name], want)
					continue
				}
				assert.Equal(t, jsonOf(t, shape(want)), jsonOf(t, shape(schemas[name])), "schema %s", name)
			}
			refs := map[string]bool{}
			collectRefs(doc, refs)
			for ref := range refs {
				assert.Contains(t, schemas, ref, "%s is referenced but not defined", ref)
			}
			if *update {
				require.NoError(t, os.WriteFile(file, encodeDoc(t, doc), 0o644))
			}
		})
	}
}

// merge is want with what the document had added to the properties it
// keeps unchanged (an enum, a pattern, a description).
func merge(had any, want map[string]any) map[string]any {
	old, _ := had.(map[string]any)
	oldProps, _ := old["properties"].(map[string]any)
	for name, p := range want["properties"].(map[string]any) {
		if o, ok := oldProps[name]; ok && reflect.DeepEqual(shape(o), shape(p)) {
			want["properties"].(map[string]any)[name] = o
		}
	}
	if d, ok := old["description"]; ok {
		want["description"] = d
	}
	return want
}

func collectRefs(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			if s, ok := y.(string); ok && k == "$ref" {
				into[strings.TrimPrefix(s, "#/components/schemas/")] = true
			}
			collectRefs(y, into)
		}
	case []any:
		for _, y := range x {
			collectRefs(y, into)
		}
	}
}

// encodeDoc writes a document with its sections in the usual order
// (openapi, info, paths, components), each one's keys sorted.
func encodeDoc(t *testing.T, doc map[string]any) []byte {
	out := []byte("{")
	for i, k := range []string{"openapi", "info", "paths", "components"} {
		b, err := json.MarshalIndent(doc[k], " ", " ")
		require.NoError(t, err)
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, "\n \""+k+"\": "...)
		out = append(out, b...)
	}
	return append(unescape(out), "\n}\n"...)
}

func jsonOf(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// unescape undoes encoding/json's HTML escaping, which the documents do
// not need.
func unescape(b []byte) []byte {
	s := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
	return []byte(s)
}

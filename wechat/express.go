package wechat

import (
	"context"
	"net/http"
)

// ExpressCompany is a delivery company the shipping service knows: ID is
// the code an upload's express_company carries (YTO, ZTO, SF...).
type ExpressCompany struct {
	ID   string `json:"delivery_id"`
	Name string `json:"delivery_name"`
}

// ExpressCompanies lists the delivery companies of the shipping service.
// The list changes rarely; a host caches it.
func (c *Client) ExpressCompanies(ctx context.Context) ([]ExpressCompany, error) {
	var out struct {
		List []ExpressCompany `json:"delivery_list"`
	}
	// The body is documented as empty, but an empty POST is answered
	// 44002: {} is sent.
	err := c.call(ctx, request{op: "wechat.express_companies", method: http.MethodPost,
		path: "/cgi-bin/express/delivery/open_msg/get_delivery_list", token: true}, &out)
	return out.List, err
}

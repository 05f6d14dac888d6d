package wechattest

import "net/http"

// ExpressCompanies are the delivery companies the platform knows, by code;
// a shipping upload naming another is refused.
var ExpressCompanies = map[string]string{
	"SF": "顺丰速运", "YTO": "圆通速递", "ZTO": "中通快递", "STO": "申通快递", "YD": "韵达快递",
	"JD": "京东物流", "EMS": "中国邮政速递物流", "DBL": "德邦快递", "JTSD": "极兔速递",
}

func init() {
	register("/cgi-bin/express/delivery/open_msg/get_delivery_list", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		if len(c.body) == 0 {
			return nil, errf(44002, "empty post data")
		}
		var in struct{}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		var list []map[string]string
		for id, name := range ExpressCompanies {
			list = append(list, map[string]string{"delivery_id": id, "delivery_name": name})
		}
		return map[string]any{"delivery_list": list, "count": len(list)}, nil
	})
}

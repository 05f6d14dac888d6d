package wechattest

import (
	"net/http"
	"time"
	"unicode/utf8"
)

// Shipping is what the platform holds of a payment's shipping info.
type Shipping struct {
	TransactionID, OutTradeNo, MchID, OpenID string
	AmountFen                                int64
	// State is the payment's order_state: 1 unshipped, 2 shipped,
	// 3 receipt confirmed, 4 completed (settled), 5 refunded.
	State int
	// Uploads counts the shipping uploads WeChat took: 1 is a shipped
	// payment, 2 one that used its update.
	Uploads       int
	LogisticsType int
	DeliveryMode  int
	AllDelivered  bool
	List          []ShippedParcel
	UploadTime    time.Time
	// Special is the shipping date of a special-order report (zero: none).
	Special            time.Time
	SpecialType        int
	ConfirmNotified    bool
	ConfirmReceiveTime time.Time
}

// ShippedParcel is one entry of an upload's shipping_list.
type ShippedParcel struct {
	TrackingNo, ExpressCompany, ItemDesc, ReceiverContact string
}

type shippingState struct {
	payments map[string]*Shipping // by transaction id
	managed  bool
	jumpPath string
}

func (p *Platform) shipping() *shippingState {
	return stateOf(p, "shipping", func() *shippingState {
		return &shippingState{payments: map[string]*Shipping{}, managed: true}
	})
}

// AddPayment makes a WeChat Pay payment known to the shipping service, as
// WeChat does a few seconds after it succeeds: until then uploads for it
// are answered 10060001.
func (p *Platform) AddPayment(transactionID, outTradeNo, mchid, openid string, amountFen int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shipping().payments[transactionID] = &Shipping{TransactionID: transactionID, OutTradeNo: outTradeNo, MchID: mchid, OpenID: openid,
		AmountFen: amountFen, State: 1}
}

// ShippingOf returns what the platform holds for a payment.
func (p *Platform) ShippingOf(transactionID string) (Shipping, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.shipping().payments[transactionID]
	if !ok {
		return Shipping{}, false
	}
	c := *s
	c.List = append([]ShippedParcel(nil), s.List...)
	return c, true
}

// ConfirmReceipt is the buyer confirming receipt in WeChat; Settle is the
// funds settling. Each moves a shipped payment on one state.
func (p *Platform) ConfirmReceipt(transactionID string) bool { return p.move(transactionID, 2, 3) }
func (p *Platform) Settle(transactionID string) bool         { return p.move(transactionID, 3, 4) }

func (p *Platform) move(txn string, from, to int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.shipping().payments[txn]
	if !ok || s.State != from {
		return false
	}
	s.State = to
	return true
}

// SetTradeManaged sets what is_trade_managed answers (true by default).
func (p *Platform) SetTradeManaged(managed bool) {
	p.mu.Lock()
	p.shipping().managed = managed
	p.mu.Unlock()
}

// JumpPath is the path set_msg_jump_path last set.
func (p *Platform) JumpPath() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shipping().jumpPath
}

type wireOrderKey struct {
	OrderNumberType int    `json:"order_number_type"`
	TransactionID   string `json:"transaction_id"`
	MchID           string `json:"mchid"`
	OutTradeNo      string `json:"out_trade_no"`
}

// payment finds the payment an order key names; p.mu is held.
func (st *shippingState) payment(k wireOrderKey) (*Shipping, error) {
	switch k.OrderNumberType {
	case 2:
		if k.TransactionID == "" {
			return nil, errf(47001, "order_key.transaction_id missing")
		}
		if s, ok := st.payments[k.TransactionID]; ok {
			return s, nil
		}
	case 1:
		if k.MchID == "" || k.OutTradeNo == "" {
			return nil, errf(47001, "order_key.mchid and out_trade_no required")
		}
		for _, s := range st.payments {
			if s.MchID == k.MchID && s.OutTradeNo == k.OutTradeNo {
				return s, nil
			}
		}
	default:
		return nil, errf(47001, "order_key.order_number_type must be 1 or 2")
	}
	return nil, errf(10060001, "支付单不存在")
}

func (st *shippingState) byTxnOrTradeNo(txn, merchant, tradeNo string) (*Shipping, error) {
	if txn != "" {
		return st.payment(wireOrderKey{OrderNumberType: 2, TransactionID: txn})
	}
	return st.payment(wireOrderKey{OrderNumberType: 1, MchID: merchant, OutTradeNo: tradeNo})
}

func init() {
	register("/wxa/sec/order/upload_shipping_info", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			OrderKey       wireOrderKey `json:"order_key"`
			LogisticsType  int          `json:"logistics_type"`
			DeliveryMode   int          `json:"delivery_mode"`
			IsAllDelivered *bool        `json:"is_all_delivered"`
			ShippingList   []struct {
				TrackingNo     string `json:"tracking_no"`
				ExpressCompany string `json:"express_company"`
				ItemDesc       string `json:"item_desc"`
				Contact        *struct {
					ConsignorContact string `json:"consignor_contact"`
					ReceiverContact  string `json:"receiver_contact"`
				} `json:"contact"`
			} `json:"shipping_list"`
			UploadTime string `json:"upload_time"`
			Payer      struct {
				OpenID string `json:"openid"`
			} `json:"payer"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		st := p.shipping()
		s, err := st.payment(in.OrderKey)
		if err != nil {
			return nil, err
		}
		at, perr := time.Parse(time.RFC3339Nano, in.UploadTime)
		switch {
		case in.Payer.OpenID == "":
			return nil, errf(47001, "payer.openid missing")
		case in.Payer.OpenID != s.OpenID:
			return nil, errf(10060002, "payer openid does not match the payment")
		case in.LogisticsType < 1 || in.LogisticsType > 4:
			return nil, errf(47001, "logistics_type must be 1 to 4")
		case in.DeliveryMode != 1 && in.DeliveryMode != 2:
			return nil, errf(47001, "delivery_mode must be 1 or 2")
		case len(in.ShippingList) == 0 || len(in.ShippingList) > 15:
			return nil, errf(47001, "shipping_list must hold 1 to 15 entries")
		case in.DeliveryMode == 1 && len(in.ShippingList) != 1:
			return nil, errf(268485228, "统一发货模式下，物流信息列表长度必须为1")
		case in.DeliveryMode == 2 && in.LogisticsType != 1:
			return nil, errf(268485229, "非快递发货时不允许分拆发货")
		case in.DeliveryMode == 1 && in.IsAllDelivered != nil:
			return nil, errf(47001, "is_all_delivered is for split delivery")
		case perr != nil:
			return nil, errf(47001, "upload_time %q is not RFC 3339", in.UploadTime)
		case s.State >= 3:
			return nil, errf(10060004, "支付单处于不可发货的状态")
		case s.Uploads >= 2:
			return nil, errf(10060003, "支付单已使用重新发货机会")
		case s.Uploads > 0 && !at.After(s.UploadTime):
			return nil, errf(47001, "upload_time must be later than the last upload's")
		}
		var list []ShippedParcel
		for _, it := range in.ShippingList {
			switch {
			case it.ItemDesc == "" || utf8.RuneCountInString(it.ItemDesc) > 120:
				return nil, errf(47001, "item_desc must be 1 to 120 characters")
			case in.LogisticsType == 1 && it.TrackingNo == "":
				return nil, errf(47001, "tracking_no is required for express")
			case in.LogisticsType == 1 && ExpressCompanies[it.ExpressCompany] == "":
				return nil, errf(47001, "express_company %q is not a delivery_id of get_delivery_list", it.ExpressCompany)
			case in.LogisticsType != 1 && (it.TrackingNo != "" || it.ExpressCompany != ""):
				return nil, errf(47001, "tracking_no and express_company are for express")
			case it.ExpressCompany == "SF" && (it.Contact == nil || it.Contact.ReceiverContact == "" && it.Contact.ConsignorContact == ""):
				return nil, errf(47001, "contact is required for SF")
			}
			sp := ShippedParcel{TrackingNo: it.TrackingNo, ExpressCompany: it.ExpressCompany, ItemDesc: it.ItemDesc}
			if it.Contact != nil {
				sp.ReceiverContact = it.Contact.ReceiverContact
			}
			list = append(list, sp)
		}
		s.Uploads++
		s.State, s.LogisticsType, s.DeliveryMode, s.List, s.UploadTime = 2, in.LogisticsType, in.DeliveryMode, list, at
		s.AllDelivered = in.DeliveryMode == 1 || in.IsAllDelivered != nil && *in.IsAllDelivered
		return map[string]any{}, nil
	})
	register("/wxa/sec/order/get_order", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			TransactionID   string `json:"transaction_id"`
			MerchantID      string `json:"merchant_id"`
			SubMerchantID   string `json:"sub_merchant_id"`
			MerchantTradeNo string `json:"merchant_trade_no"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		s, err := p.shipping().byTxnOrTradeNo(in.TransactionID, in.MerchantID, in.MerchantTradeNo)
		if err != nil {
			return nil, err
		}
		var list []map[string]any
		for _, it := range s.List {
			list = append(list, map[string]any{"tracking_no": it.TrackingNo, "express_company": it.ExpressCompany, "goods_desc": it.ItemDesc,
				"upload_time": s.UploadTime.Unix()})
		}
		return map[string]any{"order": map[string]any{"transaction_id": s.TransactionID, "merchant_id": s.MchID,
			"merchant_trade_no": s.OutTradeNo, "openid": s.OpenID, "paid_amount": s.AmountFen, "order_state": s.State, "in_complaint": false,
			"shipping": map[string]any{"delivery_mode": s.DeliveryMode, "logistics_type": s.LogisticsType, "finish_shipping": s.State >= 2 && s.AllDelivered,
				"finish_shipping_count": s.Uploads, "shipping_list": list}}}, nil
	})
	register("/wxa/sec/order/notify_confirm_receive", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			TransactionID   string `json:"transaction_id"`
			MerchantID      string `json:"merchant_id"`
			SubMerchantID   string `json:"sub_merchant_id"`
			MerchantTradeNo string `json:"merchant_trade_no"`
			ReceivedTime    int64  `json:"received_time"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		s, err := p.shipping().byTxnOrTradeNo(in.TransactionID, in.MerchantID, in.MerchantTradeNo)
		switch {
		case err != nil:
			return nil, err
		case s.State != 2 || s.LogisticsType != 1:
			return nil, errf(10060004, "支付单处于不可发货的状态")
		case s.ConfirmNotified:
			return nil, errf(10060023, "确认收货提醒已发送过")
		case in.ReceivedTime <= 0 || time.Unix(in.ReceivedTime, 0).Before(s.UploadTime.Add(-time.Minute)):
			return nil, errf(47001, "received_time must be after shipping")
		}
		s.ConfirmNotified, s.ConfirmReceiveTime = true, time.Unix(in.ReceivedTime, 0)
		return map[string]any{}, nil
	})
	register("/wxa/sec/order/opspecialorder", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			OrderID string `json:"order_id"`
			Type    int    `json:"type"`
			DelayTo int64  `json:"delay_to"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		st := p.shipping()
		s, ok := st.payments[in.OrderID]
		if !ok {
			for _, x := range st.payments {
				if x.OutTradeNo == in.OrderID {
					s, ok = x, true
				}
			}
		}
		now := p.now()
		switch {
		case !ok:
			return nil, errf(10060001, "支付单不存在")
		case in.Type != 1 && in.Type != 2:
			return nil, errf(47001, "type must be 1 (presale) or 2 (test)")
		case s.State != 1:
			return nil, errf(10060004, "支付单处于不可发货的状态")
		case in.Type == 1 && (time.Unix(in.DelayTo, 0).Before(now.Add(15*24*time.Hour)) || time.Unix(in.DelayTo, 0).After(now.Add(330*24*time.Hour))):
			return nil, errf(47001, "delay_to must be 15 to 330 days after payment")
		}
		s.Special, s.SpecialType = time.Unix(in.DelayTo, 0), in.Type
		return map[string]any{}, nil
	})
	register("/wxa/sec/order/is_trade_managed", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			AppID string `json:"appid"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		if in.AppID != p.appID {
			return nil, errf(40013, "invalid appid")
		}
		return map[string]any{"is_trade_managed": p.shipping().managed}, nil
	})
	register("/wxa/sec/order/set_msg_jump_path", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			Path string `json:"path"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		if in.Path == "" {
			return nil, errf(47001, "path missing")
		}
		p.shipping().jumpPath = in.Path
		return map[string]any{}, nil
	})
}

// RemovePayment forgets a payment, as WeChat does not know one for a few
// seconds after it succeeds.
func (p *Platform) RemovePayment(transactionID string) {
	p.mu.Lock()
	delete(p.shipping().payments, transactionID)
	p.mu.Unlock()
}

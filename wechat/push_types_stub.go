package wechat

type Message struct {
	ToUserName, FromUserName                                                          string
	CreateTime                                                                        int64
	MsgType, Event                                                                    string
	TransactionID, MerchantID, SubMerchantID, MerchantTradeNo                         string
	PayTime, ShippedTime, EstimatedSettlementTime, ConfirmReceiveTime, SettlementTime int64
	ConfirmReceiveMethod                                                              int
	Msg                                                                               string
	Subscriptions                                                                     []SubscriptionChange
	Format                                                                            string
	Raw                                                                               []byte
}
type SubscriptionChange struct {
	TemplateID, Status string
	PopupScene         int
	MsgID              string
	ErrorCode          int
	ErrorStatus        string
}

const (
	EventSubscribePopup  = "subscribe_msg_popup_event"
	EventSubscribeChange = "subscribe_msg_change_event"
	EventSubscribeSent   = "subscribe_msg_sent_event"
)

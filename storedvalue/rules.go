package storedvalue

import (
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

// China's rules on single-purpose commercial prepaid cards (单用途商业预付
// 卡, issued by a shop for its own goods: MOFCOM's 单用途商业预付卡管理办法
// (试行), Order No. 9 of 2012, with the State Council's 2011 opinion on
// commercial prepaid cards, 国办发〔2011〕25号), as the service enforces
// them for merchants whose currency is CNY unless Config.NoPrepaidRules is
// set:
//
//   - A registered card (记名卡: tied to a named holder) holds at most
//     5,000.00; an anonymous card (不记名卡) at most 1,000.00. A
//     customer's balance is registered: a top-up or redemption that would
//     take it past 5,000.00 is refused (ErrLimit). A physical card sold
//     over the counter is anonymous until a customer binds it: its face
//     value is at most 1,000.00. An e-card is bought by a named customer:
//     at most 5,000.00.
//   - A registered card has no expiry; an anonymous card's validity is at
//     least three years. So e-card batches carry no validity and physical
//     batches none or three years or more. A card that expires with money
//     left is reactivated on request (ReactivateCard: a new term from
//     then), as the rules ask of the issuer (激活、换卡等配套服务).
//   - Buying cards for 10,000.00 or more at once needs the buyer's real
//     name and identity document, which minishop does not collect: such an
//     order is refused (ErrRealName).
//   - A registered card may be reported lost (ReportCardLost moves its
//     value to a new card) and redeemed; an anonymous one may not. Card money is
//     never paid out in cash; a top-up's refund returns only unspent
//     principal through the channel it came by.
const (
	registeredLimitFen = 5_000_00
	anonymousLimitFen  = 1_000_00
	realNameFen        = 10_000_00
	anonymousValidity  = 3 * 365 * 24 * time.Hour
)

// rulesApply reports whether the prepaid-card rules bind a merchant in cur.
func (s *Service) rulesApply(cur currency.Unit) bool { return !s.noRules && cur == currency.CNY }

// overLimit reports whether m passes a rule's limit in fen.
func overLimit(m commerce.Money, fen int64) bool {
	v, err := m.Minor()
	return err != nil || v > fen
}

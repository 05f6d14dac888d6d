package payment

import (
	"fmt"

	"github.com/minishop/minishop/commerce"
)

// PayeeKind is what kind of account a Payee is at the channel.
type PayeeKind string

// Payee kinds.
const (
	// PayeePerson is a person, known by their openid under App (WeChat:
	// PERSONAL_OPENID under the paying merchant's app, PERSONAL_SUB_OPENID
	// under a sub-merchant's own app).
	PayeePerson PayeeKind = "person"
	// PayeeBusiness is a business, known by its merchant number at the
	// channel (WeChat: MERCHANT_ID).
	PayeeBusiness PayeeKind = "business"
)

// Payee is an account at a payment channel that money can be sent to: a
// promoter's or an agency's, the receiver of a profit share or a transfer.
type Payee struct {
	Kind PayeeKind
	// Account is the person's openid or the business's merchant number.
	Account string
	// App is the app a person's openid belongs to (an openid means nothing
	// under another app); empty for a business.
	App string
	// Name is the real name (a business's full registered name). WeChat
	// requires it for a business receiver and for a transfer of 2,000 yuan
	// or more, and checks it against its real-name records when given; it
	// travels encrypted.
	Name string
}

// Validate reports what is wrong with p, naming the field.
func (p Payee) Validate(op, field string) error {
	switch p.Kind {
	case PayeePerson:
		if p.App == "" {
			return commerce.Invalid(op, field+".app", "required for a person: an openid belongs to one app")
		}
	case PayeeBusiness:
		if p.Name == "" {
			return commerce.Invalid(op, field+".name", "required for a business (its full registered name)")
		}
		if p.App != "" {
			return commerce.Invalid(op, field+".app", "a business is known by its merchant number, not under an app")
		}
	default:
		return commerce.Invalid(op, field+".kind", "%q is not %q or %q", p.Kind, PayeePerson, PayeeBusiness)
	}
	if err := commerce.CheckKey(op, field+".account", p.Account, true, 64); err != nil {
		return err
	}
	if err := commerce.CheckKey(op, field+".app", p.App, false, 32); err != nil {
		return err
	}
	return commerce.CheckText(op, field+".name", p.Name, false, commerce.MaxNameLen)
}

// PayeeFor picks, from a party's payees, the one that can receive money
// from a merchant paying under app: the person with an openid under app,
// or else a business. It fails, naming what is missing, when there is
// none.
func PayeeFor(payees []Payee, app string) (Payee, error) {
	var business *Payee
	for i, p := range payees {
		switch {
		case p.Kind == PayeePerson && p.App == app:
			return p, nil
		case p.Kind == PayeeBusiness && business == nil:
			business = &payees[i]
		}
	}
	if business != nil {
		return *business, nil
	}
	return Payee{}, fmt.Errorf("no payee under app %s (a person's openid under that app, or a business)", app)
}

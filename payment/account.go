package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// kindAccount is the record kind of a merchant's channel account, keyed by
// provider and merchant.
const kindAccount = "payment.account"

func accountKey(provider string, merchant commerce.MerchantID) string {
	return provider + ":" + merchant.String()
}

// SetAccount records the merchant's account at a channel: the sub-merchant
// a service provider's channel pays the merchant into (WeChat partner mode:
// sub_mchid, and sub_appid when the merchant has its own Mini Program). A
// merchant with no account set is the channel's own (direct) merchant.
//
// The channel checks the account first when it can (AccountChecker): a
// service provider's channel refuses an empty one, a direct merchant's any
// sub-merchant. Payments already opened keep the account they were opened
// with; every later call about them names it.
func (s *Service) SetAccount(ctx context.Context, merchant commerce.MerchantID, provider string, a Account) error {
	const op = "payment.set_account"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	prov, err := s.provider(op, provider)
	if err != nil {
		return err
	}
	if err := commerce.CheckKey(op, "account.sub_merchant", a.SubMerchant, false, 32); err != nil {
		return err
	}
	if err := commerce.CheckKey(op, "account.sub_app", a.SubApp, false, 32); err != nil {
		return err
	}
	if a.SubMerchant == "" && a.SubApp != "" {
		return commerce.Invalid(op, "account.sub_app", "a sub app belongs to a sub-merchant; none is given")
	}
	if ch, ok := prov.(AccountChecker); ok {
		if err := ch.CheckAccount(a); err != nil {
			return commerce.Invalid(op, "account", "%v", err)
		}
	}
	if _, err := s.commerce.GetMerchant(ctx, merchant); err != nil {
		return commerce.NotFoundAs(op, "merchant_id", err)
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return commerce.Wrap(op, err)
	}
	return commerce.Wrap(op, s.setRecord(ctx, kindAccount, accountKey(prov.Name(), merchant), "set", doc))
}

// setRecord writes a merchant setting's record (an account, a sharing
// plan), inserting it or replacing the one there.
func (s *Service) setRecord(ctx context.Context, kind, key, status string, doc []byte) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		r, err := s.store.GetRecord(ctx, kind, key)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		r.Kind, r.Key, r.Status, r.Doc, r.Updated = kind, key, status, doc, s.now()
		_, err = s.store.SaveRecord(ctx, r)
		return err
	})
}

// Account returns the merchant's account at a channel (provider may be
// empty when only one channel is set up): the zero Account for a direct
// merchant.
func (s *Service) Account(ctx context.Context, merchant commerce.MerchantID, provider string) (Account, error) {
	const op = "payment.account"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return Account{}, err
	}
	prov, err := s.provider(op, provider)
	if err != nil {
		return Account{}, err
	}
	a, err := s.account(ctx, merchant, prov.Name())
	return a, commerce.Wrap(op, err)
}

func (s *Service) account(ctx context.Context, merchant commerce.MerchantID, provider string) (Account, error) {
	var a Account
	_, err := s.setting(ctx, kindAccount, accountKey(provider, merchant), &a)
	return a, err
}

// setting decodes a merchant setting's record into v and returns its
// status; "" and v untouched when there is none.
func (s *Service) setting(ctx context.Context, kind, key string, v any) (string, error) {
	r, err := s.store.GetRecord(ctx, kind, key)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(r.Doc, v); err != nil {
		return "", fmt.Errorf("%s record %s: %w", kind, r.Key, err)
	}
	return r.Status, nil
}

// sameAccount rejects a channel's report about a payment that names
// another account than the payment's: a notification for a sub-merchant
// the payment does not belong to (WeChat signs it for the service
// provider, whichever sub-merchant it names). A report that names no sub
// app is not held against a payment opened under one.
func sameAccount(pay *Payment, a Account) error {
	if a.SubMerchant != pay.Account.SubMerchant {
		return reject("payment %s belongs to sub-merchant %q, the channel reports sub-merchant %q", pay.PaymentNo, pay.Account.SubMerchant, a.SubMerchant)
	}
	if a.SubApp != "" && a.SubApp != pay.Account.SubApp {
		return reject("payment %s was opened under sub app %q, the channel reports %q", pay.PaymentNo, pay.Account.SubApp, a.SubApp)
	}
	return nil
}

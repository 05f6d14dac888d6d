package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// The story runs end to end, twice on one database file (a second shop,
// the relays carrying on from their cursors).
func TestMiniProgramStory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.db")
	for range 2 {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, db))
		s := out.String()
		assert.Contains(t, s, "under shipping-info management: true")
		assert.Contains(t, s, "session token for the shop's API verifies")
		assert.Contains(t, s, "1 message allowed")
		assert.Contains(t, s, "finished 1 WeChat shipping record, finished 1 WeChat message")
		assert.Contains(t, s, `WeChat holds: SF SF1234567890123, "西湖龙井 100 g", receiver 138****1234 (order state 2)`)
		assert.Contains(t, s, "subscription message TPL-order-shipped sent")
		assert.Contains(t, s, "a forged push got 401")
		assert.Equal(t, 1, strings.Count(s, "outbox: wechat.settlement_estimated"), "a redelivered push applies once")
		assert.Equal(t, 1, strings.Count(s, "outbox: wechat.order_settled"))
		assert.Regexp(t, `scene "[0-9A-Za-z]{10}" → share payload of \d+ bytes`, s)
	}
}

// The app's secrets never reach the shop's output, its outbox or any row of
// its database, but where each belongs: the access token in its record,
// the session key in the customer's session record.
func TestMiniProgramKeepsSecrets(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.db")
	var out bytes.Buffer
	var plat *wechattest.Platform
	var engine *minishop.Engine
	var payKey string
	var evs []commerce.Event
	tokens := map[string]string{}
	ctx := context.Background()
	require.NoError(t, story(ctx, &out, db, func(p *wechattest.Platform, pay *wechatpaytest.Platform, e *minishop.Engine) {
		plat, engine, payKey = p, e, pay.Config("https://x.example/").APIv3Key
		rec, err := engine.WeChat.Store().GetRecord(ctx, wechat.KindAccessToken, plat.AppID())
		require.NoError(t, err)
		var tok struct {
			Token string `json:"token"`
		}
		require.NoError(t, json.Unmarshal(rec.Doc, &tok))
		require.NotEmpty(t, tok.Token)
		tokens["access token"] = tok.Token
		evs, err = engine.Commerce.ReadEvents(ctx, 0, 1000)
		require.NoError(t, err)
	}))
	secrets := map[string]string{"AppSecret": plat.Secret(), "EncodingAESKey": encodingAESKey, "push token": pushToken,
		"APIv3 key": payKey, "session secret": "a session secret of 128 bits+"}
	var sessionKeys []string
	for _, u := range plat.Users() {
		sessionKeys = append(sessionKeys, plat.SessionKeys(u.OpenID)...)
	}
	require.NotEmpty(t, sessionKeys)
	for i, k := range sessionKeys {
		raw, err := base64.StdEncoding.DecodeString(k)
		require.NoError(t, err)
		tokens[fmt.Sprint("session key ", i)] = k
		tokens[fmt.Sprint("session key (hex) ", i)] = hex.EncodeToString(raw)
	}

	check := func(where, text string, allowed string) {
		for name, s := range secrets {
			assert.NotContains(t, text, s, "%s holds the %s", where, name)
		}
		for name, s := range tokens {
			if !strings.HasPrefix(name, allowed) || allowed == "" {
				assert.NotContains(t, text, s, "%s holds the %s", where, name)
			}
		}
	}
	check("the output", out.String(), "")
	for _, ev := range evs {
		check("event "+ev.Type, string(ev.Payload), "")
	}

	// Every row of every table, as text.
	sdb, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	defer sdb.Close()
	tables, err := sdb.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	require.NoError(t, err)
	var names []string
	for tables.Next() {
		var n string
		require.NoError(t, tables.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, tables.Err())
	require.Contains(t, names, "minishop_wechat_records")
	rows := 0
	for _, table := range names {
		q, err := sdb.Query(`SELECT * FROM "` + table + `"`)
		require.NoError(t, err)
		cols, _ := q.Columns()
		for q.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, q.Scan(ptrs...))
			var text strings.Builder
			kind := ""
			for i, v := range vals {
				fmt.Fprintf(&text, "%s ", v)
				if cols[i] == "kind" {
					kind = fmt.Sprint(v)
				}
			}
			allowed := ""
			if table == "minishop_wechat_records" {
				allowed = map[string]string{wechat.KindAccessToken: "access token", wechat.KindSession: "session key"}[kind]
			}
			check(table+" row ("+kind+")", text.String(), allowed)
			rows++
		}
		require.NoError(t, q.Err())
		q.Close()
	}
	assert.Greater(t, rows, 20)
}

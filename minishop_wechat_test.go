package minishop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// Without WithWeChat the Engine has no WeChat services and says so; with a
// bad configuration New names the field.
func TestWithWeChatWiring(t *testing.T) {
	e, err := minishop.New(memory.New())
	require.NoError(t, err)
	assert.Nil(t, e.WeChat)
	assert.Nil(t, e.Shipping)
	assert.Nil(t, e.Messages)
	_, err = e.PushHandler(nil)
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition)

	_, err = minishop.New(memory.New(), minishop.WithWeChat(minishop.WeChat{MiniProgram: wechat.Config{AppID: "not-an-app", Secret: "s"}}))
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "app_id", ce.Field)

	plat := wechattest.Start(t, wechattest.Options{})
	e, err = minishop.New(memory.New(), minishop.WithWeChat(minishop.WeChat{MiniProgram: plat.Config(nil),
		Push: wechat.PushConfig{Token: "tok", EncodingAESKey: "short"}}))
	require.NoError(t, err, "the push configuration is checked by PushHandler")
	require.NotNil(t, e.WeChat)
	require.NotNil(t, e.Shipping)
	assert.Nil(t, e.Messages, "no templates, no message relay")
	_, err = e.PushHandler(nil)
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Field, "encoding_aes_key")

	_, err = minishop.New(memory.New(), minishop.WithWeChat(minishop.WeChat{MiniProgram: plat.Config(nil),
		Messages: func(c *wechat.MessagesConfig) { c.Templates = []wechat.Template{{Event: "order.paid", ID: "T"}} }}))
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "templates[0].data", ce.Field)
}

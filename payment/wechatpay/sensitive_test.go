package wechatpay_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncryptSensitive(t *testing.T) {
	e := setup(t)
	ct, serial, err := e.c.Encrypt("张三")
	require.NoError(t, err)
	assert.Equal(t, e.p.PlatformSerial(), serial, "the request names the key the field was encrypted with")
	assert.NotContains(t, ct, "张三")
	got, err := e.p.DecryptSensitive(serial, ct)
	require.NoError(t, err)
	assert.Equal(t, "张三", got)

	ct2, _, err := e.c.Encrypt("张三")
	require.NoError(t, err)
	assert.NotEqual(t, ct, ct2, "OAEP is randomised")
	_, err = e.p.DecryptSensitive("PUB_KEY_ID_0000", ct)
	assert.Error(t, err, "another serial is refused")
	_, err = e.p.DecryptSensitive(serial, ct[:len(ct)-8]+"AAAAAAA=")
	assert.Error(t, err, "a damaged field is refused")
}

package wechatpay

import "github.com/minishop/minishop/payment"

// Test hooks: the pure pieces external tests check directly.

// RequestMessage is the message a request signature covers.
var RequestMessage = requestMessage

// DecryptResource opens a notification resource given field by field.
func DecryptResource(key []byte, algorithm, ciphertext, associatedData, nonce string) ([]byte, error) {
	return decryptResource(key, &encryptedResource{
		Algorithm: algorithm, Ciphertext: ciphertext, AssociatedData: associatedData, Nonce: nonce,
	})
}

// DecodeVerified decodes a notification body as if its signature had
// checked out, so fuzzing reaches the decoder without paying for an RSA
// signature per input.
func (c *Client) DecodeVerified(body []byte) (*payment.Notification, error) {
	return c.decodeNotification(body)
}

// Encrypt encrypts a sensitive field as requests carry it.
func (c *Client) Encrypt(plain string) (string, string, error) { return c.encrypt(plain) }

// ParseYuan reads an amount as bills write it.
var ParseYuan = parseYuan

// CheckDownloadURL applies the rule a bill's download_url must pass before
// a signed request goes to it.
func (c *Client) CheckDownloadURL(raw string) error {
	_, err := c.downloadURL(raw)
	return err
}

package wechatpay

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ParsePrivateKey reads the merchant API private key (apiclient_key.pem):
// a PEM "PRIVATE KEY" (PKCS #8, what the merchant certificate tool writes)
// or "RSA PRIVATE KEY" (PKCS #1) block holding an RSA key.
func ParsePrivateKey(pemData []byte) (*rsa.PrivateKey, error) {
	block, err := onePEM(pemData, "PRIVATE KEY", "RSA PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("wechatpay: private key: %w", err)
	}
	if block.Type == "RSA PRIVATE KEY" {
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("wechatpay: private key: %w", err)
		}
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("wechatpay: private key: %T, want an RSA key", k)
	}
	return rk, nil
}

// ParsePublicKey reads a WeChat Pay public key (pub_key.pem, downloaded with
// its PUB_KEY_ID_… from the merchant platform): a PEM "PUBLIC KEY" (PKIX)
// or "RSA PUBLIC KEY" (PKCS #1) block holding an RSA key.
func ParsePublicKey(pemData []byte) (*rsa.PublicKey, error) {
	block, err := onePEM(pemData, "PUBLIC KEY", "RSA PUBLIC KEY")
	if err != nil {
		return nil, fmt.Errorf("wechatpay: public key: %w", err)
	}
	if block.Type == "RSA PUBLIC KEY" {
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("wechatpay: public key: %w", err)
		}
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: public key: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("wechatpay: public key: %T, want an RSA key", k)
	}
	return rk, nil
}

// ParseCertificate reads a WeChat Pay platform certificate (PEM) and returns
// its serial number as WeChat writes it in Wechatpay-Serial (upper-case hex)
// and its RSA public key, ready for Config.PlatformKeys. It does not check
// the certificate chain or validity period: the certificate is trusted
// because the host downloaded it over an authenticated channel.
func ParseCertificate(pemData []byte) (serial string, key *rsa.PublicKey, err error) {
	_, serial, key, err = parseCertificate(pemData)
	return serial, key, err
}

// parseCertificate is ParseCertificate keeping the certificate, for its
// validity dates.
func parseCertificate(pemData []byte) (*x509.Certificate, string, *rsa.PublicKey, error) {
	block, err := onePEM(pemData, "CERTIFICATE")
	if err != nil {
		return nil, "", nil, fmt.Errorf("wechatpay: certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, "", nil, fmt.Errorf("wechatpay: certificate: %w", err)
	}
	rk, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, "", nil, fmt.Errorf("wechatpay: certificate: %T key, want RSA", cert.PublicKey)
	}
	if cert.SerialNumber == nil || cert.SerialNumber.Sign() <= 0 {
		return nil, "", nil, errors.New("wechatpay: certificate: no positive serial number")
	}
	return cert, strings.ToUpper(hex.EncodeToString(cert.SerialNumber.Bytes())), rk, nil
}

func onePEM(data []byte, types ...string) (*pem.Block, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	for _, t := range types {
		if block.Type == t {
			return block, nil
		}
	}
	return nil, fmt.Errorf("PEM block %q, want %s", block.Type, strings.Join(types, " or "))
}

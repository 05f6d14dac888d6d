package wechatpaytest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/minishop/minishop/payment/wechatpay"
)

// Mode is which of its keys WeChat Pay signs with for the merchant.
type Mode int

const (
	// PublicKeyMode is a merchant with a WeChat Pay public key only (every
	// new merchant): answers and notifications are signed with it, under
	// its PUB_KEY_ID_… (Options.PlatformKey, Options.PlatformSerial), and
	// GET /v3/certificates lists nothing ({"data": []}). The default.
	PublicKeyMode Mode = iota
	// CertificateMode is a merchant with platform certificates only:
	// answers and notifications are signed with the newest certificate, and
	// requests naming the public-key ID are refused.
	CertificateMode
	// MigrationMode is the switch from certificates to the public key: both
	// are in force. Answers are signed with the public key when the request
	// names its ID in Wechatpay-Serial, and with the newest certificate
	// otherwise; notifications alternate between the two (WeChat raises the
	// public key's share over seven days), so a client must accept either,
	// chosen by Wechatpay-Serial.
	MigrationMode
)

func (m Mode) String() string {
	switch m {
	case PublicKeyMode:
		return "PublicKeyMode"
	case CertificateMode:
		return "CertificateMode"
	case MigrationMode:
		return "MigrationMode"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// certificateLifetime is a platform certificate's validity, as WeChat's.
const certificateLifetime = 5 * 365 * 24 * time.Hour

// platformCert is a platform certificate and its private key.
type platformCert struct {
	serial              string // upper-case hex, as WeChat writes it
	key                 *rsa.PrivateKey
	pem                 []byte
	notBefore, notAfter time.Time
}

// newCertificate issues a self-signed platform certificate for key, valid
// for five years from now, with a random 160-bit serial (40 hex digits, as
// WeChat's are).
func newCertificate(key *rsa.PrivateKey, now time.Time, mchID string) (*platformCert, error) {
	var b [20]byte
	_, _ = rand.Read(b[:])
	b[0] = b[0]&0x7f | 0x10 // positive, and 40 digits without a leading zero
	sn := new(big.Int).SetBytes(b[:])
	notBefore := now.Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject: pkix.Name{
			Organization: []string{"WeChat Pay platform (local test)"},
			CommonName:   "WeChat Pay platform certificate for " + mchID,
		},
		NotBefore: notBefore,
		NotAfter:  notBefore.Add(certificateLifetime),
		KeyUsage:  x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("wechatpaytest: issuing a platform certificate: %w", err)
	}
	return &platformCert{
		serial: strings.ToUpper(sn.Text(16)), key: key,
		pem:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		notBefore: tmpl.NotBefore, notAfter: tmpl.NotAfter,
	}, nil
}

// listedLocked returns the certificates in force (not expired), oldest
// first; the last one is the one the platform signs with. p.mu is held.
func (p *Platform) listedLocked() []*platformCert {
	now := p.now()
	var out []*platformCert
	for _, c := range p.certs {
		if now.Before(c.notAfter) {
			out = append(out, c)
		}
	}
	return out
}

// currentLocked is the certificate the platform signs with: the newest in
// force (or the newest of all, should every one have expired).
func (p *Platform) currentLocked() *platformCert {
	if l := p.listedLocked(); len(l) > 0 {
		return l[len(l)-1]
	}
	if len(p.certs) > 0 {
		return p.certs[len(p.certs)-1]
	}
	return nil
}

// keyLocked returns the private half of the platform key serial names, if
// it is in force in the current mode.
func (p *Platform) keyLocked(serial string) (*rsa.PrivateKey, bool) {
	if p.mode != CertificateMode && serial == p.platformSerial {
		return p.platformKey, true
	}
	if p.mode != PublicKeyMode {
		for _, c := range p.listedLocked() {
			if c.serial == serial {
				return c.key, true
			}
		}
	}
	return nil, false
}

// answerSignerLocked picks the key an answer is signed with, given the
// request's Wechatpay-Serial (valid or not).
func (p *Platform) answerSignerLocked(requested string) (*rsa.PrivateKey, string) {
	switch c := p.currentLocked(); {
	case p.mode == PublicKeyMode, c == nil:
		return p.platformKey, p.platformSerial
	case p.mode == MigrationMode && requested == p.platformSerial:
		return p.platformKey, p.platformSerial
	default:
		return c.key, c.serial
	}
}

// notifySignerLocked picks the key the next notification is signed with.
func (p *Platform) notifySignerLocked() (*rsa.PrivateKey, string) {
	if p.mode == MigrationMode {
		p.notifySeq++
		if p.notifySeq%2 == 0 {
			return p.platformKey, p.platformSerial
		}
	}
	return p.answerSignerLocked("")
}

func (p *Platform) notifySigner() (*rsa.PrivateKey, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notifySignerLocked()
}

// platformKeysLocked is what a merchant configures: every key in force.
func (p *Platform) platformKeysLocked() map[string]*rsa.PublicKey {
	keys := map[string]*rsa.PublicKey{}
	if p.mode != CertificateMode {
		keys[p.platformSerial] = &p.platformKey.PublicKey
	}
	if p.mode != PublicKeyMode {
		for _, c := range p.listedLocked() {
			keys[c.serial] = &c.key.PublicKey
		}
	}
	return keys
}

// Mode returns the platform's current mode.
func (p *Platform) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// SetMode switches the platform's mode, as the merchant platform does: to
// CertificateMode or MigrationMode it issues a first certificate if there
// is none. WeChat does not run the switch to the public key during a
// certificate rotation, so MigrationMode is refused while more than one
// certificate is in force (retire the old one first).
func (p *Platform) SetMode(m Mode) error {
	if m < PublicKeyMode || m > MigrationMode {
		return fmt.Errorf("wechatpaytest: unknown mode %s", m)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == MigrationMode && len(p.listedLocked()) > 1 {
		return fmt.Errorf("wechatpaytest: %d certificates in force: a rotation is in progress, retire the old certificate before the switch to the public key",
			len(p.listedLocked()))
	}
	if m != PublicKeyMode && len(p.listedLocked()) == 0 {
		key, err := newKey()
		if err != nil {
			return err
		}
		c, err := newCertificate(key, p.now(), p.mchID)
		if err != nil {
			return err
		}
		p.certs = append(p.certs, c)
	}
	p.mode = m
	return nil
}

// RotateCertificate issues a new platform certificate for key (nil: a
// fresh key) and returns its serial. From now on the platform signs with
// it, while GET /v3/certificates lists it beside the old ones until they
// are retired or expire. Only in CertificateMode: a public-key merchant has
// no certificates, and WeChat does not rotate during the switch.
func (p *Platform) RotateCertificate(key *rsa.PrivateKey) (string, error) {
	if key == nil {
		var err error
		if key, err = newKey(); err != nil {
			return "", err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode != CertificateMode {
		return "", fmt.Errorf("wechatpaytest: certificates rotate in CertificateMode only, the platform is in %s", p.mode)
	}
	c, err := newCertificate(key, p.now(), p.mchID)
	if err != nil {
		return "", err
	}
	p.certs = append(p.certs, c)
	return c.serial, nil
}

// RetireCertificate withdraws the certificate serial: it is no longer
// listed, signed with, or accepted in a request's Wechatpay-Serial. The
// certificate the platform signs with cannot be retired; rotate first.
func (p *Platform) RetireCertificate(serial string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.certs {
		if c.serial != serial {
			continue
		}
		if c == p.currentLocked() {
			return fmt.Errorf("wechatpaytest: certificate %s is the one the platform signs with; rotate first", serial)
		}
		p.certs = append(p.certs[:i:i], p.certs[i+1:]...)
		return nil
	}
	return fmt.Errorf("wechatpaytest: no certificate %s", serial)
}

// CertificateSerials returns the serials of the platform certificates in
// force (issued, neither retired nor expired), oldest first: the last is
// the one the platform signs with. They are listed by GET /v3/certificates
// in CertificateMode and MigrationMode.
func (p *Platform) CertificateSerials() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.listedLocked() {
		out = append(out, c.serial)
	}
	return out
}

// Certificate returns the PEM of the platform certificate serial, what a
// merchant would save from the download (for wechatpay.ParseCertificate).
func (p *Platform) Certificate(serial string) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.certs {
		if c.serial == serial {
			return append([]byte(nil), c.pem...), true
		}
	}
	return nil, false
}

// TamperCertificates makes GET /v3/certificates list broken certificates,
// signed properly, to test that a client refuses the list: TamperAPIv3Key
// (encrypted under another key), TamperGCMTag (a bit of the tag flipped),
// TamperAlgorithm (labelled AEAD_AES_128_GCM) or TamperSerial (the listed
// serial_no is not the certificate's). 0 restores honest lists.
func (p *Platform) TamperCertificates(t Tamper) error {
	switch t {
	case 0, TamperAPIv3Key, TamperGCMTag, TamperAlgorithm, TamperSerial:
	default:
		return fmt.Errorf("wechatpaytest: %s does not apply to certificates", t)
	}
	p.mu.Lock()
	p.certTamper = t
	p.mu.Unlock()
	return nil
}

// certificates answers GET /v3/certificates: every certificate in force,
// encrypted AEAD_AES_256_GCM under the APIv3 key with associated data
// "certificate", as WeChat Pay sends them; nothing in PublicKeyMode.
func (p *Platform) certificates() (int, any) {
	type encrypted struct {
		Algorithm      string `json:"algorithm"`
		Nonce          string `json:"nonce"`
		AssociatedData string `json:"associated_data"`
		Ciphertext     string `json:"ciphertext"`
	}
	type entry struct {
		SerialNo           string    `json:"serial_no"`
		EffectiveTime      string    `json:"effective_time"`
		ExpireTime         string    `json:"expire_time"`
		EncryptCertificate encrypted `json:"encrypt_certificate"`
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	data := []entry{}
	if p.mode == PublicKeyMode {
		return 0, map[string]any{"data": data}
	}
	for _, c := range p.listedLocked() {
		key, algorithm, serial := p.apiV3Key, "AEAD_AES_256_GCM", c.serial
		switch p.certTamper {
		case TamperAPIv3Key:
			key = []byte(randAlnum(32))
		case TamperAlgorithm:
			algorithm = "AEAD_AES_128_GCM"
		case TamperSerial:
			serial = strings.ToUpper(randHex(40))
		}
		nonce := randAlnum(12)
		sealed, err := sealGCM(key, nonce, "certificate", c.pem)
		if err != nil {
			return 0, errorf(500, "SYSTEM_ERROR", "encrypting a certificate: %v", err)
		}
		if p.certTamper == TamperGCMTag {
			sealed[len(sealed)-1] ^= 0x01
		}
		data = append(data, entry{
			SerialNo: serial, EffectiveTime: wxTime(c.notBefore), ExpireTime: wxTime(c.notAfter),
			EncryptCertificate: encrypted{
				Algorithm: algorithm, Nonce: nonce, AssociatedData: "certificate",
				Ciphertext: base64.StdEncoding.EncodeToString(sealed),
			},
		})
	}
	return 0, map[string]any{"data": data}
}

// DecryptSensitive opens a sensitive field a client encrypted for the
// platform (a receiver's or payee's name), as WeChat Pay does: the request
// must name, in Wechatpay-Serial (serial), a platform key in force in the
// current mode (the public key, or a listed certificate), and the field
// must decrypt with it. The error is the platform's answer to a malformed
// field.
func (p *Platform) DecryptSensitive(serial, cipherText string) (string, error) {
	p.mu.Lock()
	key, ok := p.keyLocked(serial)
	p.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("Wechatpay-Serial %q is not a platform key of merchant %s in %s", shorten(serial, 64), p.mchID, p.Mode())
	}
	return wechatpay.DecryptSensitive(key, cipherText)
}

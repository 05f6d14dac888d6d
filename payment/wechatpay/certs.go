package wechatpay

import (
	"cmp"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Certificate refresh intervals. WeChat Pay's platform certificates live
// five years and a new one is listed well before WeChat starts signing with
// it, so a twice-daily download catches a rotation in time; the official
// SDKs download every 24 or 12 hours.
const (
	DefaultRefreshCertificatesEvery = 12 * time.Hour
	// MinRefreshCertificatesEvery is the shortest RefreshCertificatesEvery
	// accepted, and also the least time between two downloads caused by
	// responses or notifications naming a serial the client does not have:
	// such a serial is chosen by the sender, and a forger sending random
	// ones must not make the client hammer WeChat Pay.
	MinRefreshCertificatesEvery = time.Minute
)

// downloadTimeout bounds one certificate download, whatever the
// HTTPClient's own timeout: it runs detached from the caller that started
// it, since other callers may be waiting for it too.
const downloadTimeout = time.Minute

const (
	certificatesPath       = "/v3/certificates"
	globalCertificatesPath = "/v3/global/certificates" // Config.CrossBorder
)

// certificatesPath is where the client downloads platform certificates:
// the cross-border host lists them under /v3/global/.
func (c *Client) certificatesPath() string {
	if c.cfg.CrossBorder {
		return globalCertificatesPath
	}
	return certificatesPath
}

// PlatformKey is one of the keys a Client verifies WeChat Pay's signatures
// with, as listed by Client.PlatformKeys.
type PlatformKey struct {
	// Serial is the platform certificate serial or WeChat Pay public-key
	// ID (PUB_KEY_ID_…), as WeChat sends it in Wechatpay-Serial.
	Serial string
	Key    *rsa.PublicKey
	// Downloaded is true for certificates from /v3/certificates; false for
	// Config.PlatformKeys, which never expire.
	Downloaded bool
	// EffectiveAt and ExpiresAt bound a downloaded certificate's validity
	// (zero for configured keys).
	EffectiveAt, ExpiresAt time.Time
	// Requested marks the key requests name in Wechatpay-Serial, and the
	// one sensitive fields are encrypted with.
	Requested bool
}

// keyEntry is a key in force.
type keyEntry struct {
	key                *rsa.PublicKey
	downloaded         bool
	effective, expires time.Time // downloaded certificates only
}

// live reports whether the key may verify at now: configured keys always,
// downloaded certificates until they expire. A certificate is not refused
// before its effective time: WeChat listed it, authenticated under the
// APIv3 key, and a signature by it shows it is in use (the clocks may
// differ by a little).
func (e keyEntry) live(now time.Time) bool {
	return !e.downloaded || now.Before(e.expires)
}

// keySet is the immutable set of keys in force. A Client swaps it whole
// (atomically) after a download, so verification never takes a lock and
// never sees half a refresh.
type keySet struct {
	keys    map[string]keyEntry
	fetched time.Time // when certificates were last downloaded; zero: never
}

func newKeySet(configured map[string]*rsa.PublicKey, downloaded map[string]keyEntry, fetched time.Time) *keySet {
	keys := make(map[string]keyEntry, len(configured)+len(downloaded))
	for serial, e := range downloaded {
		keys[serial] = e
	}
	for serial, k := range configured {
		keys[serial] = keyEntry{key: k} // a configured key stays, and does not expire
	}
	return &keySet{keys: keys, fetched: fetched}
}

func (s *keySet) lookup(serial string, now time.Time) (*rsa.PublicKey, bool) {
	e, ok := s.keys[serial]
	if !ok || !e.live(now) {
		return nil, false
	}
	return e.key, true
}

// requestSerial picks the platform key every request names in
// Wechatpay-Serial, which is also the key sensitive fields are encrypted
// with. The header tells WeChat Pay which of its keys the client verifies
// with: WeChat signs its answer with the WeChat Pay public key only when a
// request names that key's ID, and with a platform certificate of its
// choosing otherwise; and it decrypts sensitive fields with the key named.
// The choice, among the keys in force:
//
//  1. the one public-key ID, if there is exactly one (public-key mode, or
//     the switch from certificates to the public key, when both are in
//     force: WeChat expects the public key then);
//  2. else the only key;
//  3. else the newest downloaded certificate already effective (during a
//     certificate rotation WeChat lists old and new; the new one is the one
//     it expects for encryption, and answers are verified with whichever
//     listed certificate WeChat signs them with);
//  4. else none: with several configured certificates (whose dates the
//     client does not know) or several public keys the header is left out
//     rather than guessed, and WeChat signs with the certificate it
//     chooses, which must then be in force.
func (s *keySet) requestSerial(now time.Time, skew time.Duration) string {
	var pub []string
	var only, newest string
	var newestAt time.Time
	live := 0
	for serial, e := range s.keys {
		if !e.live(now) {
			continue
		}
		live++
		only = serial
		if strings.HasPrefix(serial, publicKeyIDPrefix) {
			pub = append(pub, serial)
			continue
		}
		if e.downloaded && !e.effective.After(now.Add(skew)) {
			if newest == "" || e.effective.After(newestAt) || e.effective.Equal(newestAt) && serial > newest {
				newest, newestAt = serial, e.effective
			}
		}
	}
	switch {
	case len(pub) == 1:
		return pub[0]
	case live == 1:
		return only
	}
	return newest
}

// PlatformKeys lists the keys in force, by serial: the configured ones and
// the downloaded certificates that have not expired. It reflects the last
// download; it does not download.
func (c *Client) PlatformKeys() []PlatformKey {
	ks := c.keys.Load()
	now := c.now()
	requested := ks.requestSerial(now, c.maxSkew)
	out := make([]PlatformKey, 0, len(ks.keys))
	for serial, e := range ks.keys {
		if !e.live(now) {
			continue
		}
		out = append(out, PlatformKey{
			Serial: serial, Key: e.key, Downloaded: e.downloaded,
			EffectiveAt: e.effective, ExpiresAt: e.expires, Requested: serial == requested,
		})
	}
	slices.SortFunc(out, func(a, b PlatformKey) int { return cmp.Compare(a.Serial, b.Serial) })
	return out
}

// keySet returns the keys in force, downloading certificates first when
// they are due: never downloaded yet, or older than
// RefreshCertificatesEvery. A due download that fails leaves the keys as
// they were (certificates outlive a day's outage by years) and is retried
// no sooner than MinRefreshCertificatesEvery later. While one caller
// downloads, the others go on with the current keys, unless there are none.
func (c *Client) keySet(ctx context.Context) *keySet {
	ks := c.keys.Load()
	if !c.download {
		return ks
	}
	if age := c.now().Sub(ks.fetched); ks.fetched.IsZero() || age >= c.every {
		_ = c.refreshKeys(ctx, refreshDue)
		ks = c.keys.Load()
	}
	return ks
}

// platformKey returns the key in force for serial. A serial the client does
// not have makes it download the certificates once (when
// DownloadCertificates is set), as WeChat advises: a rotation may have
// begun. The download is shared by every caller waiting for it, and none
// starts within MinRefreshCertificatesEvery of the last, so unknown serials
// cost WeChat Pay at most one download a minute.
func (c *Client) platformKey(ctx context.Context, serial string) (*rsa.PublicKey, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if k, ok := c.keySet(ctx).lookup(serial, c.now()); ok {
		return k, nil
	}
	if !c.download {
		return nil, verifyErr("%s %q names no configured platform key", hdrSerial, serial)
	}
	err := c.refreshKeys(ctx, refreshUnknown)
	if k, ok := c.keys.Load().lookup(serial, c.now()); ok {
		return k, nil
	}
	if err != nil {
		return nil, verifyErr("%s %q names no platform key in force (certificates not refreshed: %v)", hdrSerial, serial, err)
	}
	return nil, verifyErr("%s %q names no platform key in force, even after downloading the certificates", hdrSerial, serial)
}

// RefreshCertificates downloads WeChat Pay's platform certificates now and
// puts them in force: for a host that schedules downloads itself, or wants
// to learn at start-up that the merchant's credentials work. Keys from
// Config.PlatformKeys stay; downloaded certificates that WeChat no longer
// lists, or that have expired, drop out. Nothing changes when the download
// fails. A call while another download runs waits for that one instead of
// starting a second. It works whether or not DownloadCertificates is set
// (without it, nothing downloads again on its own).
//
// A merchant in public-key mode has no certificates: WeChat answers an
// empty list, which is not an error (the answer must then verify with the
// configured public key).
func (c *Client) RefreshCertificates(ctx context.Context) error {
	return c.refreshKeys(ctx, refreshNow)
}

type refreshReason int

const (
	refreshNow     refreshReason = iota // the host asked
	refreshDue                          // the downloaded certificates are old
	refreshUnknown                      // a signature named an unknown serial
)

var errRefreshTooSoon = fmt.Errorf("the last download started less than %s ago", MinRefreshCertificatesEvery)

// refresher runs certificate downloads one at a time (single flight).
type refresher struct {
	mu      sync.Mutex
	flight  *flight   // the download in progress, if any
	started time.Time // when the last download started (Config.Now)
	lastErr error     // how it ended
}

type flight struct {
	done chan struct{}
	err  error // set before done is closed
}

func (c *Client) refreshKeys(ctx context.Context, why refreshReason) error {
	if ctx == nil {
		ctx = context.Background()
	}
	r := &c.refresh
	r.mu.Lock()
	f := r.flight
	switch {
	case f != nil && why == refreshDue && len(c.keys.Load().keys) > 0:
		// Someone is downloading already; go on with the current keys.
		r.mu.Unlock()
		return nil
	case f == nil:
		now := c.now()
		if since := now.Sub(r.started); why != refreshNow && !r.started.IsZero() && since >= 0 && since < MinRefreshCertificatesEvery {
			err := r.lastErr
			r.mu.Unlock()
			if err != nil {
				return fmt.Errorf("%w (it failed: %v)", errRefreshTooSoon, err)
			}
			return errRefreshTooSoon
		}
		f = &flight{done: make(chan struct{})}
		r.flight, r.started = f, now
		// Detached from ctx: other callers may come to wait for this
		// download, and one caller giving up must not fail theirs.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), downloadTimeout)
		go func() {
			defer cancel()
			err := c.downloadCertificates(dctx)
			r.mu.Lock()
			r.flight, r.lastErr = nil, err
			r.mu.Unlock()
			f.err = err
			close(f.done)
		}()
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("wechatpay: waiting for the certificate download: %w", ctx.Err())
	}
}

// certificateList is the answer of GET /v3/certificates.
type certificateList struct {
	Data *[]struct {
		SerialNo           string             `json:"serial_no"`
		EffectiveTime      string             `json:"effective_time"`
		ExpireTime         string             `json:"expire_time"`
		EncryptCertificate *encryptedResource `json:"encrypt_certificate"`
	} `json:"data"`
}

// downloadCertificates fetches the certificate list, checks every entry and
// the answer's signature, and swaps the key set; on any error nothing
// changes.
//
// Each certificate is encrypted (AEAD_AES_256_GCM) under the APIv3 key,
// which only WeChat Pay and the merchant know, so a certificate that
// decrypts is WeChat's: the APIv3 key is the root of trust. The answer's
// own signature is then verified with the key its Wechatpay-Serial names,
// taken from the keys in force if it is one of them, else from the
// certificates just downloaded. The second case is the bootstrap (a client
// that starts with no certificate) and the rotation (WeChat signs with a
// certificate the client is only now learning); it is what WeChat's own
// SDKs do, and it is sound because the downloaded certificates were
// authenticated by the APIv3 key before the signature is checked with them.
// A key in force is never bypassed: a serial it has must verify with it.
func (c *Client) downloadCertificates(ctx context.Context) error {
	path := c.certificatesPath()
	op := "GET " + path
	cur := c.keys.Load()
	now := c.now()
	ans, err := c.send(ctx, op, http.MethodGet, path, "", nil, cur.requestSerial(now, c.maxSkew))
	if err == nil && ans.serial != "" && refusesSerial(ans) {
		// WeChat no longer has the key the request named (a certificate it
		// retired): ask again naming none, so the download that would
		// replace that key is not blocked by it. The answer is verified
		// all the same.
		ans, err = c.send(ctx, op, http.MethodGet, path, "", nil, "")
	}
	if err != nil {
		return err
	}
	var fresh map[string]keyEntry
	listed := false // the answer decoded as a list
	verify := func(h http.Header, body []byte) error {
		s, err := c.readSigned(h)
		if err != nil {
			return err
		}
		key, ok := cur.lookup(s.serial, now)
		if !ok {
			var e keyEntry
			if e, ok = fresh[s.serial]; ok {
				key = e.key
			}
		}
		if !ok {
			if listed && len(fresh) == 0 {
				return verifyErr("signed with %s %q, which the client does not have, and WeChat Pay lists no platform certificate for this merchant: "+
					"a merchant in public-key mode must configure its WeChat Pay public key (PUB_KEY_ID_…) in Config.PlatformKeys", hdrSerial, s.serial)
			}
			return verifyErr("signed with %s %q, neither a key in force nor a listed certificate", hdrSerial, s.serial)
		}
		return s.check(key, body)
	}
	if ans.status < 200 || ans.status > 299 {
		return c.apiError(op, ans, verify)
	}
	var list certificateList
	if err := json.Unmarshal(ans.body, &list); err != nil {
		return fmt.Errorf("%s: decoding response: %w", op, err)
	}
	if list.Data == nil {
		return fmt.Errorf("%s: response has no data", op)
	}
	fresh, listed = make(map[string]keyEntry, len(*list.Data)), true
	for i, d := range *list.Data {
		e, err := c.openCertificate(d.SerialNo, d.EffectiveTime, d.ExpireTime, d.EncryptCertificate)
		if err != nil {
			return fmt.Errorf("%s: data[%d] (serial_no %q): %w", op, i, truncate(d.SerialNo, 64), err)
		}
		if _, dup := fresh[d.SerialNo]; dup {
			return fmt.Errorf("%s: data[%d]: serial_no %q listed twice", op, i, d.SerialNo)
		}
		if !e.live(now) {
			continue // expired: it drops out
		}
		if k, ok := c.configured[d.SerialNo]; ok && !k.Equal(e.key) {
			return fmt.Errorf("%s: certificate %s from WeChat Pay has another key than Config.PlatformKeys[%q]", op, d.SerialNo, d.SerialNo)
		}
		fresh[d.SerialNo] = e
	}
	if err := verify(ans.header, ans.body); err != nil {
		return fmt.Errorf("%s: response: %w", op, err)
	}
	c.keys.Store(newKeySet(c.configured, fresh, now))
	return nil
}

// openCertificate decrypts and checks one listed certificate: the serial
// WeChat lists must be the certificate's own, and its validity is where
// the listed effective and expire times and the certificate's own dates
// agree (their intersection).
func (c *Client) openCertificate(serialNo, effectiveTime, expireTime string, enc *encryptedResource) (keyEntry, error) {
	if err := checkToken(serialNo, 64); err != nil {
		return keyEntry{}, fmt.Errorf("serial_no: %v", err)
	}
	effective, err := time.Parse(time.RFC3339, effectiveTime)
	if err != nil {
		return keyEntry{}, fmt.Errorf("effective_time %q is not an RFC 3339 time", truncate(effectiveTime, 40))
	}
	expires, err := time.Parse(time.RFC3339, expireTime)
	if err != nil {
		return keyEntry{}, fmt.Errorf("expire_time %q is not an RFC 3339 time", truncate(expireTime, 40))
	}
	if enc == nil {
		return keyEntry{}, errors.New("no encrypt_certificate")
	}
	plain, err := decryptResource([]byte(c.cfg.APIv3Key), enc)
	if err != nil {
		return keyEntry{}, fmt.Errorf("encrypt_certificate: %w", err)
	}
	cert, serial, key, err := parseCertificate(plain)
	if err != nil {
		return keyEntry{}, err
	}
	if !strings.EqualFold(serial, serialNo) {
		return keyEntry{}, verifyErr("serial_no %s is not the serial of the certificate it lists (%s)", serialNo, serial)
	}
	if err := checkKeySize(key); err != nil {
		return keyEntry{}, fmt.Errorf("certificate key: %v", err)
	}
	if cert.NotBefore.After(effective) {
		effective = cert.NotBefore
	}
	if cert.NotAfter.Before(expires) {
		expires = cert.NotAfter
	}
	if !effective.Before(expires) {
		return keyEntry{}, fmt.Errorf("validity is empty (effective %s, expires %s, counting the certificate's own dates)",
			effective.Format(time.RFC3339), expires.Format(time.RFC3339))
	}
	return keyEntry{key: key, downloaded: true, effective: effective, expires: expires}, nil
}

// refusesSerial reports whether an answer is WeChat Pay's refusal of the
// request's Wechatpay-Serial.
func refusesSerial(ans *answer) bool {
	if ans.status != http.StatusBadRequest {
		return false
	}
	var body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	return json.Unmarshal(ans.body, &body) == nil && body.Code == "INVALID_REQUEST" && mentionsSerial(body.Message)
}

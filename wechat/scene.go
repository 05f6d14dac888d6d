package wechat

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// KindScene is the record of a short scene code, keyed by app id and code:
// the payload a Mini Program code stands for.
const KindScene = "scene"

// Statuses of a scene record. An expiring record is due at its expiry, so
// DueRecords(KindScene, SceneExpiring, now) lists the ones that have run
// out; a permanent record is never due.
const (
	SceneExpiring  = "expiring"
	ScenePermanent = "permanent"
)

// Limits of a ScenePayload.
const (
	MaxSceneData    = 4096 // bytes of ScenePayload.Data
	MaxSceneKindLen = 32
	// MaxSceneLen is the longest scene a Mini Program code carries: 32
	// visible characters.
	MaxSceneLen = 32
)

// sceneCodeLen is how long a new scene code is: ten base-62 digits, 59
// bits of a hash, so two payloads of one app meet on a code about once in
// a billion billion pairs; when they do, the second gets a longer code.
// Tests shorten it to force collisions.
var sceneCodeLen = 10

// ErrSceneExpired is what ResolveScene reports, with the payload, for a
// code whose payload has expired, so the page can say what ran out ("this
// gift card link has expired") rather than that nothing is there.
var ErrSceneExpired = errors.New("the scene's payload has expired")

// ScenePayload is what a short scene code stands for.
type ScenePayload struct {
	// Kind says what Data is, for the page that opens with the code:
	// "share", "promoter", "gift", "place"... 1 to 32 of a-z, 0-9, _ . -
	Kind string
	// Data is opaque to minishop (a signed share token, a promoter id, a
	// store and shelf): up to MaxSceneData bytes of UTF-8.
	Data string
	// Expires is when the code stops resolving (zero: never). It is part
	// of the payload: the same kind and data with another expiry is another
	// code. Kept to the microsecond, in UTC.
	Expires time.Time
}

// sceneDoc is the scene record's document.
type sceneDoc struct {
	Kind    string    `json:"kind"`
	Data    string    `json:"data"`
	Expires time.Time `json:"expires,omitzero"`
	Created time.Time `json:"created"`
}

// Scene stores s under a short code, the scene of a Mini Program code, and
// returns the code. The code is derived from a hash of the app and the
// payload, so the same payload always gets the same code and one record:
// printing a shop door's code twice, or two processes sharing one gift at
// once, makes no second record. Codes are 10 to 32 letters and digits,
// which survive the URL encoding of the scene unchanged.
func (c *Client) Scene(ctx context.Context, s ScenePayload) (string, error) {
	const op = "wechat.scene"
	s, err := c.checkPayload(op, s)
	if err != nil {
		return "", err
	}
	digits := sceneDigits(c.cfg.AppID, s)
	for n := sceneCodeLen; n <= MaxSceneLen; n++ {
		code := digits[:n]
		taken, err := c.claimScene(ctx, code, s)
		if err != nil {
			return "", fail(op, err)
		}
		if !taken {
			return code, nil
		}
		// Another payload holds this code (a hash collision): the next
		// digit tells them apart, and every later call for either payload
		// walks the same way to the same code.
	}
	return "", fail(op, fmt.Errorf("every code of %d to %d digits is taken by another payload", sceneCodeLen, MaxSceneLen))
}

// claimScene makes code hold s: it inserts the record, or finds it already
// holding s. taken reports that another payload holds the code.
func (c *Client) claimScene(ctx context.Context, code string, s ScenePayload) (taken bool, err error) {
	st, key := c.cfg.Store, c.cfg.AppID+":"+code
	// Reading first keeps a repeated call to one read; an insert racing
	// another process's ends in a conflict, and the record it left is read.
	for range 3 {
		r, err := st.GetRecord(ctx, KindScene, key)
		switch {
		case err == nil:
			var d sceneDoc
			if err := json.Unmarshal(r.Doc, &d); err != nil {
				return false, fmt.Errorf("scene record %q: %w", code, err)
			}
			return d.Kind != s.Kind || d.Data != s.Data || !d.Expires.Equal(s.Expires), nil
		case !errors.Is(err, storage.ErrNotFound):
			return false, err
		}
		now := c.Now()
		doc, err := json.Marshal(sceneDoc{Kind: s.Kind, Data: s.Data, Expires: s.Expires, Created: now})
		if err != nil {
			return false, err
		}
		rec := storage.Record{Kind: KindScene, Key: key, Status: ScenePermanent, Doc: doc, Updated: now}
		if !s.Expires.IsZero() {
			rec.Status, rec.Due = SceneExpiring, s.Expires
		}
		if _, err := st.SaveRecord(ctx, rec); err == nil {
			return false, nil
		} else if !errors.Is(err, storage.ErrConflict) {
			return false, err
		}
	}
	return false, fmt.Errorf("%w: scene record %q keeps conflicting", commerce.ErrUnavailable, code)
}

// ResolveScene returns the payload stored under scene, the scene a Mini
// Program page received in onLoad (after decodeURIComponent; minishop's
// codes are letters and digits, the same either way). A scene minishop
// never issued is ErrNotFound; an expired payload is returned with an
// error matching ErrSceneExpired (KindFailedPrecondition).
func (c *Client) ResolveScene(ctx context.Context, scene string) (ScenePayload, error) {
	const op = "wechat.resolve_scene"
	if err := checkScene(op, scene); err != nil {
		return ScenePayload{}, err
	}
	r, err := c.cfg.Store.GetRecord(ctx, KindScene, c.cfg.AppID+":"+scene)
	if errors.Is(err, storage.ErrNotFound) {
		return ScenePayload{}, &commerce.Error{Op: op, Kind: commerce.KindNotFound,
			Err: fmt.Errorf("no payload under scene %q: %w", scene, commerce.ErrNotFound)}
	} else if err != nil {
		return ScenePayload{}, fail(op, err)
	}
	var d sceneDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return ScenePayload{}, fail(op, fmt.Errorf("scene record %q: %w", scene, err))
	}
	s := ScenePayload{Kind: d.Kind, Data: d.Data, Expires: d.Expires}
	if !s.Expires.IsZero() && !c.Now().Before(s.Expires) {
		return s, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition,
			Err: fmt.Errorf("scene %q: %w at %s", scene, ErrSceneExpired, s.Expires.Format(time.RFC3339))}
	}
	return s, nil
}

// checkPayload validates s and returns it with its expiry in the form that
// is hashed and stored.
func (c *Client) checkPayload(op string, s ScenePayload) (ScenePayload, error) {
	switch {
	case s.Kind == "" || len(s.Kind) > MaxSceneKindLen:
		return s, invalid(op, "kind", "%q is not 1 to %d characters", truncate(s.Kind, 40), MaxSceneKindLen)
	case !sceneKindChars(s.Kind):
		return s, invalid(op, "kind", "%q is not made of a-z, 0-9, _ . -", truncate(s.Kind, 40))
	case len(s.Data) > MaxSceneData:
		return s, invalid(op, "data", "is %d bytes, over %d", len(s.Data), MaxSceneData)
	case !utf8.ValidString(s.Data):
		// JSON would replace the bad bytes: the payload read back would
		// not be the one stored.
		return s, invalid(op, "data", "is not UTF-8")
	}
	if !s.Expires.IsZero() {
		s.Expires = s.Expires.UTC().Truncate(time.Microsecond)
		if !s.Expires.After(c.Now()) {
			return s, invalid(op, "expires", "%s is not in the future", s.Expires.Format(time.RFC3339))
		}
	}
	return s, nil
}

func sceneKindChars(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '_' || b == '.' || b == '-') {
			return false
		}
	}
	return true
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sceneDigits are the base-62 digits of a hash of the app and the payload,
// ten from each 64 bits (62^10 < 2^64), 40 in all: a code is a prefix.
func sceneDigits(appID string, s ScenePayload) string {
	h := sha256.New()
	// The app and kind cannot hold a NUL and the expiry has a fixed size,
	// so no two payloads hash the same bytes.
	h.Write([]byte(appID))
	h.Write([]byte{0})
	h.Write([]byte(s.Kind))
	h.Write([]byte{0})
	var exp [8]byte
	if !s.Expires.IsZero() {
		binary.BigEndian.PutUint64(exp[:], uint64(s.Expires.UnixMicro()))
	}
	h.Write(exp[:])
	h.Write([]byte(s.Data))
	sum := h.Sum(nil)
	out := make([]byte, 0, 40)
	for w := 0; w < 4; w++ {
		u := binary.BigEndian.Uint64(sum[8*w:])
		for range 10 {
			out = append(out, base62[u%62])
			u /= 62
		}
	}
	return string(out)
}

package gossip

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/memberlist"
)

// fingerprintLen is the length in bytes of a key's fingerprint in the
// node meta (hex-encoded twice as long in Member and logs).
const fingerprintLen = 4

// ParseKey decodes a base64 gossip key (standard or URL alphabet, padded or
// not) and checks its length.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("gossip key is empty")
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gossip key is not valid base64: %w", err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	default:
		return nil, fmt.Errorf("gossip key is %d bytes; want 16, 24 or 32 (e.g. `head -c 32 /dev/urandom | base64`)", len(key))
	}
}

// ParseKeys decodes a key list: one base64 key a line (see ParseKey), the
// first the one that encrypts. Blank lines and lines starting with # are
// skipped; a key given twice counts once.
func ParseKeys(text string) ([][]byte, error) {
	var keys [][]byte
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := ParseKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) }) {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no gossip key in it")
	}
	return keys, nil
}

// LoadKeyFile reads a gossip key file (a Swarm secret): one base64 key a
// line, the first the one that encrypts (ParseKeys).
func LoadKeyFile(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read gossip key file: %w", err)
	}
	keys, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("gossip key file %s: %w", path, err)
	}
	return keys, nil
}

// KeyFingerprint is a short, non-secret name for a key: the first bytes of
// its SHA-256, in hex. Members show the fingerprint of the key each node
// encrypts with.
func KeyFingerprint(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:fingerprintLen])
}

func checkKeys(keys [][]byte) error {
	for i, k := range keys {
		switch len(k) {
		case 16, 24, 32:
		default:
			return fmt.Errorf("key %d is %d bytes; want 16, 24 or 32", i+1, len(k))
		}
	}
	return nil
}

// newKeyring builds memberlist's keyring from keys, the first primary; nil
// without keys.
func newKeyring(keys [][]byte) (*memberlist.Keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cloned := make([][]byte, len(keys))
	for i, k := range keys {
		cloned[i] = slices.Clone(k)
	}
	return memberlist.NewKeyring(cloned, cloned[0])
}

// SetKeys replaces the gossip keys at run time: keys[0] encrypts from now
// on, every one of keys decrypts, and the keys not listed are dropped. The
// new primary key's fingerprint is announced in the node's meta. A node
// started without encryption cannot turn it on (restart it with a key),
// nor can encryption be turned off: both return an error and change
// nothing.
//
// To rotate a key without downtime: give every node the new key as a
// second one, then make it the first on every node, then drop the old one;
// each step only after every node has taken the previous one.
func (n *Node) SetKeys(keys [][]byte) error {
	if err := checkKeys(keys); err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	kr := n.keyring
	switch {
	case kr == nil && len(keys) == 0:
		return nil
	case kr == nil:
		return errors.New("gossip: this node runs without encryption; restart it with a key to turn encryption on")
	case len(keys) == 0:
		return errors.New("gossip: encryption cannot be turned off at run time; restart the node without a key")
	}
	n.keysMu.Lock()
	defer n.keysMu.Unlock()
	for _, k := range keys {
		if err := kr.AddKey(slices.Clone(k)); err != nil {
			return fmt.Errorf("gossip: install key %s: %w", KeyFingerprint(k), err)
		}
	}
	if err := kr.UseKey(keys[0]); err != nil {
		return fmt.Errorf("gossip: use key %s: %w", KeyFingerprint(keys[0]), err)
	}
	for _, old := range kr.GetKeys() {
		if slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, old) }) {
			continue
		}
		if err := kr.RemoveKey(old); err != nil {
			return fmt.Errorf("gossip: remove key %s: %w", KeyFingerprint(old), err)
		}
	}
	primary := KeyFingerprint(keys[0])
	changed := n.primaryKey.Swap(&primary)
	n.log.Info().Str("primary", primary).Strs("keys", n.KeyFingerprints()).Msg("gossip keys loaded")
	if changed == nil || *changed != primary {
		n.enqueue(outMsg{job: func() {
			if err := n.ml.UpdateNode(n.cfg.LeaveTimeout); err != nil {
				n.log.Debug().Err(err).Msg("announce new gossip key")
			}
		}})
	}
	return nil
}

// KeyFingerprints lists the fingerprints of the installed keys, the one
// that encrypts first; nil without encryption.
func (n *Node) KeyFingerprints() []string {
	if n.keyring == nil {
		return nil
	}
	primary := n.keyring.GetPrimaryKey()
	out := []string{KeyFingerprint(primary)}
	for _, k := range n.keyring.GetKeys() {
		if !bytes.Equal(k, primary) {
			out = append(out, KeyFingerprint(k))
		}
	}
	return out
}

// keyFingerprint is the fingerprint of the key that encrypts, for the
// node meta; "" without encryption.
func (n *Node) keyFingerprint() string {
	if p := n.primaryKey.Load(); p != nil {
		return *p
	}
	return ""
}

package dns

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/registry"
)

// TSIG (RFC 8945): a request signed with a key the server holds is
// verified, and its reply (every message of a zone transfer) is signed with
// the same key; a request signed with a key the server does not hold, or
// whose signature or time is wrong, gets NOTAUTH with the TSIG error
// (BADKEY, BADSIG, BADTIME), whether or not any key is configured. The
// HMACs are miekg's (TsigVerify, TsigGenerate); this file picks the key
// and checks that the request's algorithm is the key's (miekg takes the
// algorithm from the message).

// tsigFudge is the fudge of the server's signatures: the seconds a
// signature's time may differ from the verifier's clock (RFC 8945 §10).
const tsigFudge = 300

// TransferKey is a TSIG key: what `dig -y` takes and BIND's key statement
// holds.
type TransferKey struct {
	// Algorithm is the HMAC, canonical: "hmac-sha256." (mdns.HmacSHA256).
	Algorithm string
	// Name is the key's name, canonical: "transfer.".
	Name string
	// Secret is the key, base64.
	Secret string
}

// tsigAlgorithms are the HMACs miekg implements, by the names dig and
// BIND give them.
var tsigAlgorithms = map[string]string{
	"hmac-sha1":   mdns.HmacSHA1,
	"hmac-sha224": mdns.HmacSHA224,
	"hmac-sha256": mdns.HmacSHA256,
	"hmac-sha384": mdns.HmacSHA384,
	"hmac-sha512": mdns.HmacSHA512,
}

// ParseTransferKey parses a key in the form of `dig -y`:
// [ALGORITHM:]NAME:BASE64SECRET, the algorithm hmac-sha256 when left out
// (dig's hmac-md5 is not supported).
func ParseTransferKey(s string) (TransferKey, error) {
	parts := strings.Split(s, ":")
	alg := "hmac-sha256"
	switch len(parts) {
	case 2:
	case 3:
		alg, parts = strings.ToLower(strings.TrimSuffix(parts[0], ".")), parts[1:]
	default:
		return TransferKey{}, errors.New("want [ALGORITHM:]NAME:BASE64SECRET")
	}
	k := TransferKey{Algorithm: tsigAlgorithms[alg], Name: registry.CanonicalName(parts[0]), Secret: parts[1]}
	if k.Algorithm == "" {
		return TransferKey{}, fmt.Errorf("algorithm %q is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", alg)
	}
	if err := k.check(); err != nil {
		return TransferKey{}, err
	}
	return k, nil
}

// check validates a key given in any form and makes its names canonical.
func (k *TransferKey) check() error {
	k.Name = registry.CanonicalName(k.Name)
	if _, ok := mdns.IsDomainName(k.Name); !ok || k.Name == "" || k.Name == "." {
		return fmt.Errorf("key name %q is not a domain name", k.Name)
	}
	k.Algorithm = mdns.CanonicalName(k.Algorithm)
	known := false
	for _, a := range tsigAlgorithms {
		known = known || a == k.Algorithm
	}
	if !known {
		return fmt.Errorf("key %s: unsupported algorithm %q", k.Name, k.Algorithm)
	}
	secret, err := base64.StdEncoding.DecodeString(k.Secret)
	if err != nil || len(secret) == 0 {
		return fmt.Errorf("key %s: the secret is not base64", k.Name)
	}
	return nil
}

// keyring holds the server's TSIG keys by canonical name.
type keyring map[string]TransferKey

func newKeyring(keys []TransferKey) (keyring, error) {
	kr := make(keyring, len(keys))
	for _, k := range keys {
		if err := k.check(); err != nil {
			return nil, err
		}
		if _, dup := kr[k.Name]; dup {
			return nil, fmt.Errorf("key %s given twice", k.Name)
		}
		kr[k.Name] = k
	}
	return kr, nil
}

// requestTSIG returns the TSIG record of req, and whether req is malformed
// (RFC 8945 §5.1 and §5.2: FORMERR) for holding one anywhere but last in
// the additional section, or one that cannot be interpreted: no algorithm
// name (miekg unpacks an empty RDATA as zero fields, which would pack back
// shorter than its RDLENGTH says).
func requestTSIG(req *mdns.Msg) (t *mdns.TSIG, malformed bool) {
	for i, rr := range req.Extra {
		if rr.Header().Rrtype != mdns.TypeTSIG {
			continue
		}
		if i != len(req.Extra)-1 {
			return nil, true
		}
		t, _ = rr.(*mdns.TSIG)
		if t == nil || t.Algorithm == "" {
			return nil, true
		}
	}
	for _, sec := range [][]mdns.RR{req.Answer, req.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == mdns.TypeTSIG {
				return nil, true
			}
		}
	}
	return t, false
}

// verify checks the signature t of the message raw (as it came) and
// returns the key that signed it, or the TSIG error: BADKEY for a key the
// server does not hold or an algorithm that is not the key's, BADSIG for a
// MAC that does not match, BADTIME for a time outside the fudge.
func (kr keyring) verify(raw []byte, t *mdns.TSIG) (TransferKey, uint16) {
	k, ok := kr[registry.CanonicalName(t.Hdr.Name)]
	if !ok || mdns.CanonicalName(t.Algorithm) != k.Algorithm {
		return TransferKey{}, mdns.RcodeBadKey
	}
	switch err := mdns.TsigVerify(raw, k.Secret, "", false); {
	case err == nil:
		return k, 0
	case errors.Is(err, mdns.ErrTime):
		return k, mdns.RcodeBadTime
	default:
		return k, mdns.RcodeBadSig
	}
}

// tsigReply is the NOTAUTH reply to a request whose signature t failed
// with tsigErr (RFC 8945 §5.2): unsigned for BADKEY and BADSIG, signed
// with the key and carrying the server's time for BADTIME (§5.2.3).
func tsigReply(req *mdns.Msg, t *mdns.TSIG, k TransferKey, tsigErr uint16, reply *mdns.Msg, now time.Time) ([]byte, error) {
	reply.Rcode = mdns.RcodeNotAuth
	rr := &mdns.TSIG{
		Hdr:       mdns.RR_Header{Name: t.Hdr.Name, Rrtype: mdns.TypeTSIG, Class: mdns.ClassANY},
		Algorithm: t.Algorithm, Fudge: t.Fudge, OrigId: req.Id, Error: tsigErr,
		TimeSigned: uint64(now.Unix()),
	}
	if tsigErr == mdns.RcodeBadTime {
		rr.TimeSigned = t.TimeSigned
		rr.OtherLen = 6
		rr.OtherData = hex.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(now.Unix()))[2:])
	}
	reply.Extra = append(reply.Extra, rr)
	if tsigErr != mdns.RcodeBadTime {
		// Unsigned (RFC 8945 §5.3.2), but with the server's time: packed
		// as it is (TsigGenerate would zero the time).
		buf, err := reply.Pack()
		if err != nil {
			return nil, fmt.Errorf("pack TSIG error reply: %w", err)
		}
		return buf, nil
	}
	buf, _, err := mdns.TsigGenerate(reply, k.Secret, t.MAC, false)
	if err != nil {
		return nil, fmt.Errorf("sign TSIG error reply: %w", err)
	}
	return buf, nil
}

// tsigWriter signs every reply it writes with the key of the request
// (RFC 8945 §5.3): the first covers the request's MAC; each later one (a
// zone transfer's) covers the MAC of the one before and only the timers
// (§5.3.1).
type tsigWriter struct {
	mdns.ResponseWriter
	key  TransferKey
	mac  string // the MAC the next reply covers
	sent int
	now  func() time.Time
}

// tsigOverhead is the most a TSIG record adds to a reply: the owner and
// algorithm names (at most 255 octets each), the fixed fields and a MAC of
// up to 64 octets (SHA-512).
func tsigOverhead(k TransferKey) int {
	return len(k.Name) + 1 + len(k.Algorithm) + 1 + 10 + 16 + 64
}

// WriteMsg signs m and writes it.
func (w *tsigWriter) WriteMsg(m *mdns.Msg) error {
	m.Extra = append(m.Extra, &mdns.TSIG{
		Hdr:       mdns.RR_Header{Name: w.key.Name, Rrtype: mdns.TypeTSIG, Class: mdns.ClassANY},
		Algorithm: w.key.Algorithm, Fudge: tsigFudge, OrigId: m.Id, TimeSigned: uint64(w.now().Unix()),
	})
	buf, mac, err := mdns.TsigGenerate(m, w.key.Secret, w.mac, w.sent > 0)
	if err != nil {
		return fmt.Errorf("sign reply: %w", err)
	}
	w.mac = mac
	w.sent++
	_, err = w.Write(buf)
	return err
}

// TsigStatus reports that the request's signature was verified.
func (w *tsigWriter) TsigStatus() error { return nil }

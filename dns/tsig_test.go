package dns

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

const (
	testKeyName   = "transfer."
	testKeySecret = "c2VjcmV0LW9mLXRoZS10cmFuc2Zlci1rZXktMzJieXQ=" // base64
	otherSecret   = "b3RoZXItc2VjcmV0LW9mLWFub3RoZXIta2V5LTMyYnk="
)

func testKey() TransferKey {
	return TransferKey{Algorithm: mdns.HmacSHA256, Name: testKeyName, Secret: testKeySecret}
}

func TestParseTransferKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want TransferKey
		err  string
	}{
		{in: "hmac-sha256:transfer:" + testKeySecret, want: testKey()},
		{in: "HMAC-SHA512:Transfer.:" + testKeySecret, want: TransferKey{mdns.HmacSHA512, testKeyName, testKeySecret}},
		{in: "transfer:" + testKeySecret, want: testKey()}, // dig's default where MD5 is off
		{in: "hmac-md5:transfer:" + testKeySecret, err: "not one of"},
		{in: "hmac-sha256:transfer:not*base64", err: "not base64"},
		{in: "hmac-sha256:transfer:", err: "not base64"},
		{in: "hmac-sha256::" + testKeySecret, err: "not a domain name"},
		{in: "justonepart", err: "want [ALGORITHM:]NAME:BASE64SECRET"},
		{in: "a:b:c:d", err: "want [ALGORITHM:]NAME:BASE64SECRET"},
	} {
		got, err := ParseTransferKey(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTransferKey(%q): got %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTransferKey(%q): got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := New(Config{Store: testRegistry(t), Listen: "127.0.0.1:0", TransferKeys: []TransferKey{testKey(), testKey()}}); err == nil {
		t.Error("New with the same key twice: got nil error")
	}
}

// signed returns m signed with key (name, algorithm, secret) at time at,
// and the signature's MAC.
func signed(t *testing.T, m *mdns.Msg, name, alg, secret string, at time.Time) ([]byte, string) {
	t.Helper()
	m.SetTsig(name, alg, tsigFudge, at.Unix())
	buf, mac, err := mdns.TsigGenerate(m, secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return buf, mac
}

// rawReply sends buf over network and parses the reply.
func rawReply(t *testing.T, network string, addr netip.AddrPort, buf []byte) (*mdns.Msg, []byte) {
	t.Helper()
	b, err := tryRawExchange(network, addr, buf, 3*time.Second)
	if err != nil {
		t.Fatalf("%s exchange: %v", network, err)
	}
	r := new(mdns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return r, b
}

// TestTSIGErrors: RFC 8945 §5.2. A request signed with a key the server
// does not hold, with the wrong secret or algorithm, or at a time outside
// the fudge gets NOTAUTH and the TSIG error, over UDP and TCP, whether or
// not the server has keys; BADTIME's reply is signed and carries the
// server's time.
func TestTSIGErrors(t *testing.T) {
	keyed := newTestServer(t, Config{TransferKeys: []TransferKey{testKey()}})
	keyless := newTestServer(t, Config{})
	now := time.Now()
	for _, tc := range []struct {
		name     string
		s        *Server
		key, alg string
		secret   string
		at       time.Time
		want     uint16
	}{
		{"unknown key, server with keys", keyed, "nobody.", mdns.HmacSHA256, testKeySecret, now, mdns.RcodeBadKey},
		{"unknown key, server without keys", keyless, testKeyName, mdns.HmacSHA256, testKeySecret, now, mdns.RcodeBadKey},
		{"the key's name with another algorithm", keyed, testKeyName, mdns.HmacSHA1, testKeySecret, now, mdns.RcodeBadKey},
		{"wrong secret", keyed, testKeyName, mdns.HmacSHA256, otherSecret, now, mdns.RcodeBadSig},
		{"an hour late", keyed, testKeyName, mdns.HmacSHA256, testKeySecret, now.Add(-time.Hour), mdns.RcodeBadTime},
	} {
		for _, network := range []string{"udp", "tcp"} {
			addr := tc.s.UDPAddr()
			if network == "tcp" {
				addr = tc.s.TCPAddr()
			}
			m := query("web-1.swarm.internal.", mdns.TypeA)
			m.SetEdns0(1232, false)
			buf, mac := signed(t, m, tc.key, tc.alg, tc.secret, tc.at)
			r, raw := rawReply(t, network, addr, buf)
			ts := r.IsTsig()
			if r.Rcode != mdns.RcodeNotAuth || ts == nil || ts.Error != tc.want || len(r.Answer) != 0 || r.Id != m.Id {
				t.Errorf("%s over %s: got %s, TSIG %v; want NOTAUTH with %s", tc.name, network, mdns.RcodeToString[r.Rcode], ts, mdns.RcodeToString[int(tc.want)])
				continue
			}
			if r.IsEdns0() == nil {
				t.Errorf("%s over %s: no OPT in the reply to a query with one", tc.name, network)
			}
			switch tc.want {
			case mdns.RcodeBadTime:
				if ts.MAC == "" || ts.OtherLen != 6 || ts.TimeSigned != uint64(tc.at.Unix()) {
					t.Errorf("%s: got TSIG %v; want signed, the request's time, the server's in other data", tc.name, ts)
				}
				// Signed over the request's MAC. miekg's TsigVerify refuses
				// NOTAUTH messages: sign the reply again and compare.
				again := new(mdns.Msg)
				if err := again.Unpack(raw); err != nil {
					t.Fatal(err)
				}
				_, want, err := mdns.TsigGenerate(again, testKeySecret, mac, false)
				if err != nil || want != ts.MAC {
					t.Errorf("%s: the reply's MAC %s; want %s (%v)", tc.name, ts.MAC, want, err)
				}
			default:
				if ts.MAC != "" {
					t.Errorf("%s: got a MAC on a %s reply; want none (RFC 8945 §5.3.2)", tc.name, mdns.RcodeToString[int(tc.want)])
				}
				if d := time.Since(time.Unix(int64(ts.TimeSigned), 0)); d < -time.Minute || d > time.Minute {
					t.Errorf("%s: the reply's time %d is not the server's (dig: clocks are unsynchronized)", tc.name, ts.TimeSigned)
				}
			}
		}
	}
	// A TSIG anywhere but last is FORMERR (RFC 8945 §5.1).
	m := query("web-1.swarm.internal.", mdns.TypeA)
	m.SetTsig(testKeyName, mdns.HmacSHA256, tsigFudge, now.Unix())
	m.SetEdns0(1232, false)
	buf, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rawReply(t, "udp", keyed.UDPAddr(), buf); r.Rcode != mdns.RcodeFormatError {
		t.Errorf("TSIG before the OPT: got %s; want FORMERR", mdns.RcodeToString[r.Rcode])
	}
	// A TSIG that cannot be interpreted (RDLENGTH 0: no algorithm, no MAC)
	// is FORMERR too (§5.2), with a reply that unpacks (rawReply checks):
	// the fuzzer found the NOTAUTH reply echoing it packed shorter than
	// its RDLENGTH.
	empty, err := query("web-1.swarm.internal.", mdns.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	empty[11]++ // ARCOUNT
	empty = append(empty, 0, 0, byte(mdns.TypeTSIG), 0, byte(mdns.ClassANY), 0, 0, 0, 0, 0, 0)
	for _, s := range []*Server{keyed, keyless} {
		for _, network := range []string{"udp", "tcp"} {
			addr := s.UDPAddr()
			if network == "tcp" {
				addr = s.TCPAddr()
			}
			if r, _ := rawReply(t, network, addr, empty); r.Rcode != mdns.RcodeFormatError {
				t.Errorf("TSIG with no RDATA over %s: got %s; want FORMERR", network, mdns.RcodeToString[r.Rcode])
			}
		}
	}
}

// TestTSIGSignedQuery: a query signed with the server's key is answered as
// usual, the answer signed (miekg's client verifies it).
func TestTSIGSignedQuery(t *testing.T) {
	s := newTestServer(t, Config{TransferKeys: []TransferKey{testKey()}})
	for _, network := range []string{"udp", "tcp"} {
		m := query("web-1.swarm.internal.", mdns.TypeA)
		m.SetTsig(testKeyName, mdns.HmacSHA256, tsigFudge, time.Now().Unix())
		c := &mdns.Client{Net: network, TsigSecret: map[string]string{testKeyName: testKeySecret}, Timeout: 3 * time.Second}
		addr := s.UDPAddr()
		if network == "tcp" {
			addr = s.TCPAddr()
		}
		r, _, err := c.Exchange(m, addr.String())
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 2 || r.IsTsig() == nil {
			t.Errorf("%s: got %s, %d answers, TSIG %v; want NOERROR, 2, signed", network, mdns.RcodeToString[r.Rcode], len(r.Answer), r.IsTsig())
		}
	}
}

// TestTSIGTransfer: with a key set, a transfer needs it (REFUSED without,
// and outside --allow-transfer even with it); a signed transfer of a zone
// that takes many messages has every message signed in a chain (miekg's
// Transfer verifies each).
func TestTSIGTransfer(t *testing.T) {
	s := newTestServer(t, Config{
		Store:         bigRegistry(t, 3000),
		AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		TransferKeys:  []TransferKey{testKey()},
	})
	if r := exchange(t, "tcp", s.TCPAddr(), query("swarm.internal.", mdns.TypeAXFR)); r.Rcode != mdns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("unsigned AXFR: got %s with %d answers; want REFUSED", mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if r := exchange(t, "udp", s.UDPAddr(), ixfrQuery("swarm.internal.", 1)); r.Rcode != mdns.RcodeRefused {
		t.Errorf("unsigned IXFR over UDP: got %s; want REFUSED", mdns.RcodeToString[r.Rcode])
	}
	for _, qtype := range []uint16{mdns.TypeAXFR, mdns.TypeIXFR} {
		m := query("swarm.internal.", qtype)
		if qtype == mdns.TypeIXFR {
			m = ixfrQuery("swarm.internal.", 1)
		}
		m.SetTsig(testKeyName, mdns.HmacSHA256, tsigFudge, time.Now().Unix())
		tr := &mdns.Transfer{TsigSecret: map[string]string{testKeyName: testKeySecret}}
		rrs, msgs, err := transferIn(t, s.TCPAddr(), m, tr)
		if err != nil {
			t.Fatalf("signed %s: %v", mdns.TypeToString[qtype], err)
		}
		if msgs < 2 || len(rrs) < 3000 {
			t.Errorf("signed %s: got %d records in %d messages; want the whole zone in several", mdns.TypeToString[qtype], len(rrs), msgs)
		}
	}

	elsewhere := newTestServer(t, Config{AllowTransfer: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, TransferKeys: []TransferKey{testKey()}})
	m := query("swarm.internal.", mdns.TypeAXFR)
	m.SetTsig(testKeyName, mdns.HmacSHA256, tsigFudge, time.Now().Unix())
	c := &mdns.Client{Net: "tcp", TsigSecret: map[string]string{testKeyName: testKeySecret}, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, elsewhere.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeRefused || r.IsTsig() == nil {
		t.Errorf("signed AXFR outside --allow-transfer: got %s, TSIG %v; want REFUSED, signed", mdns.RcodeToString[r.Rcode], r.IsTsig())
	}
}

package dns

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/registry"
)

// secondary is a fake secondary that takes NOTIFYs.
type secondary struct {
	addr string

	mu       sync.Mutex
	got      []notifyGot
	drop     int // NOTIFYs left to leave unanswered
	rcode    int // the rcode answers carry
	tsigErrs int // signatures that did not verify
}

type notifyGot struct {
	serial uint32
	at     time.Time
	signed bool
}

func startSecondary(t *testing.T, drop, rcode int) *secondary {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sec := &secondary{addr: pc.LocalAddr().String(), drop: drop, rcode: rcode}
	srv := &mdns.Server{PacketConn: pc, TsigSecret: map[string]string{testKeyName: testKeySecret}, MsgAcceptFunc: func(mdns.Header) mdns.MsgAcceptAction { return mdns.MsgAccept }}
	srv.Handler = mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		if r.Opcode != mdns.OpcodeNotify {
			return
		}
		sec.mu.Lock()
		g := notifyGot{at: time.Now(), signed: r.IsTsig() != nil}
		if len(r.Answer) == 1 {
			if soa, ok := r.Answer[0].(*mdns.SOA); ok {
				g.serial = soa.Serial
			}
		}
		if g.signed && w.TsigStatus() != nil {
			sec.tsigErrs++
		}
		sec.got = append(sec.got, g)
		drop := sec.drop > 0
		sec.drop--
		rcode := sec.rcode
		sec.mu.Unlock()
		if drop {
			return
		}
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Rcode = rcode
		if t := r.IsTsig(); t != nil {
			m.SetTsig(t.Hdr.Name, t.Algorithm, tsigFudge, time.Now().Unix())
		}
		_ = w.WriteMsg(m)
	})
	serveMiekg(t, srv)
	return sec
}

func (s *secondary) notifies() []notifyGot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notifyGot(nil), s.got...)
}

// TestNotify: a NOTIFY at start and one for each new serial, signed with
// the key; a burst of changes is at most one NOTIFY a second.
func TestNotify(t *testing.T) {
	sec := startSecondary(t, 0, mdns.RcodeSuccess)
	r := testRegistry(t)
	s := newTestServer(t, Config{Store: r, Notify: []string{sec.addr}, TransferKeys: []TransferKey{testKey()}})
	await.Until(t, 3*time.Second, func() error {
		if len(sec.notifies()) == 0 {
			return fmt.Errorf("no NOTIFY at start")
		}
		return nil
	})
	first := sec.notifies()[0]
	if now := s.store.Snapshot().Serial(); !first.signed || serialBefore(now, first.serial) {
		t.Errorf("first NOTIFY: got %+v; want signed, serial at most %d", first, now)
	}

	start := time.Now()
	for i := range 50 {
		if _, err := r.SetLocal(registry.RecordSet{ContainerID: fmt.Sprint("burst", i), Name: fmt.Sprintf("b%d.swarm.internal.", i)}); err != nil {
			t.Fatal(err)
		}
	}
	await.Until(t, 5*time.Second, func() error {
		got := sec.notifies()
		if last := got[len(got)-1]; serialBefore(last.serial, r.Snapshot().Serial()) || last.serial == first.serial {
			return fmt.Errorf("last NOTIFY at serial %d; want %d", last.serial, r.Snapshot().Serial())
		}
		return nil
	})
	got := sec.notifies()
	t.Logf("a change to NOTIFY of its serial: %v; %d NOTIFYs in all", got[len(got)-1].at.Sub(start).Round(time.Millisecond), len(got))
	for i := 1; i < len(got); i++ {
		if d := got[i].at.Sub(got[i-1].at); d < 900*time.Millisecond {
			t.Errorf("NOTIFYs %d and %d %v apart; want at most one a second", i-1, i, d)
		}
		if !got[i].signed || serialBefore(got[i].serial, got[i-1].serial) {
			t.Errorf("NOTIFY %d: %+v after %+v; want signed, the serial not going back", i, got[i], got[i-1])
		}
	}
	sec.mu.Lock()
	defer sec.mu.Unlock()
	if sec.tsigErrs != 0 {
		t.Errorf("%d NOTIFYs whose signature the secondary could not verify", sec.tsigErrs)
	}
}

// TestNotifyRetried: a NOTIFY left unanswered, or answered with an error,
// is sent again until it is acknowledged.
func TestNotifyRetried(t *testing.T) {
	sec := startSecondary(t, 1, mdns.RcodeRefused)
	s := newTestServer(t, Config{Notify: []string{sec.addr}})
	await.Until(t, 15*time.Second, func() error {
		if n := len(sec.notifies()); n < 2 {
			return fmt.Errorf("%d NOTIFYs; want 2 (one unanswered, one refused)", n)
		}
		return nil
	})
	sec.mu.Lock()
	sec.rcode = mdns.RcodeSuccess
	sec.mu.Unlock()
	await.Until(t, 15*time.Second, func() error {
		if n := len(sec.notifies()); n < 3 {
			return fmt.Errorf("%d NOTIFYs; want 3 (the third acknowledged)", n)
		}
		return nil
	})
	// The serial of the start moves on when its second is over
	// (registry/serial.go): a retry carries the newest.
	got := sec.notifies()
	for i, g := range got {
		if g.signed || i > 0 && serialBefore(g.serial, got[i-1].serial) {
			t.Errorf("retry %d: %+v; want unsigned (no key), the serial not going back", i, g)
		}
	}
	if last := got[len(got)-1].serial; last != s.store.Snapshot().Serial() {
		t.Errorf("the acknowledged NOTIFY carried serial %d; want %d", last, s.store.Snapshot().Serial())
	}
}

func TestNormalizeNotify(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":         "192.0.2.1:53",
		"192.0.2.1:5300":    "192.0.2.1:5300",
		"[2001:db8::1]:53":  "[2001:db8::1]:53",
		"2001:db8::1":       "[2001:db8::1]:53",
		"ns1.example":       "ns1.example:53",
		"ns1.example:10053": "ns1.example:10053",
	} {
		if got, err := ParseNotifyTarget(in); err != nil || got != want {
			t.Errorf("ParseNotifyTarget(%q): got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"192.0.2.1:0", "192.0.2.1:http", "", "a b:53"} {
		if got, err := ParseNotifyTarget(bad); err == nil {
			t.Errorf("ParseNotifyTarget(%q): got %q; want an error", bad, got)
		}
	}
}

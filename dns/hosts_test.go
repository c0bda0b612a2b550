package dns

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestServerHostsFile(t *testing.T) {
	up := startUpstream(t, answerA)
	path := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, path, "192.0.2.10 db.corp.example dbhost\n2001:db8::10 db.corp.example\n")
	s := newTestServer(t, Config{HostsFile: path, HostsPoll: 10 * time.Millisecond, Upstreams: []string{up.addr}})
	tests := []struct {
		name   string
		qtype  uint16
		answer []string
	}{
		{"db.corp.example.", mdns.TypeA, []string{"db.corp.example.\t5\tIN\tA\t192.0.2.10"}},
		{"DB.Corp.Example.", mdns.TypeAAAA, []string{"DB.Corp.Example.\t5\tIN\tAAAA\t2001:db8::10"}},
		{"dbhost.", mdns.TypeA, []string{"dbhost.\t5\tIN\tA\t192.0.2.10"}},
		{"db.corp.example.", mdns.TypeMX, nil},
		{"10.2.0.192.in-addr.arpa.", mdns.TypePTR, []string{"10.2.0.192.in-addr.arpa.\t5\tIN\tPTR\tdb.corp.example."}},
	}
	for _, tt := range tests {
		r := exchange(t, "udp", s.UDPAddr(), query(tt.name, tt.qtype))
		if got := rrStrings(r.Answer); r.Rcode != mdns.RcodeSuccess || !r.Authoritative || !slices.Equal(got, tt.answer) {
			t.Errorf("%s %s: got %s aa=%v %q; want NOERROR aa %q", tt.name, mdns.TypeToString[tt.qtype], mdns.RcodeToString[r.Rcode], r.Authoritative, got, tt.answer)
		}
	}
	if n := up.queries.Load(); n != 0 {
		t.Errorf("upstream queries: got %d; want 0", n)
	}
	ex, err := s.Lookup(t.Context(), "db.corp.example", mdns.TypeA, mustAddr("127.0.0.1"))
	if err != nil || ex.Source != SourceHosts {
		t.Errorf("Lookup: got %v source %q; want hosts", err, ex.Source)
	}

	// A change to the file is picked up.
	writeFile(t, path, "# moved\n192.0.2.20 db.corp.example\n")
	waitFor(t, 5*time.Second, func() bool {
		r := exchange(t, "udp", s.UDPAddr(), query("db.corp.example.", mdns.TypeA))
		return len(r.Answer) == 1 && strings.HasSuffix(r.Answer[0].String(), "192.0.2.20")
	})
	// "dbhost." is gone from the file: forwarded now.
	exchange(t, "udp", s.UDPAddr(), query("dbhost.", mdns.TypeA))
	if n := up.queries.Load(); n != 1 {
		t.Errorf("upstream queries: got %d; want 1", n)
	}
	// A file that disappears keeps the names read before: internal/hostsfile's
	// TestFileRun.
}

func TestNewHostsFileMissing(t *testing.T) {
	_, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), HostsFile: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "hosts file") {
		t.Errorf("got %v; want a hosts file error", err)
	}
}

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

func TestParseHosts(t *testing.T) {
	data := `# static names
127.0.0.1	localhost
192.0.2.10  db.corp.example  db   # the database
2001:db8::10 db.corp.example
192.0.2.11  DB.corp.example
not-an-ip   x.example
192.0.2.12
192.0.2.13  bad..name good.example
::ffff:192.0.2.14 mapped.example
`
	tbl, bad := parseHosts([]byte(data), 5)
	wantNames := map[string][]string{
		"localhost.":       {"127.0.0.1"},
		"db.corp.example.": {"192.0.2.10", "2001:db8::10", "192.0.2.11"},
		"db.":              {"192.0.2.10"},
		"good.example.":    {"192.0.2.13"},
		"mapped.example.":  {"192.0.2.14"},
	}
	if len(tbl.byName) != len(wantNames) {
		t.Errorf("names: got %d; want %d: %v", len(tbl.byName), len(wantNames), tbl.byName)
	}
	for name, want := range wantNames {
		var got []string
		for _, a := range tbl.byName[name] {
			got = append(got, a.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v; want %v", name, got, want)
		}
	}
	if got := tbl.byAddr[mustAddr("192.0.2.10")]; !slices.Equal(got, []string{"db.corp.example.", "db."}) {
		t.Errorf("names of 192.0.2.10: got %v", got)
	}
	if len(bad) != 3 {
		t.Errorf("bad lines: got %q; want 3", bad)
	}
}

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
	// A file that disappears keeps the names read before.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	polls := s.hostsPolls.Load()
	waitFor(t, 5*time.Second, func() bool { return s.hostsPolls.Load() >= polls+3 })
	if r := exchange(t, "udp", s.UDPAddr(), query("db.corp.example.", mdns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("after removal: got %d answers; want 1", len(r.Answer))
	}
}

func TestNewHostsFileMissing(t *testing.T) {
	_, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), HostsFile: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "hosts file") {
		t.Errorf("got %v; want a hosts file error", err)
	}
}

package hostsfile

import (
	"net/netip"
	"slices"
	"testing"
)

// TestParse: names are made canonical and kept in file order, duplicates
// once, mapped addresses unmapped; bad lines and names are skipped and
// reported.
func TestParse(t *testing.T) {
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
	tbl, bad := Parse([]byte(data))
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
	if got := tbl.byAddr[netip.MustParseAddr("192.0.2.10")]; !slices.Equal(got, []string{"db.corp.example.", "db."}) {
		t.Errorf("names of 192.0.2.10: got %v", got)
	}
	if len(bad) != 3 {
		t.Errorf("bad lines: got %q; want 3", bad)
	}
}

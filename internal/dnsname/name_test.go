package dnsname

import (
	"strings"
	"testing"
)

func TestCanonicalName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{".", "."},
		{"web", "web."},
		{"web.", "web."},
		{"Web.Swarm.Internal", "web.swarm.internal."},
		{"WEB.SWARM.INTERNAL.", "web.swarm.internal."},
		{"web..", "web."},
		{"web...", "web."},
		{"..", "."},
		{"a-B_c.9", "a-b_c.9."},
		{"ÄB.", "Äb."}, // ASCII only, as DNS compares names
	}
	for _, tt := range tests {
		if got := CanonicalName(tt.in); got != tt.want {
			t.Errorf("CanonicalName(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{"", ".", "..", "web", "Web.Swarm.Internal.", "a..", "\xff.", "A\\.", "ÄÖ.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := CanonicalName(name)
		if again := CanonicalName(got); again != got {
			t.Errorf("CanonicalName not idempotent: %q -> %q -> %q", name, got, again)
		}
		if name == "" {
			if got != "" {
				t.Errorf("CanonicalName(\"\"): got %q; want \"\"", got)
			}
			return
		}
		if !strings.HasSuffix(got, ".") || (got != "." && strings.HasSuffix(got, "..")) {
			t.Errorf("CanonicalName(%q): got %q; want exactly one trailing dot", name, got)
		}
		for i := 0; i < len(got); i++ {
			if 'A' <= got[i] && got[i] <= 'Z' {
				t.Errorf("CanonicalName(%q): got %q with an upper-case letter", name, got)
				break
			}
		}
		if !strings.EqualFold(strings.TrimRight(got, "."), strings.TrimRight(name, ".")) {
			t.Errorf("CanonicalName(%q): got %q, which is not the same name", name, got)
		}
	})
}

// TestInZone: whole labels are compared, escapes kept.
func TestInZone(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"swarm.internal.", true},
		{"a.swarm.internal.", true},
		{"a.b.swarm.internal.", true},
		{"aswarm.internal.", false},
		{`a\.swarm.internal.`, false},
		{`a\\.swarm.internal.`, true},
		{"internal.", false},
		{"swarm.internal.com.", false},
	}
	for _, tt := range tests {
		if got := InZone(tt.name, "swarm.internal."); got != tt.want {
			t.Errorf("InZone(%q): got %v; want %v", tt.name, got, tt.want)
		}
	}
}

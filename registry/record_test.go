package registry

import (
	"slices"
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

func TestHealth(t *testing.T) {
	for _, h := range []Health{HealthNone, HealthStarting, HealthHealthy, HealthUnhealthy} {
		if got := ParseHealth(strings.ToUpper(h.String())); got != h {
			t.Errorf("ParseHealth(%q): got %v; want %v", h.String(), got, h)
		}
	}
	if ParseHealth("bogus") != HealthNone {
		t.Error("ParseHealth(bogus): want HealthNone")
	}
	serving := map[Health]bool{HealthNone: true, HealthHealthy: true, HealthStarting: false, HealthUnhealthy: false}
	for h, want := range serving {
		if got := h.Serving(); got != want {
			t.Errorf("%v.Serving(): got %v; want %v", h, got, want)
		}
	}
}

// normalize keeps names that are normal already and gives others a slice
// of their exact size.
func TestNormalizeNames(t *testing.T) {
	normal := []string{"a.z.", "b.z."}
	s := RecordSet{Name: "b.z.", Names: normal}
	s.normalize()
	if &s.Names[0] != &normal[0] {
		t.Error("normal names were copied")
	}
	for _, names := range [][]string{{"B.z"}, {"b.z.", "a.z."}, {"a.z.", "a.z."}, {"a.z."}, nil} {
		s := RecordSet{Name: "b.z.", Names: slices.Clone(names)}
		s.normalize()
		if !slices.IsSorted(s.Names) || !slices.Contains(s.Names, "b.z.") || len(s.Names) != cap(s.Names) {
			t.Errorf("normalize(%q) names = %q (cap %d); want sorted, unique, holding b.z., exact capacity", names, s.Names, cap(s.Names))
		}
	}
}

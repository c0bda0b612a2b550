package registry

import (
	"slices"
	"strings"
	"testing"
)

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

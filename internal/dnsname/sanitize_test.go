package dnsname

import (
	"strings"
	"testing"
)

// TestSanitize: labels and names are made valid hostname syntax.
func TestSanitize(t *testing.T) {
	labels := []struct{ in, want string }{
		{"web", "web"},
		{"Web_1", "web-1"},
		{"-x-", "x"},
		{"___", ""},
		{"héllo wörld", "h-llo-w-rld"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
		{strings.Repeat("a", 62) + "_b", strings.Repeat("a", 62)},
		{"\xff\xfe", ""},
	}
	for _, tt := range labels {
		if got := SanitizeLabel(tt.in); got != tt.want {
			t.Errorf("SanitizeLabel(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("abcdefghi.", 30) // 300 octets
	names := []struct {
		in   string
		max  int
		want string
	}{
		{"a.b.c", 253, "a.b.c"},
		{"a..b.", 253, "a.b"},
		{"A_B.c-", 253, "a-b.c"},
		{long, 100, strings.TrimSuffix(long[:100], ".")},
		{"abc.def", 5, "abc.d"},
		{"abc.def", 4, "abc"},
		{"abc", 0, ""},
	}
	for _, tt := range names {
		if got := SanitizeName(tt.in, tt.max); got != tt.want {
			t.Errorf("SanitizeName(%q, %d) = %q; want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"web", "Web_1", "a.b.c", "-", ".", "..", "héllo", strings.Repeat("x", 300), "\xff", "a-.-b", "_a_._b_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := SanitizeLabel(s)
		if !validLabel(l) && l != "" {
			t.Fatalf("SanitizeLabel(%q) = %q: not a valid label", s, l)
		}
		if again := SanitizeLabel(l); again != l {
			t.Fatalf("SanitizeLabel not idempotent: %q -> %q -> %q", s, l, again)
		}
		for _, max := range []int{1, 10, 63, 253} {
			n := SanitizeName(s, max)
			if len(n) > max {
				t.Fatalf("SanitizeName(%q, %d) = %q: too long", s, max, n)
			}
			if n == "" {
				continue
			}
			for l := range strings.SplitSeq(n, ".") {
				if !validLabel(l) {
					t.Fatalf("SanitizeName(%q, %d) = %q: bad label %q", s, max, n, l)
				}
			}
			if again := SanitizeName(n, max); again != n {
				t.Fatalf("SanitizeName not idempotent: %q -> %q -> %q", s, n, again)
			}
		}
	})
}

func validLabel(l string) bool {
	if l == "" || len(l) > MaxLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

package dns

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestConfigValidate: each rule of Config.Validate, at and beyond its
// bounds, reported as a *ConfigError naming the field; New refuses the
// same configs; zero is the default, not an error.
func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    Config
		fields []string // the *ConfigError fields expected, in order; none: valid
	}{
		{"defaults", Config{}, nil},
		{"bounds", Config{TTL: MinTTL, NegativeTTL: MaxTTL, MaxUDPSize: MinUDPSize}, nil},
		{"udp max", Config{MaxUDPSize: MaxUDPSize}, nil},
		{"ttl short", Config{TTL: 999 * time.Millisecond}, []string{"TTL"}},
		{"ttl long", Config{TTL: MaxTTL + time.Second}, []string{"TTL"}},
		{"ttl negative", Config{TTL: -time.Second}, []string{"TTL"}},
		{"negative ttl short", Config{NegativeTTL: time.Millisecond}, []string{"NegativeTTL"}},
		{"udp small", Config{MaxUDPSize: MinUDPSize - 1}, []string{"MaxUDPSize"}},
		{"udp big", Config{MaxUDPSize: MaxUDPSize + 1}, []string{"MaxUDPSize"}},
		{"udp negative", Config{MaxUDPSize: -1}, []string{"MaxUDPSize"}},
		{"upstreams", Config{Upstreams: []string{"192.0.2.1", "[2001:db8::1]:5353"}}, nil},
		{"upstream name", Config{Upstreams: []string{"dns.example:53"}}, []string{"Upstreams"}},
		{"all", Config{TTL: time.Millisecond, MaxUDPSize: 65535, Upstreams: []string{"x", "192.0.2.1:0"}}, []string{"TTL", "MaxUDPSize", "Upstreams", "Upstreams"}},
	} {
		err := c.cfg.Validate()
		var got []string
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("%s: %v is no *ConfigError", c.name, e)
				}
				got = append(got, ce.Field)
			}
		}
		if !slices.Equal(got, c.fields) {
			t.Errorf("%s: Validate() = %v (fields %v); want fields %v", c.name, err, got, c.fields)
		}
		if c.fields == nil {
			continue
		}
		cfg := c.cfg
		cfg.Listen, cfg.Store = "127.0.0.1:0", testRegistry(t)
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("%s: New accepted it", c.name)
		}
	}
}

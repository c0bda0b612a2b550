package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testSecret = "c2VjcmV0LW9mLXRoZS10cmFuc2Zlci1rZXktMzJieXQ="

// TestTransferFlags: --transfer-key, --transfer-key-file and --notify are
// checked with the other flags (exit 2 naming the flag) and give the DNS
// server its keys and targets.
func TestTransferFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	if err := os.WriteFile(file, []byte("# transfer keys\n\nhmac-sha512:second:"+testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("hmac-sha256:ok:"+testSecret+"\nhmac-sha256:broken:***\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) (*serveConfig, error) {
		var c serveConfig
		fs := newServeFlags(&c)
		var errOut bytes.Buffer
		if _, ok := parseFlags(fs, args, func(string) string { return "" }, &errOut); !ok {
			t.Fatalf("parseFlags %v: %s", args, errOut.String())
		}
		return &c, c.validate()
	}
	c, err := parse("--transfer-key", "hmac-sha256:first:"+testSecret, "--transfer-key-file", file, "--notify", "192.0.2.1,[2001:db8::1]:5300", "--notify", "ns2.example")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := c.transferKeys()
	if err != nil || len(keys) != 2 || keys[0].Name != "first." || keys[1].Name != "second." || keys[1].Algorithm != "hmac-sha512." {
		t.Errorf("keys: got %+v, %v; want first. (sha256) and second. (sha512)", keys, err)
	}
	if got := strings.Join(c.notify, " "); got != "192.0.2.1:53 [2001:db8::1]:5300 ns2.example:53" {
		t.Errorf("notify: got %q", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--transfer-key", "hmac-md5:k:" + testSecret}, "-transfer-key"},
		{[]string{"--transfer-key-file", bad}, "line 2"},
		{[]string{"--transfer-key-file", filepath.Join(dir, "missing")}, "-transfer-key-file"},
		{[]string{"--notify", "192.0.2.1:99999"}, "-notify"},
	} {
		if _, err := parse(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v; want an error naming %q", tc.args, err, tc.want)
		}
	}
}

package admin_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmdns/swarmdns/admin"
)

// TestUnixSocket: the API on a unix socket needs no token (the file's
// permissions guard it), the client reaches it by unix:PATH, a stale
// socket file is replaced, and a live one is refused.
func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "admin.sock")
	// A stale socket: bound once, closed without unlinking.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	startServer(t, admin.Config{Listen: admin.UnixPrefix + path, ReadyRule: "ready when the test says"})
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket file: %v %v; want mode 0660", fi.Mode(), err)
	}
	c, err := admin.NewClient(admin.UnixPrefix+path, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Healthy(context.Background()); err != nil {
		t.Fatalf("healthz over the socket: %v", err)
	}
	rd, err := c.Ready(context.Background())
	if err != nil || !rd.Ready || rd.Rule != "ready when the test says" {
		t.Errorf("readyz over the socket: %+v %v; want ready with the rule", rd, err)
	}
	if _, err := c.Members(context.Background()); err != nil {
		t.Errorf("members over the socket without a token: %v", err)
	}
	if _, err := admin.New(admin.Config{Listen: admin.UnixPrefix + path, Zone: testZone(t), Gatherer: prometheus.NewRegistry()}); err == nil || !strings.Contains(err.Error(), "another server") {
		t.Errorf("a second server on a live socket: %v; want refused", err)
	}
}

// TestMetricsListener serves /metrics, and only it, without a token.
func TestMetricsListener(t *testing.T) {
	s, base := startServer(t, admin.Config{Token: "tok", MetricsListen: "127.0.0.1:0"})
	m := "http://" + s.MetricsAddr().String()
	if code, body := call(t, http.MethodGet, m+"/metrics", "", ""); code != http.StatusOK || !strings.Contains(string(body), "swarmdns_records") {
		t.Errorf("/metrics on the metrics listener: %d\n%.300s", code, body)
	}
	if code, _ := call(t, http.MethodGet, m+"/v1/members", "", ""); code != http.StatusNotFound {
		t.Errorf("/v1/members on the metrics listener: %d; want 404", code)
	}
	if code, _ := call(t, http.MethodGet, base+"/metrics", "", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics on the API without the token: %d; want 401", code)
	}
}

package gossip

import (
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/logtest"
)

// TestLogSignals: the memberlist log lines that stand for refutations and
// probe outcomes (memberlist v0.7.0 has no hooks for them) reach the
// hooks, written as memberlist writes them.
func TestLogSignals(t *testing.T) {
	w := newLogWriter(zerolog.New(io.Discard))
	var got []string
	w.onRefute = func() { got = append(got, "refute") }
	w.onProbe = func(peer string, ok bool) { got = append(got, fmt.Sprintf("%s:%v", peer, ok)) }
	l := log.New(w, "", 0) // as New makes it
	l.Printf("[WARN] memberlist: Refuting a suspect message (from: %s)", "n1")
	l.Printf("[WARN] memberlist: Refuting a dead message (from: %s)", "n1")
	l.Printf("[DEBUG] memberlist: Failed UDP ping: %s (timeout reached)", "n2")
	l.Printf("[INFO] memberlist: Suspect %s has failed, no acks received", "n3")
	l.Printf("[WARN] memberlist: Was able to connect to %s over TCP but UDP probes failed, network may be misconfigured", "n4")
	l.Printf("[WARN] memberlist: Refuting an alive message for 'n5'")
	l.Printf("[INFO] memberlist: Marking n6 as failed, suspect timeout reached (0 peer confirmations)")
	want := []string{"refute", "refute", "n2:false", "n3:false", "n4:true"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
}

// TestHTTPToGossipPortIsNoError: an HTTP request sent to the gossip port
// (a mis-pointed scraper, a scanner) is logged as a warning, not an error,
// and memberlist's lines name their subsystem without repeating the
// component key of the logger they were given.
func TestHTTPToGossipPortIsNoError(t *testing.T) {
	var logs logtest.Buffer
	a := startNode(t, "a", nodeOpts{logOut: &logs})
	conn, err := net.DialTimeout("tcp", a.addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: gossip\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().String()
	var line logtest.Line
	eventually(t, 10*time.Second, func() error {
		for _, l := range logs.Lines() {
			if strings.Contains(l.Message(), local) {
				line = l
				return nil
			}
		}
		return fmt.Errorf("no line about the connection from %s yet", local)
	})
	if line.Level() != "warn" || line["subsystem"] != "memberlist" {
		t.Errorf("got %v; want a warning from subsystem memberlist", line)
	}
	for _, raw := range strings.Split(logs.String(), "\n") {
		if strings.Count(raw, `"component"`) > 1 {
			t.Errorf("a line repeats the component key: %s", raw)
		}
	}
}

// TestLoggedWithComponent: the bridge keeps the component key of the
// logger it is given once, and adds its subsystem.
func TestLoggedWithComponent(t *testing.T) {
	var logs logtest.Buffer
	w := newLogWriter(zerolog.New(&logs).With().Str("component", "gossip").Logger())
	log.New(w, "", 0).Printf("[ERR] memberlist: Received invalid msgType (71) from=127.0.0.1:5555")
	lines := logs.Lines()
	if len(lines) != 1 || strings.Count(logs.String(), `"component"`) != 1 || lines[0]["subsystem"] != "memberlist" || lines[0].Level() != "warn" {
		t.Errorf("got %s; want one warning with component gossip once and subsystem memberlist", logs.String())
	}
}

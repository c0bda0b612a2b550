package gossip

import (
	"fmt"
	"io"
	"log"
	"slices"
	"testing"

	"github.com/rs/zerolog"
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

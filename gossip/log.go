package gossip

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// logWriter turns memberlist's log lines ("[LEVEL] memberlist: text") into
// zerolog events at that level (moby networkdb bridges its logs the same
// way). A flood of errors from a peer with the wrong key is sampled.
type logWriter struct {
	// off silences memberlist once the node shuts down: its goroutines
	// outlive Shutdown briefly and only report closed sockets.
	off atomic.Bool
	log zerolog.Logger
	// loud is sampled: warnings and errors a stranger can trigger at will.
	loud zerolog.Logger
	// onRefute, when set, is called (under memberlist's node lock: it
	// must not block) when memberlist refutes a suspicion or a death
	// notice about the local node.
	onRefute func()
	// onProbe, when set, is called (without blocking) when a probe of
	// peer failed (ok false) or reached it over TCP only (ok true).
	onProbe func(peer string, ok bool)
	// onDecryptFail, when set, is called (without blocking) when a packet
	// or stream was not encrypted with this cluster's key.
	onDecryptFail func()
}

func newLogWriter(l zerolog.Logger) *logWriter {
	// The logger given names the component (gossip) already: a second
	// "component" key would repeat it in every JSON line.
	l = l.With().Str("subsystem", "memberlist").Logger()
	return &logWriter{log: l, loud: l.Sample(&zerolog.BurstSampler{Burst: 20, Period: 10 * time.Second})}
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.off.Load() {
		return len(p), nil
	}
	line := bytes.TrimRight(p, "\r\n")
	lvl := zerolog.InfoLevel
	if len(line) > 0 && line[0] == '[' {
		if end := bytes.IndexByte(line, ']'); end > 0 {
			switch string(line[1:end]) {
			case "DEBUG", "TRACE":
				lvl = zerolog.DebugLevel
			case "INFO":
				lvl = zerolog.InfoLevel
			case "WARN", "WARNING":
				lvl = zerolog.WarnLevel
			case "ERR", "ERROR":
				lvl = zerolog.ErrorLevel
			}
			line = bytes.TrimLeft(line[end+1:], " ")
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	// A stranger speaking another protocol to the gossip port (an HTTP
	// probe, a scanner) is no error of this node: a warning, sampled.
	if lvl == zerolog.ErrorLevel && strangerLine(line) {
		lvl = zerolog.WarnLevel
	}
	// memberlist has no hook for a refutation (v0.7.0): its log line is
	// the only sign ("Refuting a suspect message (from: x)", "Refuting a
	// dead message (from: x)"). TestShortPartitionRepair breaks if the
	// text changes.
	if w.onRefute != nil && (bytes.HasPrefix(line, []byte("Refuting a suspect message")) || bytes.HasPrefix(line, []byte("Refuting a dead message"))) {
		w.onRefute()
	}
	// Likewise for the probes: "Failed UDP ping: x (timeout reached)",
	// "Suspect x has failed, no acks received", "Was able to connect to x
	// over TCP but UDP probes failed".
	if w.onProbe != nil {
		if peer, ok := between(line, "Failed UDP ping: ", " (timeout reached)"); ok {
			w.onProbe(peer, false)
		} else if peer, ok := between(line, "Suspect ", " has failed, no acks received"); ok {
			w.onProbe(peer, false)
		} else if peer, ok := between(line, "Was able to connect to ", " over TCP but UDP probes failed"); ok {
			w.onProbe(peer, true)
		}
	}
	// And for the key: "Decrypt packet failed", "failed to decrypt",
	// "no installed keys could decrypt the message", "Encryption is
	// configured but remote state is not encrypted".
	if w.onDecryptFail != nil && decryptLine(line) {
		w.onDecryptFail()
	}
	l := &w.log
	if lvl >= zerolog.WarnLevel {
		l = &w.loud
	}
	l.WithLevel(lvl).Msg(string(line))
	return len(p), nil
}

// strangerLine reports whether a memberlist error line is about a
// connection that did not speak swarmdns's memberlist at all: an HTTP
// "GET" carries no label ("discarding stream with unacceptable label"), or
// without a label is read as message type 71 ("Received invalid msgType").
// TestHTTPToGossipPortIsNoError breaks if memberlist's text changes.
func strangerLine(line []byte) bool {
	for _, s := range []string{"unacceptable label", "invalid msgType", "Unknown message type"} {
		if bytes.Contains(line, []byte(s)) {
			return true
		}
	}
	return false
}

// decryptLine reports whether a memberlist line is about traffic that was
// not encrypted with this cluster's key.
func decryptLine(line []byte) bool {
	l := bytes.ToLower(line)
	return bytes.Contains(l, []byte("decrypt")) || bytes.Contains(l, []byte("remote state is not encrypted"))
}

// between returns what line holds between prefix and the first suffix.
func between(line []byte, prefix, suffix string) (string, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(prefix))
	if !ok {
		return "", false
	}
	i := bytes.Index(rest, []byte(suffix))
	if i <= 0 {
		return "", false
	}
	return string(rest[:i]), true
}

// sometimes lets an action happen at most once per period per key, for
// logs that a remote peer can trigger at will.
type sometimes struct {
	period time.Duration
	mu     sync.Mutex
	last   map[string]time.Time
}

func (s *sometimes) allow(key string) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = make(map[string]time.Time)
	}
	if t, ok := s.last[key]; ok && now.Sub(t) < s.period {
		return false
	}
	s.last[key] = now
	return true
}

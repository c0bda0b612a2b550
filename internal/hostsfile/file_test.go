package hostsfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/await"
)

// writeHosts writes a hosts file in place: a poll may see it half written,
// and the next one, seeing the size change again, reads it whole.
func writeHosts(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func addrStrings(t *Table, name string) []string {
	addrs, _ := t.Addrs(name)
	var out []string
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

// TestFileRun: Open reads the file; Run picks up a change, and a file that
// disappears keeps the names read before; Run returns when ctx ends.
func TestFileRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	writeHosts(t, path, "192.0.2.10 db.corp.example dbhost\n")
	f, err := Open(Config{Path: path, Poll: 10 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrStrings(f.Table(), "dbhost."); !slices.Equal(got, []string{"192.0.2.10"}) {
		t.Fatalf("dbhost. after Open: %v", got)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	defer func() { stop(); <-done }()

	writeHosts(t, path, "# moved\n192.0.2.20 db.corp.example\n")
	await.Until(t, 5*time.Second, func() error {
		if got := addrStrings(f.Table(), "db.corp.example."); !slices.Equal(got, []string{"192.0.2.20"}) {
			return fmt.Errorf("db.corp.example.: %v; want the new address", got)
		}
		return nil
	})
	if _, ok := f.Table().Addrs("dbhost."); ok {
		t.Error("dbhost. left the file but is still in the table")
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	polls := f.Polls()
	await.Until(t, 5*time.Second, func() error {
		if n := f.Polls(); n < polls+3 {
			return fmt.Errorf("%d polls since the removal; want 3", n-polls)
		}
		return nil
	})
	if got := addrStrings(f.Table(), "db.corp.example."); !slices.Equal(got, []string{"192.0.2.20"}) {
		t.Errorf("after removal: %v; want the names read before", got)
	}
}

// TestOpenErrors: a missing file and a poll interval that is not positive
// are errors, not a table.
func TestOpenErrors(t *testing.T) {
	if _, err := Open(Config{Path: filepath.Join(t.TempDir(), "nope"), Poll: time.Second}); err == nil || !strings.Contains(err.Error(), "hosts file") {
		t.Errorf("missing file: got %v; want a hosts file error", err)
	}
	path := filepath.Join(t.TempDir(), "hosts")
	writeHosts(t, path, "192.0.2.1 a\n")
	if _, err := Open(Config{Path: path}); err == nil {
		t.Error("Poll 0: no error")
	}
}

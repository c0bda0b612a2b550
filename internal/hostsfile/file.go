package hostsfile

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Config is a File's settings.
type Config struct {
	Path string
	// Poll is how often Run checks the file for a change.
	Poll   time.Duration
	Logger zerolog.Logger
}

// File is a hosts file and its current Table.
type File struct {
	cfg   Config
	table atomic.Pointer[Table]
	state fileState    // owned by Run
	polls atomic.Int64 // checks of the file, for tests (export_test.go)
}

// fileState is what Run compares to see a change.
type fileState struct {
	mod  time.Time
	size int64
}

// Open reads and parses the file at cfg.Path: an error when it cannot be
// read, lines that do not parse skipped and logged.
func Open(cfg Config) (*File, error) {
	if cfg.Poll <= 0 {
		return nil, fmt.Errorf("hosts file %s: poll interval %v: not positive", cfg.Path, cfg.Poll)
	}
	f := &File{cfg: cfg}
	t, st, bad, err := load(cfg.Path)
	if err != nil {
		return nil, err
	}
	f.table.Store(t)
	f.state = st
	f.logLoaded(t, bad)
	return f, nil
}

// Table returns the current table; safe for concurrent use.
func (f *File) Table() *Table { return f.table.Load() }

// Run reloads the file whenever its modification time or size changes,
// until ctx ends. A file that disappears or cannot be read keeps the last
// table.
func (f *File) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.Poll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.polls.Add(1)
		fi, err := os.Stat(f.cfg.Path)
		if err == nil && fi.ModTime().Equal(f.state.mod) && fi.Size() == f.state.size {
			continue
		}
		table, st, bad, err := load(f.cfg.Path)
		if err != nil {
			if !failing {
				f.cfg.Logger.Warn().Err(err).Msg("hosts file unreadable: keeping the names read before")
				failing = true
			}
			continue
		}
		failing = false
		f.state = st
		f.table.Store(table)
		f.logLoaded(table, bad)
	}
}

// load reads and parses the hosts file at path.
func load(path string) (*Table, fileState, []string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fileState{}, nil, fmt.Errorf("hosts file: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileState{}, nil, fmt.Errorf("hosts file: %w", err)
	}
	t, bad := Parse(data)
	return t, fileState{mod: fi.ModTime(), size: fi.Size()}, bad, nil
}

func (f *File) logLoaded(t *Table, bad []string) {
	f.cfg.Logger.Info().Str("path", f.cfg.Path).Int("names", t.Len()).Msg("hosts file loaded")
	if len(bad) > 0 {
		f.cfg.Logger.Warn().Str("path", f.cfg.Path).Strs("skipped", bad).Msg("hosts file lines skipped")
	}
}

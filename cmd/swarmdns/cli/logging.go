package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// newLogger builds the process's root logger. format is "json", "console" or
// "auto" (console on a terminal, JSON otherwise). Every line carries the node
// name. The level is the process-wide zerolog level, so it can be changed at
// run time (SIGHUP or the admin API).
func newLogger(w io.Writer, format, level, node string) (zerolog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	case "auto", "":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
		}
	default:
		return zerolog.Nop(), fmt.Errorf("unknown log format %q (want json, console or auto)", format)
	}
	zerolog.SetGlobalLevel(lvl)
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).With().Timestamp().Str("node", node).Logger(), nil
}

// parseLevel parses a zerolog level name.
func parseLevel(s string) (zerolog.Level, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(strings.TrimSpace(s)))
	if err != nil || s == "" {
		return zerolog.NoLevel, fmt.Errorf("unknown log level %q (want trace, debug, info, warn or error)", s)
	}
	return lvl, nil
}

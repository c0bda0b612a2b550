package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
)

// oneDashFlag matches the flag package's spelling of a flag in its errors
// ("flag provided but not defined: -foo", "invalid value \"x\" for flag
// -ttl: ..."), which the help and the README spell --foo.
var oneDashFlag = regexp.MustCompile(`(^|: |for flag |argument: )-([A-Za-z0-9][A-Za-z0-9_-]*)`)

// parseCommandLine parses args into fs, reporting a bad flag on stderr
// spelled as the help spells it (--flag), with a pointer to the help. It
// returns the exit code and false when the command must stop (help asked,
// or an error).
func parseCommandLine(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return exitOK, false
	}
	fmt.Fprintf(stderr, "swarmdns %s: %s\nRun 'swarmdns %s --help' for its flags.\n", fs.Name(), dashDash(err.Error()), fs.Name())
	return exitUsage, false
}

// dashDash respells the flag package's -flag as --flag.
func dashDash(msg string) string {
	return oneDashFlag.ReplaceAllString(msg, "$1--$2")
}

// Package cli implements the swarmdns command line: `serve`, which runs a
// node, and the debug subcommands, which ask a running node's admin API.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // bad flags or arguments
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists every subcommand by name.
var commands = map[string]command{
	"serve":     {"run a swarmdns node", runServe},
	"version":   {"print the version", runVersion},
	"members":   {"list the cluster's nodes as this node sees them", runMembers},
	"records":   {"list the records this node holds", runRecords},
	"lookup":    {"show the answer this node gives for a name, and why", runLookup},
	"stats":     {"show this node's counters", runStats},
	"health":    {"exit 0 when the node's admin API says it is healthy (or, with --ready, ready)", runHealth},
	"log-level": {"print the node's log level, or set it: swarmdns log-level debug", runLogLevel},
	"uninstall": {"remove the node-local DNS address (and swarmdns0) that serve --node-address keeps", runUninstall},
}

// Run runs the command line args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return runVersion(ctx, nil, stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "swarmdns: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "swarmdns: a DNS sidecar for Docker Swarm.\n\nUsage:\n  swarmdns <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s  %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'swarmdns <command> --help' for a command's flags; every flag can also be set\nthrough the environment variable SWARMDNS_<FLAG> (upper case, '-' as '_').")
	fmt.Fprintln(w, "\nFlags of 'swarmdns serve':")
	printFlags(w, newServeFlags(&serveConfig{}))
}

// parseFlags parses args into fs, then fills every flag not given on the
// command line from its SWARMDNS_* environment variable. It returns the exit
// code to use and false when the command must stop (help asked, or an error,
// already reported on stderr).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) (int, bool) {
	if code, ok := parseCommandLine(fs, args, stderr); !ok {
		return code, false
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("invalid value %q for %s (flag --%s): %w", v, name, f.Name, err)
			}
		}
	})
	if envErr != nil {
		fmt.Fprintf(stderr, "swarmdns %s: %v\n", fs.Name(), envErr)
		return exitUsage, false
	}
	return exitOK, true
}

// parseNoArgs gives fs its help (synopsis), parses args with parseFlags
// and refuses positional arguments: the parsing of a verb that is not a
// debug verb and takes none. It returns the exit code and false when the
// verb must stop (help, or an error already reported on stderr).
func parseNoArgs(fs *flag.FlagSet, synopsis string, args []string, stderr io.Writer) (int, bool) {
	setUsage(fs, synopsis)
	if code, ok := parseFlags(fs, args, debugGetenv, stderr); !ok {
		return code, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "swarmdns %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}

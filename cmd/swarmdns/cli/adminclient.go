package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/swarmdns/swarmdns/admin"
)

// debugFlags are the flags every debug verb (members, records, lookup,
// stats) shares: where the admin API is and how to print.
type debugFlags struct {
	admin   string
	token   string
	json    bool
	timeout time.Duration
}

// defaultDebugTimeout bounds one debug verb's call to the admin API.
const defaultDebugTimeout = 10 * time.Second

// newDebugFlags declares the shared flags on a new FlagSet for verb.
func newDebugFlags(verb, synopsis string, getenv func(string) string) (*flag.FlagSet, *debugFlags) {
	d := &debugFlags{}
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.StringVar(&d.admin, "admin", defaultAdminAddr(getenv), "`address` of the node's admin API, host:port, an http URL or unix:PATH (default: derived from SWARMDNS_ADMIN_LISTEN when set)")
	fs.StringVar(&d.token, "admin-token", "", "bearer `token` the admin API requires")
	fs.BoolVar(&d.json, "json", false, "print JSON instead of a table")
	fs.DurationVar(&d.timeout, "timeout", defaultDebugTimeout, "give up on the admin API after this long")
	setUsage(fs, synopsis)
	return fs, d
}

// defaultAdminAddr is where the debug verbs look for the admin API: the
// address `serve` was told through SWARMDNS_ADMIN_LISTEN when set (as in
// the shipped image, so `docker exec <sidecar> swarmdns members` just
// works), reached over loopback when it listens on every address;
// admin.DefaultListen otherwise.
func defaultAdminAddr(getenv func(string) string) string {
	listen := getenv(envName("admin-listen"))
	if listen == "" {
		return admin.DefaultListen
	}
	if strings.HasPrefix(listen, admin.UnixPrefix) {
		return listen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return admin.DefaultListen
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return listen
}

// parseDebugArgs parses a debug verb's args, flags and positional
// arguments in any order ("lookup web --client 10.0.0.2" and "lookup
// --client 10.0.0.2 web" both work), then checks the flags. It returns the
// positional arguments, or the exit code when the verb must stop.
func parseDebugArgs(fs *flag.FlagSet, d *debugFlags, args []string, getenv func(string) string, stderr io.Writer) ([]string, int, bool) {
	var pos []string
	rest := args
	for {
		if code, ok := parseFlags(fs, rest, getenv, stderr); !ok {
			return nil, code, false
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if i := len(rest) - len(left); i > 0 && rest[i-1] == "--" {
			pos = append(pos, left...) // everything after "--" is positional
			break
		}
		pos = append(pos, left[0])
		rest = left[1:]
	}
	if unknown := unknownDebugVariables(debugEnviron(), fs); len(unknown) > 0 {
		fmt.Fprintf(stderr, "swarmdns %s: ignoring unknown variables %s: no setting has these names (a typo?)\n", fs.Name(), strings.Join(unknown, ", "))
	}
	if d.timeout <= 0 {
		fmt.Fprintf(stderr, "swarmdns %s: --timeout must be positive\n", fs.Name())
		return nil, exitUsage, false
	}
	if d.admin == "" {
		fmt.Fprintf(stderr, "swarmdns %s: --admin is empty\n", fs.Name())
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

// client returns the admin API client the flags describe.
// clientNoArgs parses the flags of a verb that takes no positional
// argument and returns the admin API client they describe; ok is false when
// the verb must stop with code (help, or a usage error already reported).
func clientNoArgs(fs *flag.FlagSet, d *debugFlags, args []string, stderr io.Writer) (c *admin.Client, code int, ok bool) {
	pos, code, ok := parseDebugArgs(fs, d, args, debugGetenv, stderr)
	if !ok {
		return nil, code, false
	}
	if len(pos) > 0 {
		return nil, debugUsageError(stderr, fs, "unexpected argument %q", pos[0]), false
	}
	c, err := d.client()
	if err != nil {
		return nil, debugUsageError(stderr, fs, "%v", err), false
	}
	return c, exitOK, true
}

func (d *debugFlags) client() (*admin.Client, error) {
	return admin.NewClient(d.admin, d.token, d.timeout)
}

// debugGetenv and debugEnviron are where the debug verbs read their
// environment.
var (
	debugGetenv  = os.Getenv
	debugEnviron = os.Environ
)

// unknownDebugVariables returns the SWARMDNS_ variables of environ that
// name no flag of a debug verb nor of serve (the sidecar's environment,
// which docker exec passes on, holds serve's).
func unknownDebugVariables(environ []string, fs *flag.FlagSet) []string {
	var out []string
	serveFlags := newServeFlags(&serveConfig{})
	for _, name := range unknownVariables(environ, fs) {
		if serveFlags.Lookup(flagOfEnv(name)) == nil {
			out = append(out, name)
		}
	}
	return out
}

// flagOfEnv is the flag name an environment variable sets (envName's
// inverse).
func flagOfEnv(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "SWARMDNS_")), "_", "-")
}

// reportAPIError prints a failed call for verb with a hint at what to do, and
// returns the exit code.
func reportAPIError(stderr io.Writer, verb string, err error) int {
	fmt.Fprintf(stderr, "swarmdns %s: %v\n", verb, err)
	var ae *admin.APIError
	switch {
	case errors.Is(err, admin.ErrUnreachable):
		fmt.Fprintf(stderr, "Is `swarmdns serve` running there? Point --admin (or %s) at its --admin-listen address.\n", envName("admin"))
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		fmt.Fprintf(stderr, "The node requires its admin token: set --admin-token (or %s).\n", envName("admin-token"))
	}
	return exitError
}

// debugUsageError reports bad arguments for verb and returns exitUsage.
func debugUsageError(stderr io.Writer, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(stderr, "swarmdns %s: %s\n\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}

// printJSON prints v indented, for --json.
func printJSON(stdout, stderr io.Writer, verb string, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "swarmdns %s: write output: %v\n", verb, err)
		return exitError
	}
	return exitOK
}

package cli

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The settings file of `swarmdns serve --config FILE` (the stack's Swarm
// config): one setting a line, a flag's name and its value,
//
//	# names outside the zone go to the office resolvers
//	upstream = 10.0.0.2, 10.0.0.3
//	allow-recursion = 10.0.0.0/8
//
// Blank lines and lines starting with # are skipped; a value may be put in
// double quotes; a list setting may be repeated. A flag given on the
// command line overrides the environment (SWARMDNS_<FLAG>), which
// overrides the file, which overrides the defaults. An unknown name or a
// bad value in the file stops serve with the file and line; an unknown
// SWARMDNS_ variable is logged.

// configFlag is the flag that names the settings file.
const configFlag = "config"

// parseServeFlags parses serve's args, fills the flags not given from the
// environment, then those still not set from the settings file. It returns
// the unknown SWARMDNS_ variables of environ (to log), the exit code to use
// and false when serve must stop (help, or an error already reported on
// stderr).
func parseServeFlags(fs *flag.FlagSet, args []string, getenv func(string) string, environ []string, stderr io.Writer) (unknownEnv []string, code int, ok bool) {
	if code, ok := parseCommandLine(fs, args, stderr); !ok {
		return nil, code, false
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("invalid value %q for %s (flag --%s): %w", v, name, f.Name, err))
			}
			set[f.Name] = true
		}
	})
	if len(errs) == 0 {
		if path := fs.Lookup(configFlag).Value.String(); path != "" {
			errs = append(errs, applyConfigFile(fs, path, set))
		}
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "swarmdns %s: %v\n", fs.Name(), err)
		return nil, exitUsage, false
	}
	return unknownVariables(environ, fs), exitOK, true
}

// applyConfigFile sets, from the file at path, every flag not in set.
func applyConfigFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("settings file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var errs []error
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, found := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		f := fs.Lookup(name)
		switch {
		case !found:
			errs = append(errs, fmt.Errorf("%s:%d: %q is not \"name = value\"", path, n, line))
		case f == nil || name == configFlag:
			errs = append(errs, fmt.Errorf("%s:%d: unknown setting %q (the settings are serve's flags: swarmdns serve --help)", path, n, name))
		case set[name]:
			// The command line or the environment says otherwise.
		default:
			if err := f.Value.Set(value); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: invalid value %q for %s: %w", path, n, value, name, err))
			}
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("settings file %s: %w", path, err))
	}
	return errors.Join(errs...)
}

// knownVariables are the SWARMDNS_ variables of the debug verbs (the
// shipped image sets them for docker exec), which serve does not read.
var knownVariables = []string{"SWARMDNS_ADMIN", "SWARMDNS_JSON", "SWARMDNS_TIMEOUT"}

// unknownVariables returns the SWARMDNS_ variables of environ that name no
// flag of fs (a typo such as SWARMDNS_UPSTREMA), sorted.
func unknownVariables(environ []string, fs *flag.FlagSet) []string {
	known := make(map[string]bool)
	fs.VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = true })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SWARMDNS_") && !known[name] && !slices.Contains(knownVariables, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

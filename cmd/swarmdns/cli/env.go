package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// envName is the environment variable that sets a flag: SWARMDNS_ + the
// flag's name in upper snake case (dns-listen → SWARMDNS_DNS_LISTEN).
func envName(flagName string) string {
	return "SWARMDNS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// setUsage makes fs's help list every flag with its env var and default.
func setUsage(fs *flag.FlagSet, synopsis string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: swarmdns %s\n\nFlags:\n", synopsis)
		printFlags(w, fs)
	}
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s %s\n      %s\n      env %s", f.Name, name, help, envName(f.Name))
		if f.DefValue != "" {
			fmt.Fprintf(w, ", default %q", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// listFlag is a flag that takes a comma-separated list and may be repeated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

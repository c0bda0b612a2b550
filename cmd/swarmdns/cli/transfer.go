package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/swarmdns/swarmdns/dns"
)

// transferKeys returns the TSIG keys of --transfer-key and
// --transfer-key-file, in that order.
func (c *serveConfig) transferKeys() ([]dns.TransferKey, error) {
	var keys []dns.TransferKey
	for _, s := range c.transferKey {
		k, err := dns.ParseTransferKey(s)
		if err != nil {
			return nil, fmt.Errorf("--transfer-key: %w", err)
		}
		keys = append(keys, k)
	}
	if c.transferKeyFile != "" {
		more, err := loadTransferKeys(c.transferKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--transfer-key-file: %w", err)
		}
		keys = append(keys, more...)
	}
	return keys, nil
}

// loadTransferKeys reads TSIG keys from a file (a Swarm or Compose
// secret): one [ALGORITHM:]NAME:BASE64SECRET a line; blank lines and lines
// starting with # are skipped.
func loadTransferKeys(path string) ([]dns.TransferKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var keys []dns.TransferKey
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := dns.ParseTransferKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no key", path)
	}
	return keys, nil
}

// checkNotify checks --notify and puts its targets in host:port form.
func (c *serveConfig) checkNotify() error {
	for i, t := range c.notify {
		hp, err := dns.ParseNotifyTarget(t)
		if err != nil {
			return fmt.Errorf("--notify: %w", err)
		}
		c.notify[i] = hp
	}
	return nil
}

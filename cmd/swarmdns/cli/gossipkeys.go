package cli

import (
	"bytes"
	"context"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/gossip"
)

// keyFilePoll is how often --gossip-key-file is read again to see whether
// it changed (a few hundred bytes: nothing to save by watching its
// modification time, which a replaced Swarm secret or a Kubernetes
// symlink swap may not change).
const keyFilePoll = 2 * time.Second

// gossipKeyFile keeps a running gossip node's keys in step with
// --gossip-key-file: read again every keyFilePoll and on SIGHUP, and given
// to the node (SetKeys) whenever its content changed. A file that cannot
// be read or parsed keeps the keys in use, with a warning.
type gossipKeyFile struct {
	path string
	node *gossip.Node
	log  zerolog.Logger
	hup  chan struct{}
	last []byte // the content last given to the node
}

func newGossipKeyFile(path string, node *gossip.Node, log zerolog.Logger) *gossipKeyFile {
	return &gossipKeyFile{path: path, node: node, log: log, hup: make(chan struct{}, 1)}
}

// reload asks Run to read the file now (SIGHUP).
func (k *gossipKeyFile) reload() {
	select {
	case k.hup <- struct{}{}:
	default:
	}
}

// Run follows the file until ctx ends. Its first read (at once) applies
// the keys the node was started with again, in case the file changed
// since, and logs them.
func (k *gossipKeyFile) Run(ctx context.Context) error {
	t := time.NewTicker(keyFilePoll)
	defer t.Stop()
	failing := false
	for first := true; ; first = false {
		forced := false
		if !first {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			case <-k.hup:
				forced = true
			}
		}
		b, err := os.ReadFile(k.path)
		if err == nil && bytes.Equal(b, k.last) {
			if forced {
				k.log.Info().Str("path", k.path).Strs("keys", k.node.KeyFingerprints()).Msg("SIGHUP: gossip key file unchanged")
			}
			continue
		}
		if err == nil {
			err = k.apply(b)
		}
		if err != nil {
			if !failing || forced {
				k.log.Warn().Err(err).Str("path", k.path).Strs("keys", k.node.KeyFingerprints()).Msg("gossip key file not applied: keeping the keys in use")
			}
			failing = true
			continue
		}
		failing = false
		k.last = b
	}
}

func (k *gossipKeyFile) apply(b []byte) error {
	keys, err := gossip.ParseKeys(string(b))
	if err != nil {
		return err
	}
	return k.node.SetKeys(keys)
}

package gossip

import (
	"github.com/swarmdns/swarmdns/registry"
)

// StateSize returns the encoded sizes, in bytes, of what this package sends
// for the zone in snap: pushPull is the local node's push/pull state (its
// own records and a digest of every node), zone is every node's full state
// (what a node that joins empty receives, in chunks). Both are before
// memberlist's compression and encryption.
func StateSize(snap *registry.Snapshot) (pushPull, zone int) {
	own, _ := snap.Node(snap.LocalNode())
	pp := &stateMsg{Sender: own.Name, Generation: own.Generation, States: []registry.NodeState{nodeState(snap, own)}, Digest: digest(snap)}
	all := &stateMsg{Sender: own.Name, Generation: own.Generation}
	for _, info := range snap.Nodes() {
		all.States = append(all.States, nodeState(snap, info))
	}
	// A state too large to send is left out of both (and of what is sent).
	ppBuf, _ := encodeState(pp)
	allBuf, _ := encodeState(all)
	return len(ppBuf), len(allBuf)
}

package gossip

import (
	"encoding/binary"
	"errors"
)

// Node meta, carried by memberlist's alive messages: a format version
// byte, the node's generation and flag bits. Later versions may append.
const (
	metaVersion = 1
	// protocolVersion is the delegate protocol version memberlist checks
	// (DelegateProtocolMin/Max/Version): raise Max when a new message type
	// appears, Min when an old one goes away.
	protocolVersion = 1

	metaLeaving = 1 << 0 // the node is leaving cleanly: drop its records now
)

type meta struct {
	Generation uint64
	Flags      byte
}

func (m meta) encode() []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+1)
	b = append(b, metaVersion)
	b = binary.AppendUvarint(b, m.Generation)
	return append(b, m.Flags)
}

func decodeMeta(b []byte) (meta, error) {
	if len(b) < 1 || b[0] == 0 {
		return meta{}, errors.New("no swarmdns node meta")
	}
	d := decoder{b: b[1:]}
	m := meta{Generation: d.uvarint(), Flags: d.byte()}
	if d.err != nil {
		return meta{}, errors.New("truncated swarmdns node meta")
	}
	return m, nil
}

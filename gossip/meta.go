package gossip

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// Node meta, carried by memberlist's alive messages: a format version
// byte, the node's generation, flag bits and, since it was added, the
// fingerprint of the key the node encrypts with (a length byte and the
// bytes: none without encryption). Later versions may append.
const (
	metaVersion = 1
	// protocolVersion is the delegate protocol version memberlist checks
	// (DelegateProtocolMin/Max/Version): raise Max when a new message type
	// appears, Min when an old one goes away.
	protocolVersion = 1
	// protocolMax is the newest delegate protocol this node reads: 2 adds
	// batches (batch.go). The current version stays 1 so that nodes of an
	// earlier release (1 to 1) still take this one.
	protocolMax = batchProtocol

	metaLeaving = 1 << 0 // the node is leaving cleanly: drop its records now
)

type meta struct {
	Generation uint64
	Flags      byte
	// Key is the fingerprint (KeyFingerprint, hex) of the key the node
	// encrypts with; empty without encryption or from an older node.
	Key string
}

func (m meta) encode() []byte {
	key, _ := hex.DecodeString(m.Key)
	b := make([]byte, 0, 1+binary.MaxVarintLen64+2+len(key))
	b = append(b, metaVersion)
	b = binary.AppendUvarint(b, m.Generation)
	b = append(b, m.Flags, byte(len(key)))
	return append(b, key...)
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
	if len(d.b) > 0 {
		// Written since the key fingerprint was added.
		m.Key = hex.EncodeToString(d.bytes(uint64(d.byte())))
		if d.err != nil {
			return meta{}, errors.New("truncated key fingerprint in swarmdns node meta")
		}
	}
	return m, nil
}

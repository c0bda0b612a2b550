package gossip

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unsafe"

	"github.com/swarmdns/swarmdns/registry"
)

// Wire format. Every message is one type byte, one format version byte and
// a body. Bodies only ever grow at the end: a decoder reads the fields it
// knows and ignores whatever follows, and every record set and node state
// inside a body is length-prefixed so that fields added to them later are
// skipped the same way. An incompatible change needs a new message type;
// an unknown type is counted and dropped, never fatal.
//
// Integers are unsigned varints (encoding/binary), strings a varint length
// and the bytes. A Docker container ID (64 lower-case hex digits) travels
// as its 32 raw bytes.
const (
	msgDelta  byte = 1 // one container's set written or removed
	msgState  byte = 2 // full node states and a digest (push/pull, sync)
	msgNotice byte = 3 // "I hold your name at this generation"
	msgBatch  byte = 4 // an owner's changes together (batch.go)

	formatVersion byte = 1
)

// Flags of a state message.
const (
	stateDigest    = 1 << 0 // a digest of the sender's view follows the states
	stateWantReply = 1 << 1 // answer with your own state and digest
	stateJoin      = 1 << 2 // sent for a memberlist join
)

// Limits that keep a hostile message from making the decoder allocate much.
const (
	maxString = 4096
	maxSets   = 1 << 16
)

var (
	errShort       = errors.New("message truncated")
	errUnknownType = errors.New("unknown message type")
	// errStateTooLarge: a node state holds more than maxSets record sets,
	// which every decoder refuses (the whole message with it).
	errStateTooLarge = errors.New("node state too large for one message")
)

// digestEntry is what a node knows about another node: the generation and
// version it holds, and a hash of the (container, version) pairs of its
// sets. Versions alone do not tell a hole (a delta missed between two
// that arrived) from a complete copy; the hash does.
type digestEntry struct {
	Node       string
	Generation uint64
	Version    uint64
	Hash       uint64
}

// stateMsg is a decoded msgState: the sender, states it carries (its own
// first, when it carries its own), and optionally its digest.
type stateMsg struct {
	Sender     string
	Generation uint64 // the sender's generation
	Flags      byte
	States     []registry.NodeState
	Digest     []digestEntry
	// decoded counts the record sets decoded from the wire (on receipt;
	// not those taken from what the receiver held).
	decoded int
}

// notice tells Node that the sender holds its name at Generation (equal or
// newer than what Node announces), so Node must move above it.
type notice struct {
	Node       string
	Generation uint64
}

// encoder appends the wire format to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) byte(v byte)      { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// id writes a container ID, as 32 raw bytes when it is 64 lower-case hex
// digits.
func (e *encoder) id(s string) {
	if isHexID(s) {
		e.byte(1)
		e.b, _ = hex.AppendDecode(e.b, []byte(s)) // isHexID checked it
		return
	}
	e.byte(0)
	e.str(s)
}

func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// block writes a length-prefixed block filled by f.
func (e *encoder) block(f func()) {
	// Reserve room for a short length; move the body if it is longer.
	start := len(e.b)
	e.b = append(e.b, 0)
	f()
	n := len(e.b) - start - 1
	if n < 0x80 {
		e.b[start] = byte(n)
		return
	}
	var tmp [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(tmp[:], uint64(n))
	e.b = append(e.b, tmp[:l-1]...)
	copy(e.b[start+l:], e.b[start+1:start+1+n])
	copy(e.b[start:], tmp[:l])
}

func (e *encoder) addr(a netip.Addr) {
	if a.Is4() {
		e.byte(4)
		b := a.As4()
		e.b = append(e.b, b[:]...)
		return
	}
	if a.Is6() {
		e.byte(6)
		b := a.As16()
		e.b = append(e.b, b[:]...)
		return
	}
	e.byte(0)
}

// set writes one record set as a block.
func (e *encoder) set(s *registry.RecordSet) {
	e.block(func() {
		e.id(s.ContainerID)
		e.uvarint(s.Version)
		e.byte(byte(s.Health))
		// Names share suffixes (the zone); each one stores how many bytes
		// it shares with the end of the previous one.
		e.uvarint(uint64(len(s.Names)))
		primary := 0
		prev := ""
		for i, n := range s.Names {
			if n == s.Name {
				primary = i + 1
			}
			shared := commonSuffix(prev, n)
			e.uvarint(uint64(shared))
			e.str(n[:len(n)-shared])
			prev = n
		}
		if primary == 0 && s.Name != "" {
			// Not normalised: the primary name travels on its own.
			primary = len(s.Names) + 1
		}
		e.uvarint(uint64(primary))
		if primary == len(s.Names)+1 {
			e.str(s.Name)
		}
		e.uvarint(uint64(len(s.Addrs)))
		for _, a := range s.Addrs {
			e.addr(a.IP)
			e.str(a.Network)
			switch {
			case !a.Subnet.IsValid():
				e.byte(0)
			case a.Subnet.Addr().BitLen() == a.IP.BitLen() && a.Subnet == netip.PrefixFrom(a.IP, a.Subnet.Bits()).Masked():
				e.byte(1)
				e.byte(byte(a.Subnet.Bits()))
			default:
				e.byte(2)
				e.addr(a.Subnet.Addr())
				e.byte(byte(a.Subnet.Bits()))
			}
		}
		e.uvarint(uint64(len(s.Ports)))
		for _, p := range s.Ports {
			e.str(p.Service)
			e.str(p.Proto)
			e.uvarint(uint64(p.Port))
		}
		e.uvarint(uint64(len(s.Aliases)))
		for _, a := range s.Aliases {
			e.str(a.Name)
			e.str(a.Target)
		}
		e.str(s.Image)
	})
}

func commonSuffix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

// encodeDelta returns the wire form of d.
func encodeDelta(d registry.Delta) []byte {
	e := encoder{b: make([]byte, 0, 256)}
	e.byte(msgDelta)
	e.byte(formatVersion)
	e.str(d.Node)
	e.uvarint(d.Generation)
	e.deltaBody(d)
	return e.b
}

// encodeState returns the wire form of m. A node state of more than
// maxSets record sets would make every receiver refuse the whole message,
// so it is left out (a state cannot be split: the owner's state is merged
// as complete, and a part would remove the rest); the error, wrapping
// errStateTooLarge, names what was left out, and the message returned
// still carries everything else.
func encodeState(m *stateMsg) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 1024)}
	e.byte(msgState)
	e.byte(formatVersion)
	e.str(m.Sender)
	e.uvarint(m.Generation)
	flags := m.Flags &^ stateDigest
	if m.Digest != nil {
		flags |= stateDigest
	}
	e.byte(flags)
	var tooLarge []error
	states := 0
	for i := range m.States {
		if k := len(m.States[i].Sets); k > maxSets {
			tooLarge = append(tooLarge, fmt.Errorf("%w: %s holds %d record sets (at most %d)", errStateTooLarge, m.States[i].Node, k, maxSets))
			continue
		}
		states++
	}
	e.uvarint(uint64(states))
	for i := range m.States {
		st := &m.States[i]
		if len(st.Sets) > maxSets {
			continue
		}
		e.block(func() {
			e.str(st.Node)
			e.uvarint(st.Generation)
			e.uvarint(st.Version)
			e.uvarint(uint64(len(st.Sets)))
			for j := range st.Sets {
				e.set(&st.Sets[j])
			}
		})
	}
	if m.Digest != nil {
		e.uvarint(uint64(len(m.Digest)))
		for _, d := range m.Digest {
			e.block(func() {
				e.str(d.Node)
				e.uvarint(d.Generation)
				e.uvarint(d.Version)
				e.uvarint(d.Hash)
			})
		}
	}
	return e.b, errors.Join(tooLarge...)
}

// encodeNotice returns the wire form of n.
func encodeNotice(n notice) []byte {
	e := encoder{b: make([]byte, 0, 32)}
	e.byte(msgNotice)
	e.byte(formatVersion)
	e.str(n.Node)
	e.uvarint(n.Generation)
	return e.b
}

// decoder reads the wire format. The first error sticks; reads after it
// return zero values.
type decoder struct {
	b   []byte
	err error
	// held, when set, is what the receiver holds: a set of a node state
	// that it holds at the same generation and version is not decoded but
	// listed in the state's Held (a set's content at a version never
	// changes), so that a push/pull of a large, unchanged state allocates
	// little. heldNode is the state being decoded, when its generation
	// matches.
	held     *registry.Snapshot
	heldNode string
	idBuf    *[64]byte // scratch for peekID, shared by a message's blocks
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > maxString {
		d.fail(fmt.Errorf("string of %d bytes", n))
		return ""
	}
	return string(d.bytes(n))
}

// count reads a collection length that cannot exceed what is left (each
// element takes at least one byte) nor limit.
func (d *decoder) count(limit int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)) || n > uint64(limit) {
		d.fail(fmt.Errorf("count %d exceeds the message", n))
		return 0
	}
	return int(n)
}

func (d *decoder) id() string {
	switch d.byte() {
	case 0:
		return d.str()
	case 1:
		return hex.EncodeToString(d.bytes(32))
	default:
		d.fail(errors.New("bad container ID tag"))
		return ""
	}
}

func (d *decoder) addr() netip.Addr {
	switch d.byte() {
	case 0:
		return netip.Addr{}
	case 4:
		b := d.bytes(4)
		if b == nil {
			return netip.Addr{}
		}
		return netip.AddrFrom4([4]byte(b))
	case 6:
		b := d.bytes(16)
		if b == nil {
			return netip.Addr{}
		}
		return netip.AddrFrom16([16]byte(b))
	default:
		d.fail(errors.New("bad address family"))
		return netip.Addr{}
	}
}

// block returns a decoder over the next length-prefixed block.
func (d *decoder) block() decoder {
	n := d.uvarint()
	b := d.bytes(n)
	if d.err != nil {
		return decoder{err: d.err}
	}
	return decoder{b: b, held: d.held, heldNode: d.heldNode, idBuf: d.idBuf}
}

// set reads one record set. When the receiver holds it already (see
// decoder.held), it is not decoded: heldID is its container ID (the held
// set's own string) and s is empty.
func (d *decoder) set() (s registry.RecordSet, heldID string) {
	bd := d.block()
	s, heldID = bd.setBody()
	if bd.err != nil {
		d.fail(bd.err)
	}
	return s, heldID
}

// peekID reads a container ID without allocating when it travels as raw
// bytes: the string returned is only valid until buf is written again.
func (d *decoder) peekID(buf *[64]byte) string {
	switch d.byte() {
	case 0:
		return d.str()
	case 1:
		b := d.bytes(32)
		if b == nil {
			return ""
		}
		hex.Encode(buf[:], b)
		return unsafe.String(&buf[0], len(buf))
	default:
		d.fail(errors.New("bad container ID tag"))
		return ""
	}
}

func (d *decoder) setBody() (registry.RecordSet, string) {
	var s registry.RecordSet
	var id string
	if d.heldNode != "" {
		id = d.peekID(d.idBuf)
	} else {
		id = d.id()
	}
	s.Version = d.uvarint()
	if d.heldNode != "" && d.err == nil {
		if h, ok := d.held.NodeSet(d.heldNode, id); ok && h.Version == s.Version {
			return registry.RecordSet{}, h.ContainerID
		}
	}
	s.ContainerID = id
	if d.heldNode != "" {
		s.ContainerID = strings.Clone(id) // id is d.idBuf
	}
	s.Health = registry.Health(d.byte())
	if s.Health > registry.HealthUnhealthy {
		s.Health = registry.HealthNone
	}
	if n := d.count(maxSets); n > 0 {
		s.Names = make([]string, 0, n)
		prev := ""
		for range n {
			shared := d.uvarint()
			head := d.str()
			if shared > uint64(len(prev)) || uint64(len(head))+shared > maxString {
				d.fail(errors.New("bad name suffix"))
				break
			}
			name := head + prev[len(prev)-int(shared):]
			s.Names = append(s.Names, name)
			prev = name
		}
	}
	switch primary := d.uvarint(); {
	case primary == 0:
	case primary <= uint64(len(s.Names)):
		s.Name = s.Names[primary-1]
	case primary == uint64(len(s.Names))+1:
		s.Name = d.str()
	default:
		d.fail(errors.New("bad primary name index"))
	}
	if n := d.count(maxSets); n > 0 {
		s.Addrs = make([]registry.Addr, 0, n)
		for range n {
			var a registry.Addr
			a.IP = d.addr()
			a.Network = d.str()
			switch d.byte() {
			case 0:
			case 1:
				if p, err := a.IP.Prefix(int(d.byte())); err == nil {
					a.Subnet = p
				} else {
					d.fail(err)
				}
			case 2:
				sub := d.addr()
				a.Subnet = netip.PrefixFrom(sub, int(d.byte()))
				if !a.Subnet.IsValid() {
					d.fail(errors.New("bad subnet"))
				}
			default:
				d.fail(errors.New("bad subnet tag"))
			}
			if d.err != nil {
				break
			}
			s.Addrs = append(s.Addrs, a)
		}
	}
	if n := d.count(maxSets); n > 0 {
		s.Ports = make([]registry.Port, 0, n)
		for range n {
			var p registry.Port
			p.Service = d.str()
			p.Proto = d.str()
			v := d.uvarint()
			if v > 0xffff {
				d.fail(errors.New("bad port"))
				break
			}
			p.Port = uint16(v)
			s.Ports = append(s.Ports, p)
		}
	}
	if n := d.count(maxSets); n > 0 {
		s.Aliases = make([]registry.Alias, 0, n)
		for range n {
			var a registry.Alias
			a.Name = d.str()
			a.Target = d.str()
			s.Aliases = append(s.Aliases, a)
		}
	}
	s.Image = d.str()
	return s, ""
}

// header checks the type and version bytes and returns the body.
func header(buf []byte) (byte, *decoder, error) {
	if len(buf) < 2 {
		return 0, nil, errShort
	}
	t, v := buf[0], buf[1]
	if t < msgDelta || t > msgBatch {
		return t, nil, fmt.Errorf("%w %d", errUnknownType, t)
	}
	if v == 0 {
		return t, nil, errors.New("format version 0")
	}
	return t, &decoder{b: buf[2:]}, nil
}

// decodeDelta decodes a msgDelta body.
func decodeDelta(d *decoder) (registry.Delta, error) {
	var out registry.Delta
	out.Node = d.str()
	out.Generation = d.uvarint()
	switch d.byte() {
	case 0:
		out.ContainerID = d.id()
		out.Version = d.uvarint()
	case 1:
		s, _ := d.set() // no held sets: d.heldNode is empty
		out.ContainerID, out.Version = s.ContainerID, s.Version
		out.Set = &s
	default:
		d.fail(errors.New("bad delta kind"))
	}
	if d.err != nil {
		return registry.Delta{}, d.err
	}
	if out.Node == "" || out.ContainerID == "" {
		return registry.Delta{}, errors.New("delta without node or container")
	}
	return out, nil
}

// decodeState decodes a msgState body.
func decodeState(d *decoder) (*stateMsg, error) {
	m := &stateMsg{}
	m.Sender = d.str()
	m.Generation = d.uvarint()
	m.Flags = d.byte()
	if n := d.count(maxSets); n > 0 {
		m.States = make([]registry.NodeState, 0, n)
		for range n {
			bd := d.block()
			var st registry.NodeState
			st.Node = bd.str()
			st.Generation = bd.uvarint()
			st.Version = bd.uvarint()
			if d.held != nil {
				if info, ok := d.held.Node(st.Node); ok && info.Generation == st.Generation && !info.Local {
					bd.heldNode = st.Node
				}
			}
			if k := bd.count(maxSets); k > 0 {
				if bd.heldNode != "" {
					st.Held = make([]string, 0, k) // Sets then holds only news
				} else {
					st.Sets = make([]registry.RecordSet, 0, k)
				}
				for range k {
					s, heldID := bd.set()
					if heldID != "" {
						st.Held = append(st.Held, heldID)
						continue
					}
					st.Sets = append(st.Sets, s)
					m.decoded++
				}
				st.Held = slices.Clip(st.Held)
				if len(st.Held) == 0 {
					st.Held = nil
				}
			}
			if bd.err != nil {
				d.fail(bd.err)
				break
			}
			st.Owned = true // decoded for the store alone: no copy needed
			m.States = append(m.States, st)
		}
	}
	if m.Flags&stateDigest != 0 {
		n := d.count(maxSets)
		m.Digest = make([]digestEntry, 0, n)
		for range n {
			bd := d.block()
			var e digestEntry
			e.Node = bd.str()
			e.Generation = bd.uvarint()
			e.Version = bd.uvarint()
			if len(bd.b) > 0 {
				e.Hash = bd.uvarint()
			}
			if bd.err != nil {
				d.fail(bd.err)
				break
			}
			m.Digest = append(m.Digest, e)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if m.Sender == "" {
		return nil, errors.New("state without sender")
	}
	return m, nil
}

// decodeNotice decodes a msgNotice body.
func decodeNotice(d *decoder) (notice, error) {
	n := notice{Node: d.str(), Generation: d.uvarint()}
	if d.err != nil {
		return notice{}, d.err
	}
	return n, nil
}

// message is any decoded message.
type message struct {
	kind   byte
	delta  registry.Delta
	state  *stateMsg
	notice notice
	batch  *batch
}

// decode decodes any message. It never panics on bad input.
func decode(buf []byte) (message, error) { return decodeHeld(buf, nil) }

// decodeHeld is decode for a receiver that holds held: the sets of a node
// state that it already holds at the same generation and version are taken
// from held rather than decoded (see decoder.held).
func decodeHeld(buf []byte, held *registry.Snapshot) (message, error) {
	t, d, err := header(buf)
	if err != nil {
		return message{kind: t}, err
	}
	if held != nil {
		d.held, d.idBuf = held, new([64]byte)
	}
	m := message{kind: t}
	switch t {
	case msgDelta:
		m.delta, err = decodeDelta(d)
	case msgState:
		m.state, err = decodeState(d)
	case msgNotice:
		m.notice, err = decodeNotice(d)
	case msgBatch:
		m.batch, err = decodeBatch(d)
	}
	return m, err
}

// kindName names a message type for metrics and logs.
func kindName(t byte) string {
	switch t {
	case msgDelta:
		return "delta"
	case msgState:
		return "state"
	case msgNotice:
		return "notice"
	case msgBatch:
		return "batch"
	default:
		return "unknown"
	}
}

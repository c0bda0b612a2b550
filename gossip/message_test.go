package gossip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/swarmdns/swarmdns/registry"
)

// sampleSet is a realistic Swarm task's record set.
func sampleSet(i int) registry.RecordSet {
	id := fmt.Sprintf("%064x", 0xabcdef0123+i)
	task := fmt.Sprintf("web.%d.qz8x1k2j3h4g5f6d7s8a9p0o%d.swarm.internal.", i%10+1, i)
	return registry.RecordSet{
		ContainerID: id,
		Name:        task,
		Names:       []string{"tasks.web.swarm.internal.", "web.swarm.internal.", task},
		Addrs: []registry.Addr{
			{IP: netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), Network: "app_net", Subnet: netip.MustParsePrefix("10.0.1.0/24")},
			{IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Network: "ingress", Subnet: netip.MustParsePrefix("10.0.0.0/24")},
		},
		Health:  registry.HealthHealthy,
		Ports:   []registry.Port{{Service: "http", Proto: "tcp", Port: 8080}},
		Aliases: []registry.Alias{{Name: "www.swarm.internal.", Target: "web.swarm.internal."}},
		Image:   "registry.example.com/acme/web:1.27.3@sha256:0d1f7c8c6e8b1e4e3b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f",
		Version: uint64(100 + i),
	}
}

func TestDeltaRoundTrip(t *testing.T) {
	odd := registry.RecordSet{
		ContainerID: "not-a-hex-id",
		Name:        "primary.example.",
		Names:       []string{"a.example.", "b.example."}, // primary not among them
		Addrs: []registry.Addr{
			{IP: netip.MustParseAddr("fd00::5"), Network: "v6", Subnet: netip.MustParsePrefix("fd00::/64")},
			{IP: netip.MustParseAddr("10.1.2.3"), Network: "odd", Subnet: netip.MustParsePrefix("10.9.0.0/16")}, // subnet not holding the IP
			{IP: netip.MustParseAddr("10.1.2.4")},
		},
		Version: 7,
	}
	s0 := sampleSet(3)
	for _, d := range []registry.Delta{
		{Node: "node-a", Generation: 1700000000000000000, Version: s0.Version, ContainerID: s0.ContainerID, Set: &s0},
		{Node: "node-a", Generation: 1, Version: 7, ContainerID: odd.ContainerID, Set: &odd},
		{Node: "node-b", Generation: 2, Version: 9, ContainerID: "abc"},
		{Node: "n", Generation: 0, Version: 0, ContainerID: strings.Repeat("f", 64)},
	} {
		buf := encodeDelta(d)
		m, err := decode(buf)
		if err != nil {
			t.Fatalf("decode(encodeDelta(%+v)): %v", d, err)
		}
		if m.kind != msgDelta {
			t.Fatalf("kind = %d; want %d", m.kind, msgDelta)
		}
		if !reflect.DeepEqual(m.delta, d) {
			t.Errorf("round trip:\ngot  %+v %+v\nwant %+v %+v", m.delta, m.delta.Set, d, d.Set)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	var sets []registry.RecordSet
	for i := range 40 {
		sets = append(sets, sampleSet(i))
	}
	m := &stateMsg{
		Sender:     "node-a",
		Generation: 42,
		Flags:      stateWantReply | stateJoin,
		States: []registry.NodeState{
			{Node: "node-a", Generation: 42, Version: 200, Sets: sets},
			{Node: "node-b", Generation: 7, Version: 0},
		},
		Digest: []digestEntry{{"node-a", 42, 200, 1}, {"node-b", 7, 0, 0}, {"node-c", 9, 12, 1 << 63}},
	}
	buf := mustEncodeState(t, m)
	got, err := decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := *m
	want.Flags |= stateDigest
	want.States[1].Sets = nil
	want.States[0].Owned, want.States[1].Owned = true, true
	want.decoded = len(sets)
	if !reflect.DeepEqual(*got.state, want) {
		t.Errorf("round trip differs:\ngot  %+v\nwant %+v", got.state, want)
	}
}

// mustEncodeState encodes m, failing the test if a state was left out.
func mustEncodeState(tb testing.TB, m *stateMsg) []byte {
	tb.Helper()
	buf, err := encodeState(m)
	if err != nil {
		tb.Fatalf("encodeState: %v", err)
	}
	return buf
}

// A node state over the decoder's limit is left out by the sender, with
// an error naming it, so that the rest of the message still gets through
// (a receiver refuses the whole message when any state is over the limit).
func TestEncodeStateLeavesOutOversizeState(t *testing.T) {
	big := registry.NodeState{Node: "big", Generation: 1, Version: maxSets + 1, Sets: make([]registry.RecordSet, maxSets+1)}
	for i := range big.Sets {
		big.Sets[i] = registry.RecordSet{ContainerID: strconv.Itoa(i), Version: uint64(i + 1)}
	}
	small := registry.NodeState{Node: "small", Generation: 2, Version: 1, Sets: []registry.RecordSet{sampleSet(1)}}
	small.Sets[0].Version = 1
	m := &stateMsg{Sender: "big", Generation: 1, States: []registry.NodeState{big, small}, Digest: []digestEntry{{"big", 1, maxSets + 1, 7}}}
	buf, err := encodeState(m)
	if !errors.Is(err, errStateTooLarge) || !strings.Contains(err.Error(), "big holds 65537 record sets") {
		t.Errorf("encodeState error = %v; want errStateTooLarge naming big and its size", err)
	}
	got, err := decode(buf)
	if err != nil {
		t.Fatalf("decode what was sent: %v", err)
	}
	if len(got.state.States) != 1 || got.state.States[0].Node != "small" || len(got.state.States[0].Sets) != 1 {
		t.Errorf("decoded states = %+v; want only small's", got.state.States)
	}
	if len(got.state.Digest) != 1 {
		t.Errorf("decoded digest = %+v; want it kept", got.state.Digest)
	}
	// At the limit itself the state goes.
	big.Sets = big.Sets[:maxSets]
	if _, err := encodeState(&stateMsg{Sender: "big", Generation: 1, States: []registry.NodeState{big}}); err != nil {
		t.Errorf("encodeState at the limit: %v", err)
	}
}

// A newer writer may append fields: to a message, to a set, to a state.
// An old reader must ignore them.
func TestDecodeIgnoresNewerFields(t *testing.T) {
	s := sampleSet(1)
	d := registry.Delta{Node: "a", Generation: 1, Version: s.Version, ContainerID: s.ContainerID, Set: &s}
	buf := encodeDelta(d)
	buf[1] = 9 // a future format version
	buf = append(buf, 0xde, 0xad, 0xbe, 0xef)
	m, err := decode(buf)
	if err != nil {
		t.Fatalf("decode with trailing fields: %v", err)
	}
	if !reflect.DeepEqual(m.delta, d) {
		t.Errorf("got %+v; want %+v", m.delta, d)
	}

	// A set block with an extra field inside it.
	e := encoder{}
	e.byte(msgDelta)
	e.byte(2)
	e.str("a")
	e.uvarint(1)
	e.byte(1)
	inner := encoder{}
	inner.set(&s)
	body := inner.b[2:] // strip the (two-byte) length prefix
	body = append(body, 1, 2, 3)
	e.block(func() { e.b = append(e.b, body...) })
	m, err = decode(e.b)
	if err != nil {
		t.Fatalf("decode with a longer set block: %v", err)
	}
	if !reflect.DeepEqual(*m.delta.Set, s) {
		t.Errorf("got %+v; want %+v", *m.delta.Set, s)
	}
}

func TestDecodeRejects(t *testing.T) {
	s := sampleSet(1)
	good := encodeDelta(registry.Delta{Node: "a", Generation: 1, Version: s.Version, ContainerID: s.ContainerID, Set: &s})
	cases := map[string][]byte{
		"empty":        {},
		"one byte":     {msgDelta},
		"unknown type": {99, 1, 0},
		"version 0":    {msgDelta, 0},
		"bad kind":     {msgDelta, 1, 1, 'a', 1, 7},
		"no node":      encodeDelta(registry.Delta{ContainerID: "x", Version: 1}),
		"huge count":   {msgState, 1, 1, 'a', 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge string":  {msgDelta, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for i := 3; i < len(good); i += 7 {
		cases[fmt.Sprintf("truncated at %d", i)] = good[:i]
	}
	for name, buf := range cases {
		if _, err := decode(buf); err == nil {
			t.Errorf("%s: decode(%x) succeeded; want an error", name, buf)
		}
	}
}

func TestMeta(t *testing.T) {
	m := meta{Generation: 1 << 60, Flags: metaLeaving}
	got, err := decodeMeta(m.encode())
	if err != nil || got != m {
		t.Errorf("decodeMeta(encode(%+v)) = %+v, %v", m, got, err)
	}
	for _, b := range [][]byte{nil, {0}, {1}, {1, 0x80}} {
		if _, err := decodeMeta(b); err == nil {
			t.Errorf("decodeMeta(%x) succeeded; want an error", b)
		}
	}
}

func TestParseKey(t *testing.T) {
	k32 := bytes.Repeat([]byte{7}, 32)
	for _, s := range []string{
		"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
		"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
		"  BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
	} {
		k, err := ParseKey(s)
		if err != nil || !bytes.Equal(k, k32) {
			t.Errorf("ParseKey(%q) = %x, %v; want %x", s, k, err, k32)
		}
	}
	for s, want := range map[string]string{
		"":         "empty",
		"!!!!":     "not valid base64",
		"AAECAw==": "4 bytes; want 16, 24 or 32",
	} {
		if _, err := ParseKey(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKey(%q) error = %v; want one mentioning %q", s, err, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	s := sampleSet(2)
	f.Add(encodeDelta(registry.Delta{Node: "a", Generation: 1, Version: s.Version, ContainerID: s.ContainerID, Set: &s}))
	f.Add(encodeDelta(registry.Delta{Node: "a", Generation: 1, Version: 3, ContainerID: "c"}))
	f.Add(mustEncodeState(f, &stateMsg{Sender: "a", Generation: 1, States: []registry.NodeState{{Node: "a", Generation: 1, Version: 200, Sets: []registry.RecordSet{s}}}, Digest: []digestEntry{{"b", 2, 3, 4}}}))
	f.Add(encodeNotice(notice{Node: "b", Generation: 5}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, buf []byte) {
		m, err := decode(buf)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same thing.
		var again []byte
		switch m.kind {
		case msgDelta:
			again = encodeDelta(m.delta)
		case msgState:
			again = mustEncodeState(t, m.state)
		case msgNotice:
			again = encodeNotice(m.notice)
		}
		m2, err := decode(again)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encode changed the message:\n%+v\n%+v", m, m2)
		}
	})
}

// setHash is FNV-1a over the ID and the little-endian version, as the
// digests of earlier releases computed it with hash/fnv: peers of both
// must agree on every hash.
func TestSetHashIsFNV1a(t *testing.T) {
	for _, c := range []struct {
		id      string
		version uint64
	}{{"", 0}, {"c1", 1}, {fmt.Sprintf("%064x", 12345), 1<<63 | 0x0102030405060708}} {
		h := fnv.New64a()
		h.Write([]byte(c.id))
		var v [8]byte
		binary.LittleEndian.PutUint64(v[:], c.version)
		h.Write(v[:])
		if got, want := setHash(c.id, c.version), h.Sum64(); got != want {
			t.Errorf("setHash(%q, %d) = %#x; want %#x", c.id, c.version, got, want)
		}
		var sink uint64
		if a := testing.AllocsPerRun(10, func() { sink ^= setHash(c.id, c.version) }); a != 0 {
			t.Errorf("setHash allocates %v times", a)
		}
		_ = sink
	}
}

// A receiver that already holds a node's sets at the versions a state
// carries does not decode them: they are listed in the state's Held (by
// the held sets' own ID strings), only the others are decoded, and an
// unchanged state of 1,000 sets decodes in a few allocations rather than
// thousands. Merged, the state gives what merging it decoded gives.
func TestDecodeHeldSets(t *testing.T) {
	owner, err := registry.New(registry.Config{Node: "a", Generation: 42})
	if err != nil {
		t.Fatal(err)
	}
	var sets []registry.RecordSet
	for i := range 1000 {
		sets = append(sets, sampleSet(i))
	}
	if _, err := owner.ReplaceLocal(sets); err != nil {
		t.Fatal(err)
	}
	newRecv := func() *registry.Registry {
		recv, err := registry.New(registry.Config{Node: "r", Generation: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := recv.MergeNode(owner.LocalState()); err != nil {
			t.Fatal(err)
		}
		return recv
	}
	held := newRecv().Snapshot()

	unchanged := mustEncodeState(t, &stateMsg{Sender: "a", Generation: 42, States: []registry.NodeState{owner.LocalState()}})
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := decodeHeld(unchanged, held); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("decoding an unchanged state of 1,000 held sets: %v allocations; want a few", allocs)
	}

	// One set changed, one added, one removed: two are decoded, the rest
	// held.
	changed := sampleSet(5)
	changed.Addrs = changed.Addrs[:1]
	if _, err := owner.SetLocal(changed); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.SetLocal(sampleSet(2000)); err != nil {
		t.Fatal(err)
	}
	owner.RemoveLocal(sampleSet(7).ContainerID)
	for _, gen := range []uint64{42, 43} { // 43: another run, nothing held
		st := owner.LocalState()
		st.Generation = gen
		buf := mustEncodeState(t, &stateMsg{Sender: "a", Generation: gen, States: []registry.NodeState{st}})
		want, err := decode(buf)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeHeld(buf, held)
		if err != nil {
			t.Fatal(err)
		}
		gs, ws := got.state.States[0], want.state.States[0]
		wantHeld := map[uint64]int{42: 998, 43: 0}[gen]
		if len(gs.Held) != wantHeld || got.state.decoded != len(ws.Sets)-wantHeld || len(gs.Sets) != got.state.decoded {
			t.Fatalf("generation %d: %d held, %d decoded (%d sets); want %d held, %d decoded", gen, len(gs.Held), got.state.decoded, len(gs.Sets), wantHeld, len(ws.Sets)-wantHeld)
		}
		for _, id := range gs.Held {
			h, _ := held.NodeSet("a", id)
			if h == nil || unsafe.StringData(h.ContainerID) != unsafe.StringData(id) {
				t.Fatalf("held ID %s is not the held set's own string", id)
			}
		}
		// Merged, both give the owner's state.
		for _, m := range []message{got, want} {
			recv := newRecv()
			if _, err := recv.MergeNode(m.state.States[0]); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range recv.Snapshot().NodeSets("a") {
				ids = append(ids, s.ContainerID)
				o, ok := owner.Snapshot().NodeSet("a", s.ContainerID)
				if !ok || o.Version != s.Version || !reflect.DeepEqual(o.Addrs, s.Addrs) {
					t.Errorf("generation %d: merged %s at version %d differs from the owner's", gen, s.ContainerID, s.Version)
				}
			}
			if len(ids) != 1000 {
				t.Errorf("generation %d: merged %d sets; want 1,000", gen, len(ids))
			}
		}
	}
}

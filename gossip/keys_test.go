package gossip

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseKeys(t *testing.T) {
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 16)
	text := "# rotation in progress\n\n  AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=  \nAgICAgICAgICAgICAgICAg==\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\n"
	keys, err := ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(keys[0], k1) || !bytes.Equal(keys[1], k2) {
		t.Fatalf("ParseKeys = %x; want [%x %x] (the first encrypts, a repeat counts once)", keys, k1, k2)
	}
	for text, want := range map[string]string{
		"":                                  "no gossip key",
		"# only a comment\n":                "no gossip key",
		"AgICAgICAgICAgICAgICAg==\nshort\n": "line 2",
	} {
		if _, err := ParseKeys(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKeys(%q) error = %v; want one mentioning %q", text, err, want)
		}
	}
	if a, b := KeyFingerprint(k1), KeyFingerprint(k2); len(a) != 2*fingerprintLen || a == b || strings.Contains(a, "0101") {
		t.Errorf("fingerprints %q and %q: want short, distinct and not the key", a, b)
	}
}

func TestMetaCarriesKey(t *testing.T) {
	for _, m := range []meta{{Generation: 7, Flags: metaLeaving, Key: "0a1b2c3d"}, {Generation: 9}} {
		got, err := decodeMeta(m.encode())
		if err != nil || got != m {
			t.Errorf("decodeMeta(encode(%+v)) = %+v, %v", m, got, err)
		}
	}
	// A meta from before the key fingerprint (version byte, generation,
	// flags) still decodes.
	if got, err := decodeMeta([]byte{metaVersion, 5, 0}); err != nil || got != (meta{Generation: 5}) {
		t.Errorf("old meta = %+v, %v", got, err)
	}
	if _, err := decodeMeta([]byte{metaVersion, 5, 0, 4, 1}); err == nil {
		t.Error("a truncated fingerprint decoded")
	}
}

// TestKeyRotation rotates the key of a running three-node cluster (K1, then
// K1+K2, then K2 first, then K2 alone) with a record published at each step
// resolving everywhere and no member lost; a node that kept only K1 is
// refused at the end.
func TestKeyRotation(t *testing.T) {
	k1 := []byte("1111111111111111")
	k2 := []byte("2222222222222222")
	nodes := startCluster(t, 3, nodeOpts{keys: [][]byte{k1}})
	steps := []struct {
		name string
		keys [][]byte
	}{
		{"K1 and K2", [][]byte{k1, k2}},
		{"K2 first", [][]byte{k2, k1}},
		{"K2 alone", [][]byte{k2}},
	}
	for i, step := range steps {
		for _, n := range nodes {
			if err := n.node.SetKeys(step.keys); err != nil {
				t.Fatalf("%s: %s: %v", step.name, n.name, err)
			}
		}
		want := KeyFingerprint(step.keys[0])
		eventually(t, 10*time.Second, func() error {
			for _, a := range nodes {
				for _, m := range a.node.Members() {
					if m.Key != want {
						return fmt.Errorf("%s sees %s with key %q; want %q", a.name, m.Name, m.Key, want)
					}
				}
			}
			return nil
		})
		owner := nodes[i%len(nodes)]
		name := fmt.Sprintf("step%d", i)
		mustSet(t, owner, testSet(name, name, fmt.Sprintf("10.0.0.%d", i+1)))
		eventually(t, 10*time.Second, func() error {
			for _, n := range nodes {
				if got := lookup(n, name+".swarm.internal"); len(got) != 1 {
					return fmt.Errorf("%s: %s = %v", n.name, name, got)
				}
			}
			return nil
		})
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b && memberState(a, b.name) != StateAlive {
					t.Fatalf("%s: %s sees %s %s", step.name, a.name, b.name, memberState(a, b.name))
				}
			}
		}
	}

	old := startNode(t, "old", nodeOpts{keys: [][]byte{k1}, join: []string{nodes[0].addr()}})
	mustSet(t, old, testSet("old", "old", "10.0.0.99"))
	// The rejoin loop keeps trying; a whole round of push/pulls passes.
	select {
	case <-old.node.Joined():
		t.Fatal("the node with the old key joined")
	case <-time.After(3 * time.Second):
	}
	for _, n := range nodes {
		if got := n.node.NumMembers(); got != len(nodes) {
			t.Errorf("%s has %d members; want %d", n.name, got, len(nodes))
		}
		if got := lookup(n, "old.swarm.internal"); len(got) != 0 {
			t.Errorf("%s holds the old-key node's record: %v", n.name, got)
		}
	}
}

func TestSetKeysRefusals(t *testing.T) {
	plain := startNode(t, "plain", nodeOpts{})
	if err := plain.node.SetKeys([][]byte{[]byte("1111111111111111")}); err == nil {
		t.Error("encryption turned on at run time")
	}
	enc := startNode(t, "enc", nodeOpts{keys: [][]byte{[]byte("1111111111111111")}})
	if err := enc.node.SetKeys(nil); err == nil {
		t.Error("encryption turned off at run time")
	}
	if err := enc.node.SetKeys([][]byte{[]byte("short")}); err == nil {
		t.Error("a short key was taken")
	}
	if got := enc.node.KeyFingerprints(); len(got) != 1 || got[0] != KeyFingerprint([]byte("1111111111111111")) {
		t.Errorf("after refusals the keys are %v", got)
	}
}

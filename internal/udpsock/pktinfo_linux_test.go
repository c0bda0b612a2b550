package udpsock

import (
	"net/netip"
	"testing"
)

// TestParsePktinfo: the destination address comes out of the control
// messages the kernel writes, and a reply's control message carries it back.
func TestParsePktinfo(t *testing.T) {
	for _, ip := range []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")} {
		oob := SetPktinfo(make([]byte, PktinfoSize), ip, 3)
		got, _ := ParsePktinfo(oob)
		if got != ip {
			t.Errorf("round trip of %s: got %s", ip, got)
		}
	}
	for _, junk := range [][]byte{nil, {1, 2, 3}, make([]byte, PktinfoSize)} {
		if got, _ := ParsePktinfo(junk); got.IsValid() {
			t.Errorf("ParsePktinfo(%x): got %s; want none", junk, got)
		}
	}
	if oob := SetPktinfo(make([]byte, PktinfoSize), netip.Addr{}, 0); oob != nil {
		t.Errorf("SetPktinfo(no address): got %x; want nil", oob)
	}
}

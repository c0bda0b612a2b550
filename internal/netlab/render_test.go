package netlab

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestRenderRules(t *testing.T) {
	addrs := []netip.Addr{{},
		netip.MustParseAddr("10.213.7.1"),
		netip.MustParseAddr("10.213.7.2"),
		netip.MustParseAddr("10.213.7.3"),
	}
	drop := func(a string) string { return "-s " + a + "/32 -j DROP" }
	tests := []struct {
		name   string
		faults []fault
		want   [4][]string // by host; [0] unused
	}{
		{name: "none"},
		{
			name:   "partition 1 | 2",
			faults: []fault{{kind: faultPartition, a: []int{1}, b: []int{2}}},
			want:   [4][]string{1: {drop("10.213.7.2")}, 2: {drop("10.213.7.1")}},
		},
		{
			name:   "partition 1 | 2 3",
			faults: []fault{{kind: faultPartition, a: []int{1}, b: []int{2, 3}}},
			want: [4][]string{
				1: {drop("10.213.7.2"), drop("10.213.7.3")},
				2: {drop("10.213.7.1")},
				3: {drop("10.213.7.1")},
			},
		},
		{
			name:   "block 2 -> 3",
			faults: []fault{{kind: faultBlock, from: 2, to: 3}},
			want:   [4][]string{3: {drop("10.213.7.2")}},
		},
		{
			name:   "loss on 2",
			faults: []fault{{kind: faultLoss, host: 2, percent: 12.5}},
			want: [4][]string{
				1: {"-s 10.213.7.2/32 -m statistic --mode random --probability 0.125 -j DROP"},
				2: {"! -i lo -m statistic --mode random --probability 0.125 -j DROP"},
				3: {"-s 10.213.7.2/32 -m statistic --mode random --probability 0.125 -j DROP"},
			},
		},
		{
			name:   "disconnect needs no rules",
			faults: []fault{{kind: faultDisconnect, host: 1}},
		},
		{
			name: "faults add up",
			faults: []fault{
				{kind: faultPartition, a: []int{1}, b: []int{2}},
				{kind: faultBlock, from: 3, to: 1},
			},
			want: [4][]string{1: {drop("10.213.7.2"), drop("10.213.7.3")}, 2: {drop("10.213.7.1")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for h := 1; h <= 3; h++ {
				got := renderRules(h, addrs, tt.faults)
				if !slices.Equal(got, tt.want[h]) {
					t.Errorf("host %d: got %q; want %q", h, got, tt.want[h])
				}
			}
		})
	}
}

func TestRenderRestore(t *testing.T) {
	got := string(renderRestore([]string{"-s 10.0.0.1/32 -j DROP"}, true))
	want := strings.Join([]string{
		"*filter",
		":NETLAB-IN - [0:0]",
		"-I INPUT 1 -j NETLAB-IN",
		"-A NETLAB-IN -s 10.0.0.1/32 -j DROP",
		"COMMIT",
		"",
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = string(renderRestore(nil, false))
	want = "*filter\n:NETLAB-IN - [0:0]\nCOMMIT\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDisconnected(t *testing.T) {
	faults := []fault{{kind: faultDisconnect, host: 2}, {kind: faultPartition, a: []int{1}, b: []int{3}}}
	for h, want := range map[int]bool{1: false, 2: true, 3: false} {
		if got := disconnected(h, faults); got != want {
			t.Errorf("disconnected(%d): got %v; want %v", h, got, want)
		}
	}
}

package watcher

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/registry"
)

// inspectFile reads a testdata file captured with "docker inspect" (see
// testdata/capture.sh).
func inspectFile(t testing.TB, name string) container.InspectResponse {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var cs []container.InspectResponse
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(cs) != 1 {
		t.Fatalf("%s: got %d containers; want 1", name, len(cs))
	}
	return cs[0]
}

func addr(ip, network, subnet string) registry.Addr {
	return registry.Addr{IP: netip.MustParseAddr(ip), Network: network, Subnet: netip.MustParsePrefix(subnet)}
}

func zoned(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + ".swarm.internal."
	}
	return out
}

func TestRecordSetForCaptures(t *testing.T) {
	opts := NameOptions{Zone: "swarm.internal.", Node: "node-a"}
	tests := []struct {
		file     string
		opts     *NameOptions // nil: opts
		publish  bool
		reason   string // substring of the reason, when not published
		name     string
		names    []string
		addrs    []registry.Addr
		ports    []registry.Port
		aliases  []registry.Alias
		health   registry.Health
		warnings []string // substrings, one per warning, in order
		renamed  []string // substrings, one per respelt Docker name, in order
	}{
		{
			file: "plain", publish: true,
			name:  "web-1.swarm.internal.",
			names: zoned("web-1"), // the default hostname (the short ID) is not published
			addrs: []registry.Addr{addr("172.17.0.2", "bridge", "172.17.0.0/16")},
		},
		{
			file: "labels", publish: true,
			name:  "cap-labels.swarm.internal.",
			names: zoned("api-host", "bad-name", "cap-labels", "deep.er.name", "extra"),
			addrs: []registry.Addr{addr("172.17.0.3", "bridge", "172.17.0.0/16")},
			ports: []registry.Port{
				{Proto: "tcp", Port: 8080}, {Proto: "udp", Port: 53},
				{Service: "dns", Proto: "udp", Port: 53}, {Service: "http", Proto: "tcp", Port: 8080}, {Service: "metrics", Proto: "tcp", Port: 9100},
			},
			aliases: []registry.Alias{
				{Name: "legacy-api.swarm.internal.", Target: "cap-labels.swarm.internal."},
				{Name: "www.swarm.internal.", Target: "cap-labels.swarm.internal."},
			},
			warnings: []string{`"Bad_Name!"`, `"broken" skipped`, `"bad=99999/tcp" skipped`, `"Legacy_Api"`},
		},
		{
			file: "multinet", publish: true,
			name:  "cap-multi.swarm.internal.",
			names: zoned("back-alias", "cap-multi", "front-alias", "second-alias"),
			addrs: []registry.Addr{
				addr("10.231.2.2", "cap-back", "10.231.2.0/24"),
				addr("fd00:231:2::2", "cap-back", "fd00:231:2::/64"),
				addr("10.231.1.2", "cap-front", "10.231.1.0/24"),
			},
			renamed: []string{`network alias "Second_Alias"`},
		},
		{
			file: "compose", publish: true,
			name:    "capproj-api-1.swarm.internal.",
			names:   zoned("api", "api.capproj", "capproj-api-1"),
			addrs:   []registry.Addr{addr("172.24.0.2", "capproj_default", "172.24.0.0/16")},
			renamed: []string{`"capproj_api_1"`},
		},
		{
			file: "healthy", publish: true,
			name:    "capproj-db-1.swarm.internal.",
			names:   zoned("capproj-db-1", "db", "db.capproj"),
			addrs:   []registry.Addr{addr("172.24.0.3", "capproj_default", "172.24.0.0/16")},
			health:  registry.HealthHealthy,
			renamed: []string{`"capproj_db_1"`},
		},
		{
			file: "oddname", publish: true,
			name:    "my-odd.name.with.dots.swarm.internal.",
			names:   zoned("my-odd.name.with.dots"),
			addrs:   []registry.Addr{addr("172.17.0.4", "bridge", "172.17.0.0/16")},
			renamed: []string{`published as "my-odd.name.with.dots"`},
		},
		{
			file: "longname", publish: true,
			name:    "a123456789b123456789c123456789d123456789e123456789f123456789g12.swarm.internal.",
			names:   zoned("a123456789b123456789c123456789d123456789e123456789f123456789g12"),
			addrs:   []registry.Addr{addr("172.17.0.5", "bridge", "172.17.0.0/16")},
			renamed: []string{"published as"},
		},
		{
			file: "autoname", publish: true,
			name:    "festive-moore.swarm.internal.",
			names:   zoned("festive-moore"),
			addrs:   []registry.Addr{addr("172.17.0.6", "bridge", "172.17.0.0/16")},
			renamed: []string{`"festive_moore"`},
		},
		{
			file: "swarm-replicated", publish: true,
			name: "capstack-web.1.u8kige0ipmd3i5ovfpicebwhs.swarm.internal.",
			names: zoned("1.capstack-web", "capstack-web.1.u8kige0ipmd3i5ovfpicebwhs", "capstack-web",
				"tasks.capstack-web", "web.capstack", "tasks.web.capstack", "1.web.capstack"),
			addrs:   []registry.Addr{addr("10.231.9.3", "cap_net", "10.231.9.0/24")},
			renamed: []string{"container name"},
		},
		{
			file: "swarm-global", publish: true,
			name: "capstack-agent.nkm80dhtiei7b27e6h9nxozu3.pat92s4g5uwbwxh7nvzk51qy5.swarm.internal.",
			names: zoned("agent.capstack", "capstack-agent.nkm80dhtiei7b27e6h9nxozu3.pat92s4g5uwbwxh7nvzk51qy5",
				"capstack-agent", "node-a.capstack-agent", "tasks.capstack-agent", "nkm80dhtiei7b27e6h9nxozu3.capstack-agent",
				"tasks.agent.capstack", "node-a.agent.capstack", "nkm80dhtiei7b27e6h9nxozu3.agent.capstack"),
			addrs:   []registry.Addr{addr("10.231.9.6", "cap_net", "10.231.9.0/24")},
			renamed: []string{"container name"},
		},
		{
			file: "swarm-global", opts: &NameOptions{Zone: "swarm.internal"}, publish: true, // no node name: the node ID
			name: "capstack-agent.nkm80dhtiei7b27e6h9nxozu3.pat92s4g5uwbwxh7nvzk51qy5.swarm.internal.",
			names: zoned("agent.capstack", "capstack-agent.nkm80dhtiei7b27e6h9nxozu3.pat92s4g5uwbwxh7nvzk51qy5",
				"capstack-agent", "nkm80dhtiei7b27e6h9nxozu3.capstack-agent", "tasks.capstack-agent",
				"tasks.agent.capstack", "nkm80dhtiei7b27e6h9nxozu3.agent.capstack"),
			addrs:   []registry.Addr{addr("10.231.9.6", "cap_net", "10.231.9.0/24")},
			renamed: []string{"container name"},
		},
		{
			// The node's host name, not the cluster's node name (the stack's
			// <hostname>-<node ID>), is the name users type.
			file: "swarm-global", opts: &NameOptions{Zone: "swarm.internal", Node: "worker1-nkm80dhtiei7b27e6h9nxozu3", NodeHost: "Worker1"}, publish: true,
			name: "capstack-agent.nkm80dhtiei7b27e6h9nxozu3.pat92s4g5uwbwxh7nvzk51qy5.swarm.internal.",
			names: zoned("agent.capstack", "capstack-agent.nkm80dhtiei7b27e6h9nxozu3.pat92s4g5uwbwxh7nvzk51qy5",
				"capstack-agent", "worker1.capstack-agent", "nkm80dhtiei7b27e6h9nxozu3.capstack-agent", "tasks.capstack-agent",
				"tasks.agent.capstack", "worker1.agent.capstack", "nkm80dhtiei7b27e6h9nxozu3.agent.capstack"),
			addrs:   []registry.Addr{addr("10.231.9.6", "cap_net", "10.231.9.0/24")},
			renamed: []string{"container name"},
		},
		{file: "hidden", reason: "swarmdns.enable=false"},
		{file: "hostnet", reason: "host network"},
		{file: "nonenet", reason: "network none"},
		{file: "containernet", reason: "shares the network"},
		{file: "exited", reason: "not running"},
		{file: "plain", opts: &NameOptions{Zone: "swarm.internal.", WatchLabel: "team"}, reason: "no label team"},
		{file: "plain", opts: &NameOptions{Zone: "swarm.internal.", WatchLabel: "swarmdns.testbox.sha256=nope"}, reason: "no label"},
		{
			file: "plain", opts: &NameOptions{Zone: "Other.Zone", WatchLabel: "swarmdns.testbox.sha256"}, publish: true,
			name:  "web-1.other.zone.",
			names: []string{"web-1.other.zone."},
			addrs: []registry.Addr{addr("172.17.0.2", "bridge", "172.17.0.0/16")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			o := opts
			if tt.opts != nil {
				o = *tt.opts
			}
			c := inspectFile(t, tt.file)
			set, notes, reason := translate(c, o)
			_, _, publish := RecordSetFor(c, o)
			if publish != (reason == "") {
				t.Fatalf("RecordSetFor publish %v disagrees with reason %q", publish, reason)
			}
			if publish != tt.publish {
				t.Fatalf("got publish %v (reason %q); want %v", publish, reason, tt.publish)
			}
			if !tt.publish {
				if !strings.Contains(reason, tt.reason) {
					t.Fatalf("got reason %q; want it to contain %q", reason, tt.reason)
				}
				if set.ContainerID != "" || len(set.Names) != 0 {
					t.Fatalf("got set %+v for an unpublished container; want none", set)
				}
				return
			}
			if set.ContainerID != c.ID {
				t.Errorf("got container ID %q; want %q", set.ContainerID, c.ID)
			}
			if set.Name != tt.name {
				t.Errorf("got name %q; want %q", set.Name, tt.name)
			}
			want := slices.Sorted(slices.Values(tt.names))
			if !slices.Equal(set.Names, want) {
				t.Errorf("got names %q; want %q", set.Names, want)
			}
			if !slices.Equal(set.Addrs, tt.addrs) {
				t.Errorf("got addrs %v; want %v", set.Addrs, tt.addrs)
			}
			if !slices.Equal(set.Ports, tt.ports) {
				t.Errorf("got ports %+v; want %+v", set.Ports, tt.ports)
			}
			if !slices.Equal(set.Aliases, tt.aliases) {
				t.Errorf("got aliases %+v; want %+v", set.Aliases, tt.aliases)
			}
			if set.Health != tt.health {
				t.Errorf("got health %v; want %v", set.Health, tt.health)
			}
			if set.Image != "swarmdns-testbox:test" {
				t.Errorf("got image %q; want swarmdns-testbox:test", set.Image)
			}
			checkNotes(t, "warning", notes.Warnings, tt.warnings)
			checkNotes(t, "rename", notes.Renamed, tt.renamed)
			// The registry keeps a set as given when it is canonical already.
			norm := registryNormal(t, set)
			if !slices.Equal(norm.Names, set.Names) || norm.Name != set.Name {
				t.Errorf("registry normalised the names to %q; want them unchanged %q", norm.Names, set.Names)
			}
		})
	}
}

// checkNotes checks that got holds one note for each substring of want, in
// order.
func checkNotes(t *testing.T, kind string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %ss %q; want %d containing %q", kind, got, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("got %s %q; want it to contain %q", kind, got[i], w)
		}
	}
}

// registryNormal writes set to a fresh registry and reads it back.
func registryNormal(t *testing.T, set registry.RecordSet) registry.RecordSet {
	t.Helper()
	r, err := registry.New(registry.Config{Node: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetLocal(set); err != nil {
		t.Fatal(err)
	}
	return *r.Snapshot().Sets()[0]
}

func TestRecordSetForSurvivesBrokenResponses(t *testing.T) {
	running := &container.State{Running: true}
	tests := []struct {
		name string
		c    container.InspectResponse
	}{
		{"empty", container.InspectResponse{}},
		{"no state", container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: "x"}}},
		{"no config or networks", container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: "x", State: running}}},
		{"nil endpoint", container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{ID: "x", State: running},
			NetworkSettings:   &container.NetworkSettings{Networks: nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, publish := RecordSetFor(tt.c, NameOptions{Zone: "z."}); publish {
				t.Fatal("got publish true; want false")
			}
		})
	}
}

func TestRecordSetForAddressEdgeCases(t *testing.T) {
	c := inspectFile(t, "plain")
	ep := c.NetworkSettings.Networks["bridge"]
	ep.IPPrefixLen = 0 // unknown subnet
	ep.GlobalIPv6Address = "fd00::7"
	ep.GlobalIPv6PrefixLen = 200 // nonsense
	set, _, publish := RecordSetFor(c, NameOptions{Zone: "z"})
	if !publish {
		t.Fatal("got publish false; want true")
	}
	want := []registry.Addr{
		{IP: netip.MustParseAddr("172.17.0.2"), Network: "bridge"},
		{IP: netip.MustParseAddr("fd00::7"), Network: "bridge"},
	}
	if !slices.Equal(set.Addrs, want) {
		t.Fatalf("got %v; want %v", set.Addrs, want)
	}
	ep.IPAddress, ep.GlobalIPv6Address = "", "garbage"
	if _, _, publish := RecordSetFor(c, NameOptions{Zone: "z"}); publish {
		t.Fatal("no valid address: got publish true; want false")
	}
}

func TestSwarmSlotLabel(t *testing.T) {
	// Newer engines label the slot; it wins over the task name.
	c := inspectFile(t, "swarm-replicated")
	c.Config.Labels[labelSwarmSlot] = "7"
	set, _, _ := RecordSetFor(c, NameOptions{Zone: "swarm.internal."})
	if !slices.Contains(set.Names, "7.capstack-web.swarm.internal.") || slices.Contains(set.Names, "1.capstack-web.swarm.internal.") {
		t.Fatalf("got names %q; want 7.capstack-web and not 1.capstack-web", set.Names)
	}
}

func TestDNSNamesAndIDAliases(t *testing.T) {
	c := inspectFile(t, "multinet")
	ep := c.NetworkSettings.Networks["cap-front"]
	ep.DNSNames = []string{"cap-multi", "front-alias", c.ID[:12], "From-DNSNames"}
	set, _, _ := RecordSetFor(c, NameOptions{Zone: "swarm.internal."})
	want := zoned("back-alias", "cap-multi", "from-dnsnames", "front-alias", "second-alias")
	if !slices.Equal(set.Names, want) {
		t.Fatalf("got %q; want %q", set.Names, want)
	}
}

func TestCNAMEClashingWithOwnName(t *testing.T) {
	c := inspectFile(t, "plain")
	c.Config.Labels = map[string]string{LabelCNAME: "web-1,www,WWW", LabelName: "extra"}
	set, notes, _ := RecordSetFor(c, NameOptions{Zone: "swarm.internal."})
	warnings := notes.Warnings
	want := []registry.Alias{{Name: "www.swarm.internal.", Target: "web-1.swarm.internal."}}
	if !slices.Equal(set.Aliases, want) {
		t.Fatalf("got aliases %+v; want %+v", set.Aliases, want)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"web-1" skipped`) {
		t.Fatalf("got warnings %q; want one about web-1, the container's own name", warnings)
	}
}

func TestParseSRVEntry(t *testing.T) {
	tests := []struct {
		in   string
		want registry.Port
		err  bool
	}{
		{in: "http=8080/tcp", want: registry.Port{Service: "http", Proto: "tcp", Port: 8080}},
		{in: "metrics=9100", want: registry.Port{Service: "metrics", Proto: "tcp", Port: 9100}},
		{in: " DNS = 53/UDP", want: registry.Port{Service: "dns", Proto: "udp", Port: 53}},
		{in: "http", err: true},
		{in: "=80", err: true},
		{in: "h_ttp=80", err: true},
		{in: "http=0", err: true},
		{in: "http=65536", err: true},
		{in: "http=80/sctp", err: true},
		{in: "http=8o", err: true},
	}
	for _, tt := range tests {
		got, err := parseSRVEntry(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseSRVEntry(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestWatchLabel(t *testing.T) {
	labels := map[string]string{"team": "a", "empty": ""}
	for sel, want := range map[string]bool{
		"team": true, "team=a": true, "team=b": false, "other": false, "empty": true, "empty=": true, "team=": false,
	} {
		if got := hasLabel(labels, sel); got != want {
			t.Errorf("hasLabel(%q) = %v; want %v", sel, got, want)
		}
	}
	for _, bad := range []string{"=x", " team", "te am=1"} {
		if parseWatchLabel(bad) == nil {
			t.Errorf("parseWatchLabel(%q) = nil; want an error", bad)
		}
	}
	for _, good := range []string{"", "team", "team=a", "a.b.c=x=y"} {
		if err := parseWatchLabel(good); err != nil {
			t.Errorf("parseWatchLabel(%q) = %v; want nil", good, err)
		}
	}
}

func TestLongNamesFitTheZone(t *testing.T) {
	c := inspectFile(t, "plain")
	c.Name = "/" + strings.Repeat("abcdefghi.", 30)
	set, notes, _ := RecordSetFor(c, NameOptions{Zone: "swarm.internal."})
	warnings := notes.Renamed
	if got := len(strings.TrimSuffix(set.Name, ".")); got > dnsname.MaxNameLen {
		t.Fatalf("got a name of %d octets; want at most %d", got, dnsname.MaxNameLen)
	}
	if !strings.HasSuffix(set.Name, ".swarm.internal.") || len(warnings) != 1 {
		t.Fatalf("got %q with warnings %q; want a shortened name in the zone and one warning", set.Name, warnings)
	}
}

func TestNamerReservedNames(t *testing.T) {
	n := newNamer("swarm.internal.")
	for raw, want := range map[string]string{
		"ns":                       "ns-container.swarm.internal.",
		"NS.swarm.internal":        "ns-container.swarm.internal.",
		"localhost":                "localhost-container.swarm.internal.",
		"node":                     "node-container.swarm.internal.",
		"web.node":                 "web.node-container.swarm.internal.",
		"ns2":                      "ns2.swarm.internal.",
		"ns.web":                   "ns.web.swarm.internal.",
		"localhost.swarm.internal": "localhost-container.swarm.internal.",
	} {
		before := len(n.warnings)
		if got := n.add("container name", raw); got != want {
			t.Errorf("add(%q) = %q, want %q", raw, got, want)
		}
		if warned, reserved := len(n.warnings) > before, strings.Contains(want, "-container."); warned != reserved {
			t.Errorf("add(%q): warned %v, want %v (warnings %q)", raw, warned, reserved, n.warnings[before:])
		}
	}
}

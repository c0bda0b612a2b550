package dockertest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

// RunOptions describes a container for Run. The zero value runs the testbox
// image's "sleep" on the default bridge under a generated name.
type RunOptions struct {
	// Name is the container's name; empty means Name(t, "cN") with N
	// counting the containers of the process.
	Name string
	// Image defaults to TestboxImage(t).
	Image string
	// Cmd is the command (testbox arguments for the testbox image); empty
	// means the image's default.
	Cmd []string
	// Hostname is the container's --hostname, if set.
	Hostname string
	// Labels are added to the container (with LabelRun).
	Labels map[string]string
	// Networks are the networks to attach, in order; the first one at
	// create, the others before start. Empty means the default bridge.
	Networks []string
	// Aliases are network aliases, by network name (which must be in
	// Networks).
	Aliases map[string][]string
	// NetworkMode sets --network to "host", "none" or "container:<id>"
	// (Networks must then be empty).
	NetworkMode string
	// ExposedPorts are ports like "80/tcp" (--expose).
	ExposedPorts []string
	// StopSignal sets the container's stop signal (--stop-signal).
	StopSignal string
	// Healthcheck sets the container's healthcheck; use the exec form
	// (Test: {"CMD", "/testbox", ...}), as the testbox image has no shell.
	Healthcheck *container.HealthConfig
	// NoStart creates the container without starting it.
	NoStart bool
	// DNS and DNSSearch set the container's --dns servers and
	// --dns-search domains.
	DNS, DNSSearch []string
	// Binds are bind mounts, "HOST-PATH:CONTAINER-PATH[:ro]" (-v).
	Binds []string
}

// Container is a container Run made.
type Container struct {
	// ID is the full container ID.
	ID string
	// Name is the container's name (without the leading slash).
	Name string
}

var containerSeq atomic.Int64

// Run creates and starts a container and removes it (with its anonymous
// volumes) at cleanup, whatever state it is in by then. It fails t if the
// container cannot be created or started.
func Run(t testing.TB, opts RunOptions) Container {
	t.Helper()
	cli := Engine(t)
	if opts.Image == "" {
		opts.Image = TestboxImage(t)
	}
	if opts.Name == "" {
		opts.Name = Name(t, fmt.Sprint("c", containerSeq.Add(1)))
	}
	labels := maps.Clone(opts.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelRun] = RunID()
	cfg := &container.Config{
		Image:       opts.Image,
		Cmd:         opts.Cmd,
		Hostname:    opts.Hostname,
		Labels:      labels,
		StopSignal:  opts.StopSignal,
		Healthcheck: opts.Healthcheck,
	}
	if len(opts.ExposedPorts) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		for _, p := range opts.ExposedPorts {
			cfg.ExposedPorts[nat.Port(p)] = struct{}{}
		}
	}
	hostCfg := &container.HostConfig{
		NetworkMode: container.NetworkMode(opts.NetworkMode),
		DNS:         opts.DNS,
		DNSSearch:   opts.DNSSearch,
		Binds:       opts.Binds,
	}
	var netCfg *network.NetworkingConfig
	if len(opts.Networks) > 0 {
		if opts.NetworkMode != "" {
			t.Fatalf("dockertest.Run: both NetworkMode %q and Networks %v", opts.NetworkMode, opts.Networks)
		}
		first := opts.Networks[0]
		hostCfg.NetworkMode = container.NetworkMode(first)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			first: {Aliases: opts.Aliases[first]},
		}}
	}

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	created, err := cli.ContainerCreate(ctx, cfg, hostCfg, netCfg, nil, opts.Name)
	if err != nil {
		t.Fatalf("create container %s: %v", opts.Name, err)
	}
	t.Cleanup(func() { Remove(t, created.ID) })
	for _, n := range opts.Networks[min(1, len(opts.Networks)):] {
		if err := cli.NetworkConnect(ctx, n, created.ID, &network.EndpointSettings{Aliases: opts.Aliases[n]}); err != nil {
			t.Fatalf("connect container %s to %s: %v", opts.Name, n, err)
		}
	}
	if !opts.NoStart {
		if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			t.Fatalf("start container %s: %v", opts.Name, err)
		}
	}
	return Container{ID: created.ID, Name: opts.Name}
}

// Remove force-removes a container, ignoring one that is already gone; it
// reports other failures with t.Errorf (it is meant for cleanups).
func Remove(t testing.TB, id string) {
	t.Helper()
	cli := engine.cli
	if cli == nil {
		return // no engine: nothing was made
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		t.Errorf("remove container %s: %v", id, err)
	}
}

// NetworkOptions describes a network for Network.
type NetworkOptions struct {
	// Name is the network's name; empty means Name(t, "net").
	Name string
	// Subnet is an IPv4 subnet in CIDR form; empty lets Docker choose.
	Subnet string
	// IPv6Subnet, when set, enables IPv6 with this subnet (dual stack).
	IPv6Subnet string
	// Internal makes the network internal (no route out).
	Internal bool
}

// Network creates a bridge network and removes it at cleanup (registered
// before any container a test then attaches, so it goes after them). It
// returns the network's name.
func Network(t testing.TB, opts NetworkOptions) string {
	t.Helper()
	cli := Engine(t)
	if opts.Name == "" {
		opts.Name = Name(t, "net")
	}
	create := network.CreateOptions{
		Driver:   "bridge",
		Internal: opts.Internal,
		Labels:   map[string]string{LabelRun: RunID()},
	}
	if opts.Subnet != "" || opts.IPv6Subnet != "" {
		create.IPAM = &network.IPAM{Driver: "default"}
		if opts.Subnet != "" {
			create.IPAM.Config = append(create.IPAM.Config, network.IPAMConfig{Subnet: opts.Subnet})
		}
		if opts.IPv6Subnet != "" {
			enable := true
			create.EnableIPv6 = &enable
			create.IPAM.Config = append(create.IPAM.Config, network.IPAMConfig{Subnet: opts.IPv6Subnet})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := cli.NetworkCreate(ctx, opts.Name, create); err != nil {
		t.Fatalf("create network %s: %v", opts.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := cli.NetworkRemove(ctx, opts.Name); err != nil && !isNotFound(err) {
			t.Errorf("remove network %s: %v", opts.Name, err)
		}
	})
	return opts.Name
}

// ComposeProject is a docker-compose (v1) project that ComposeUp started.
type ComposeProject struct {
	// Name is the project name (-p).
	Name string
	// File is the compose file's path.
	File string
}

// ComposeUp writes yaml as docker-compose.yml into a fresh directory and runs
// "docker-compose -p <project> up -d"; at cleanup it runs "down -v
// --remove-orphans". project defaults to Name(t, ""). Images must exist
// locally (TestboxImage): nothing is pulled or built.
func ComposeUp(t testing.TB, project, yaml string) *ComposeProject {
	t.Helper()
	Engine(t)
	if project == "" {
		project = Name(t, "")
	}
	p := &ComposeProject{Name: project, File: filepath.Join(t.TempDir(), "docker-compose.yml")}
	if err := os.WriteFile(p.File, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := p.cmd("down", "-v", "--remove-orphans", "-t", "1"); err != nil {
			t.Errorf("compose down: %v", err)
		}
	})
	p.Run(t, "up", "-d", "--no-build")
	return p
}

// Run runs docker-compose with args for the project and returns its
// standard output; it fails t on error.
func (p *ComposeProject) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := p.cmd(args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

func (p *ComposeProject) cmd(args ...string) (string, error) {
	return command("docker-compose", append([]string{"-p", p.Name, "-f", p.File}, args...)...)
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

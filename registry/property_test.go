package registry

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// The random-operations test: owner registries make random local changes;
// their feeds become deltas that reach replica registries late, out of
// order, twice or never, together with full states taken at random times
// (and delivered just as late) and sets relayed from another replica's view,
// as gossip does. After every delivery each replica must hold exactly what
// the evidence it was given implies; at the end, after a final merge of
// each owner's current LocalState, each replica's view of an owner equals
// that LocalState.

// change is one change an owner made: its set after version v (nil when
// removed).
type change struct {
	v   uint64
	set *RecordSet
}

// owner is a registry making local changes, and the record of every change
// it ever made, per generation and container.
type owner struct {
	name    string
	reg     *Registry
	sub     *Subscription
	gen     uint64
	history map[uint64]map[string][]change
}

// at returns the owner's set for id in generation gen just after version v.
func (o *owner) at(gen uint64, id string, v uint64) *RecordSet {
	var set *RecordSet
	for _, c := range o.history[gen][id] {
		if c.v > v {
			break
		}
		set = c.set
	}
	return set
}

// lastChange returns the version of the last change to id at or below v.
func (o *owner) lastChange(gen uint64, id string, v uint64) uint64 {
	last := uint64(0)
	for _, c := range o.history[gen][id] {
		if c.v > v {
			break
		}
		last = c.v
	}
	return last
}

// msg is something in flight to a replica.
type msg struct {
	delta *Delta
	state *NodeState // merged as the owner's own full state
	relay *NodeState // a replica's view, applied set by set as deltas
}

// replica is a registry receiving owners' updates, and the model of what it
// must hold: per owner, the newest generation it was given and, per
// container, the newest version it has evidence of.
type replica struct {
	reg      *Registry
	inflight []msg
	gen      map[string]uint64
	gone     map[string]bool // the replica dropped the owner's generation gen
	evidence map[string]map[string]uint64
}

// seeGen updates the model for a message of generation gen from node: a
// newer generation wipes the evidence; it reports whether the message
// counts.
func (rp *replica) seeGen(node string, gen uint64) bool {
	switch {
	case gen < rp.gen[node], gen == rp.gen[node] && rp.gone[node]:
		return false
	case gen > rp.gen[node]:
		rp.gen[node] = gen
		rp.gone[node] = false
		rp.evidence[node] = make(map[string]uint64)
	}
	return true
}

// drop makes the replica drop node (a clean leave, or a lease that ran
// out) and updates the model: nothing of node's generation counts any more.
func (p *propertyRun) drop(rp *replica, node string, clk *fakeClock) {
	if p.rnd.IntN(2) == 0 {
		rp.reg.RemoveNode(node)
	} else {
		rp.reg.SetLease(node, clk.Now().Add(time.Second))
		clk.Advance(time.Second)
		rp.reg.ExpireLeases()
	}
	if rp.gen[node] > 0 {
		rp.gone[node] = true
		rp.evidence[node] = make(map[string]uint64)
	}
}

// renew moves o to a newer generation, as gossip does when a peer holds
// its name at a generation it dropped.
func (p *propertyRun) renew(o *owner) {
	gen, _ := o.reg.RenewGeneration(o.gen)
	o.gen = gen
	if o.history[gen] == nil {
		o.history[gen] = make(map[string][]change)
	}
	p.drain(o)
	checkSnapshot(p.t, o.reg)
}

func (rp *replica) learn(node, id string, v uint64) {
	rp.evidence[node][id] = max(rp.evidence[node][id], v)
}

type propertyRun struct {
	containers int // per owner
	batch      int // most sets in one ReplaceLocal
	t          *testing.T
	rnd        *rand.Rand
	owners     []*owner
	replicas   []*replica
	step       int
}

func TestRandomOperationsConverge(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	seeds = append(seeds, uint64(time.Now().UnixNano()))
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runProperty(t, seed, 400, 8, 6)
		})
	}
}

// TestRandomLargeBatches is the same with batches big enough that a
// snapshot is rebuilt from scratch and node entries are rebuilt whole.
func TestRandomLargeBatches(t *testing.T) {
	for _, seed := range []uint64{21, 22, 23, uint64(time.Now().UnixNano())} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runProperty(t, seed, 150, 200, 150)
		})
	}
}

func runProperty(t *testing.T, seed uint64, steps, containers, batch int) {
	p := &propertyRun{t: t, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), containers: containers, batch: batch}
	for i := range 3 {
		o := &owner{name: fmt.Sprintf("o%d", i), history: make(map[uint64]map[string][]change)}
		p.start(o, 100)
		p.owners = append(p.owners, o)
	}
	var clocks []*fakeClock
	for i := range 2 {
		reg, clk := newTestRegistry(t, fmt.Sprintf("r%d", i), 1)
		clocks = append(clocks, clk)
		p.replicas = append(p.replicas, &replica{reg: reg, gen: make(map[string]uint64), gone: make(map[string]bool), evidence: make(map[string]map[string]uint64)})
	}
	for p.step = 0; p.step < steps; p.step++ {
		switch x := p.rnd.IntN(100); {
		case x < 45:
			p.localOp(p.owners[p.rnd.IntN(len(p.owners))])
		case x < 50:
			// A full state, taken now and delivered whenever.
			o := p.owners[p.rnd.IntN(len(p.owners))]
			st := o.reg.LocalState()
			p.send(msg{state: &st})
		case x < 53:
			// A relay: replica 0's view of an owner, to replica 1.
			o := p.owners[p.rnd.IntN(len(p.owners))]
			st := relayed(p.replicas[0].reg, o.name)
			p.replicas[1].inflight = append(p.replicas[1].inflight, msg{relay: &st})
		case x < 55 && p.step > steps/4:
			// The owner restarts: a new generation, the watcher's
			// resync of part of what ran before.
			o := p.owners[p.rnd.IntN(len(p.owners))]
			keep := o.reg.LocalState().Sets
			keep = keep[:p.rnd.IntN(len(keep)+1)]
			o.sub.Close()
			p.start(o, o.gen+1+p.rnd.Uint64N(3))
			if _, err := o.reg.ReplaceLocal(keep); err != nil {
				t.Fatalf("ReplaceLocal after restart: %v", err)
			}
			p.drain(o)
			checkSnapshot(t, o.reg)
		case x < 57:
			// A replica drops an owner: its leave, or its lease.
			i := p.rnd.IntN(len(p.replicas))
			p.drop(p.replicas[i], p.owners[p.rnd.IntN(len(p.owners))].name, clocks[i])
			p.check(p.replicas[i])
			checkSnapshot(t, p.replicas[i].reg)
		case x < 58:
			p.renew(p.owners[p.rnd.IntN(len(p.owners))])
		default:
			p.deliver(p.replicas[p.rnd.IntN(len(p.replicas))])
		}
	}
	// An owner that a replica dropped at its current generation moves to a
	// newer one, as gossip makes it.
	for _, o := range p.owners {
		for _, rp := range p.replicas {
			if rp.gone[o.name] && rp.gen[o.name] >= o.gen {
				p.renew(o)
			}
		}
	}
	for _, rp := range p.replicas {
		for _, o := range p.owners {
			p.merge(rp, o.reg.LocalState())
		}
		for _, o := range p.owners {
			want := o.reg.LocalState()
			got := view(rp.reg.Snapshot(), o.name)
			if len(got) != len(want.Sets) {
				t.Errorf("replica %s's view of %s: got %d sets; want %d", rp.reg.LocalNode(), o.name, len(got), len(want.Sets))
			}
			for _, w := range want.Sets {
				g, ok := got[w.ContainerID]
				if !ok || g.Version != w.Version || !sameContent(*g, w) {
					t.Errorf("replica %s's view of %s/%s: got %v; want version %d %v", rp.reg.LocalNode(), o.name, w.ContainerID, g, w.Version, w.Names)
				}
			}
			if info, _ := rp.reg.Snapshot().Node(o.name); info.Generation != want.Generation {
				t.Errorf("replica %s's generation of %s: got %d; want %d", rp.reg.LocalNode(), o.name, info.Generation, want.Generation)
			}
		}
	}
}

// start (re)starts o as a new registry at generation gen.
func (p *propertyRun) start(o *owner, gen uint64) {
	reg, _ := newTestRegistry(p.t, o.name, gen)
	_, sub := reg.Subscribe(p.t.Context())
	o.reg, o.sub, o.gen = reg, sub, gen
	o.history[gen] = make(map[string][]change)
}

// randomSet returns a set for one of a few containers, from few enough
// contents that writing the same one again happens.
func (p *propertyRun) randomSet() RecordSet {
	id := fmt.Sprintf("c%d", p.rnd.IntN(p.containers))
	s := RecordSet{ContainerID: id, Name: fmt.Sprintf("n%d.swarm.internal.", p.rnd.IntN(5))}
	s.Addrs = []Addr{{IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(p.rnd.IntN(4))}), Network: "n"}}
	if p.rnd.IntN(2) == 0 {
		s.Health = HealthHealthy
	}
	if p.rnd.IntN(4) == 0 {
		s.Aliases = []Alias{{Name: fmt.Sprintf("a%d.swarm.internal.", p.rnd.IntN(3)), Target: s.Name}}
	}
	return s
}

func (p *propertyRun) localOp(o *owner) {
	switch x := p.rnd.IntN(10); {
	case x < 6:
		if _, err := o.reg.SetLocal(p.randomSet()); err != nil {
			p.t.Fatalf("SetLocal: %v", err)
		}
	case x < 8:
		o.reg.RemoveLocal(fmt.Sprintf("c%d", p.rnd.IntN(p.containers)))
	default:
		var sets []RecordSet
		seen := make(map[string]bool)
		for range p.rnd.IntN(p.batch) {
			s := p.randomSet()
			if !seen[s.ContainerID] {
				seen[s.ContainerID] = true
				sets = append(sets, s)
			}
		}
		if _, err := o.reg.ReplaceLocal(sets); err != nil {
			p.t.Fatalf("ReplaceLocal: %v", err)
		}
	}
	p.drain(o)
	checkSnapshot(p.t, o.reg)
}

// drain records o's changes and sends them as deltas.
func (p *propertyRun) drain(o *owner) {
	for _, c := range o.sub.Next() {
		if c.NodeChanged {
			continue
		}
		h := o.history[c.Generation]
		if prev := h[c.ContainerID]; len(prev) > 0 && prev[len(prev)-1].v >= c.Version {
			p.t.Fatalf("owner %s: change to %s at version %d after one at %d", o.name, c.ContainerID, c.Version, prev[len(prev)-1].v)
		}
		h[c.ContainerID] = append(h[c.ContainerID], change{v: c.Version, set: c.Set})
		d := deltaOf(c)
		p.send(msg{delta: &d})
	}
}

// send puts m in flight to every replica, dropping or doubling it at random.
func (p *propertyRun) send(m msg) {
	for _, rp := range p.replicas {
		for range []int{0, 0, 1, 1, 1, 1, 1, 1, 1, 2}[p.rnd.IntN(10)] {
			rp.inflight = append(rp.inflight, m)
		}
	}
}

// deliver hands rp one message in flight, picked at random, and checks rp
// against its model.
func (p *propertyRun) deliver(rp *replica) {
	if len(rp.inflight) == 0 {
		return
	}
	i := p.rnd.IntN(len(rp.inflight))
	m := rp.inflight[i]
	rp.inflight = slices.Delete(rp.inflight, i, i+1)
	switch {
	case m.delta != nil:
		d := *m.delta
		if _, err := rp.reg.ApplyDelta(d); err != nil {
			p.t.Fatalf("step %d: ApplyDelta: %v", p.step, err)
		}
		if rp.seeGen(d.Node, d.Generation) {
			rp.learn(d.Node, d.ContainerID, d.Version)
		}
	case m.state != nil:
		p.merge(rp, *m.state)
	case m.relay != nil:
		st := m.relay
		for _, s := range st.Sets {
			set := s.Clone()
			if _, err := rp.reg.ApplyDelta(Delta{Node: st.Node, Generation: st.Generation, Version: s.Version, ContainerID: s.ContainerID, Set: &set}); err != nil {
				p.t.Fatalf("step %d: ApplyDelta (relayed): %v", p.step, err)
			}
			if rp.seeGen(st.Node, st.Generation) {
				rp.learn(st.Node, s.ContainerID, s.Version)
			}
		}
	}
	p.check(rp)
	checkSnapshot(p.t, rp.reg)
}

// merge merges an owner's full state into rp and updates the model: for
// every container, the state is evidence of its last change at or below the
// state's version.
func (p *propertyRun) merge(rp *replica, st NodeState) {
	if _, err := rp.reg.MergeNode(st); err != nil {
		p.t.Fatalf("step %d: MergeNode: %v", p.step, err)
	}
	if !rp.seeGen(st.Node, st.Generation) {
		return
	}
	o := p.owner(st.Node)
	for id := range o.history[st.Generation] {
		if v := o.lastChange(st.Generation, id, st.Version); v > 0 {
			rp.learn(st.Node, id, v)
		}
	}
}

func (p *propertyRun) owner(name string) *owner {
	for _, o := range p.owners {
		if o.name == name {
			return o
		}
	}
	p.t.Fatalf("no owner %s", name)
	return nil
}

// check compares rp's view of every owner with what its evidence implies:
// for each container, the owner's set just after the newest change rp was
// told of, at that version, or nothing if that change removed it.
func (p *propertyRun) check(rp *replica) {
	p.t.Helper()
	snap := rp.reg.Snapshot()
	for _, o := range p.owners {
		got := view(snap, o.name)
		gen := rp.gen[o.name]
		want := make(map[string]*RecordSet)
		for id, v := range rp.evidence[o.name] {
			if s := o.at(gen, id, v); s != nil {
				want[id] = s
			}
		}
		for id, w := range want {
			g, ok := got[id]
			if !ok || g.Version != w.Version || !sameContent(*g, *w) {
				p.t.Fatalf("step %d: replica %s holds %s/%s as %v; want version %d (generation %d)", p.step, rp.reg.LocalNode(), o.name, id, g, w.Version, gen)
			}
		}
		for id, g := range got {
			if _, ok := want[id]; !ok {
				p.t.Fatalf("step %d: replica %s holds %s/%s at version %d; want nothing (evidence %d, generation %d)", p.step, rp.reg.LocalNode(), o.name, id, g.Version, rp.evidence[o.name][id], gen)
			}
		}
		if len(got) > 0 {
			if info, _ := snap.Node(o.name); info.Generation != gen {
				p.t.Fatalf("step %d: replica %s holds %s at generation %d; want %d", p.step, rp.reg.LocalNode(), o.name, info.Generation, gen)
			}
		}
	}
}

// relayed is r's view of node as a peer relays it: every set it holds.
func relayed(r *Registry, node string) NodeState {
	snap := r.Snapshot()
	info, _ := snap.Node(node)
	st := NodeState{Node: node, Generation: info.Generation, Version: info.Version}
	for _, s := range snap.Sets() {
		if s.Node == node {
			st.Sets = append(st.Sets, s.Clone())
		}
	}
	return st
}

package gossip

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestRestartHeldDeadAtHigherIncarnation is hashicorp/memberlist#311: a node
// restarts at its old address (memberlist incarnation 1) and hears from no
// one that a peer holds its previous run dead at a higher incarnation;
// memberlist there ignores the new run's alive messages. With no push/pull
// round, no reaping of the dead and no rejoin loop to heal it by chance,
// the peer still takes the new run within seconds: the run's generation in
// the meta tells it apart, and the peer pushes/pulls with it.
func TestRestartHeldDeadAtHigherIncarnation(t *testing.T) {
	slow := nodeOpts{rejoin: time.Hour, tune: func(c *memberlist.Config) {
		noPushPull(c)
		c.GossipToTheDeadTime = time.Hour
	}}
	a := startNode(t, "a", slow)
	xo := slow
	xo.join = []string{a.addr()}
	x := startNode(t, "x", xo)
	awaitMembers(t, a, x)
	// A run that refuted a few suspicions: its incarnation is well above 1.
	for range 10 {
		if err := x.node.ml.UpdateNode(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	ap := x.node.LocalAddr()
	x.crash()
	// a declares x dead and gossips it until its retransmit budget is spent
	// (a few gossip ticks: memberlist shows no queue length, so the test
	// gives it 40 ticks); after that no one tells the new run.
	eventually(t, 10*time.Second, func() error {
		for _, m := range a.node.Members() {
			if m.Name == "x" && m.State == StateDead && time.Since(m.Since) > time.Second {
				return nil
			}
		}
		return fmt.Errorf("a does not see x dead for a second yet")
	})

	// b joins after x's death: it never heard of x, and tells the new run
	// nothing about the old one. a's gossip (packets) does not reach the
	// new run either, as in a mass restart where the old claim is relayed
	// by nodes that restart in turn.
	bo := slow
	bo.join = []string{a.addr()}
	b := startNode(t, "b", bo)
	awaitMembers(t, a, b)
	xo2 := slow
	xo2.ip, xo2.port, xo2.join = ap.Addr(), int(ap.Port()), []string{b.addr()}
	xo2.mute = []netip.Addr{a.ip}
	x2 := startNode(t, "x", xo2)
	mustSet(t, x2, testSet("c1", "back", "10.0.0.1"))
	awaitMembers(t, a, b, x2)
	eventually(t, 5*time.Second, func() error {
		if got := lookup(a, "back.swarm.internal"); len(got) != 1 {
			return fmt.Errorf("a: back = %v", got)
		}
		return nil
	})
	if a.node.Stats().Revived == 0 {
		t.Error("a took the new run without pushing/pulling with it: the test did not reproduce memberlist#311")
	}
}

package registry

import (
	"context"
	"testing"
)

// TestRenewGeneration: the local node moves above a generation the cluster
// holds for its name, keeps its sets and feeds them again with the new
// generation, so that gossip publishes them anew.
func TestRenewGeneration(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 100)
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.1"))
	_, sub := r.Subscribe(context.Background())
	defer sub.Close()

	if gen, changed := r.RenewGeneration(50); changed || gen != 100 {
		t.Errorf("RenewGeneration(50) = %d, %v; want 100, false", gen, changed)
	}
	if got := sub.Next(); len(got) != 0 {
		t.Errorf("changes after a no-op renewal: got %v; want none", got)
	}

	// Above the clock: the generation is above+1.
	above := uint64(clk.Now().UnixNano()) + 1000
	gen, changed := r.RenewGeneration(above)
	if !changed || gen != above+1 {
		t.Errorf("RenewGeneration(%d) = %d, %v; want %d, true", above, gen, changed, above+1)
	}
	if g, _ := r.Generation("a"); g != gen {
		t.Errorf("Generation(a) = %d; want %d", g, gen)
	}
	var sets int
	for _, c := range sub.Next() {
		if c.Generation != gen {
			t.Errorf("change %+v: generation %d; want %d", c, c.Generation, gen)
		}
		if c.Set != nil {
			sets++
		}
	}
	if sets != 1 {
		t.Errorf("sets fed again: got %d; want 1", sets)
	}
	if got := view(r.Snapshot(), "a"); len(got) != 1 || got["c1"] == nil {
		t.Errorf("local sets after renewal: got %v; want c1", got)
	}

	// Below the clock: the generation is the clock.
	r2, clk2 := newTestRegistry(t, "b", 5)
	if gen, _ := r2.RenewGeneration(5); gen != uint64(clk2.Now().UnixNano()) {
		t.Errorf("RenewGeneration(5) = %d; want the clock %d", gen, clk2.Now().UnixNano())
	}
}

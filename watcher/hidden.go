package watcher

import (
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// Hidden is a running local container that a label hides (LabelEnable
// false, or without the watch label) and the names it would answer to.
type Hidden struct {
	ContainerID string
	// Name is the container's name, without Docker's leading slash.
	Name string
	// Reason is the label that hides it ("swarmdns.enable=false", "no
	// label team").
	Reason string
	// Names are the FQDNs it would answer to without the label.
	Names []string
}

// HiddenNamed returns the hidden containers that would answer to fqdn (a
// canonical FQDN) or to a name under it, so that a lookup can say a label
// is why the name has no answer. It is safe for concurrent use.
func (w *Watcher) HiddenNamed(fqdn string) []Hidden {
	under := "." + fqdn
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Hidden
	for _, h := range w.hidden {
		if slices.ContainsFunc(h.Names, func(n string) bool { return n == fqdn || strings.HasSuffix(n, under) }) {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b Hidden) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// noteHidden records c as hidden by reason (the label), or forgets it when
// reason is empty.
func (w *Watcher) noteHidden(c container.InspectResponse, reason string) {
	if c.ContainerJSONBase == nil {
		return
	}
	h, ok := w.hiddenEntry(c, reason)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !ok {
		delete(w.hidden, c.ID)
		return
	}
	w.hidden[c.ID] = h
}

// hiddenEntry is what noteHidden records for c hidden by reason; false
// when reason is empty or c would have no names without the label.
func (w *Watcher) hiddenEntry(c container.InspectResponse, reason string) (Hidden, bool) {
	if reason == "" || c.ContainerJSONBase == nil {
		return Hidden{}, false
	}
	h := Hidden{ContainerID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Reason: reason, Names: namesIfShown(c, w.opts)}
	return h, len(h.Names) > 0
}

// forgetHidden forgets a container that is gone.
func (w *Watcher) forgetHidden(id string) {
	w.mu.Lock()
	delete(w.hidden, id)
	w.mu.Unlock()
}

// containerLabels returns a container's labels (nil without a config).
func containerLabels(c container.InspectResponse) map[string]string {
	if c.Config == nil {
		return nil
	}
	return c.Config.Labels
}

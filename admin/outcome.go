package admin

import (
	"fmt"
	"strings"
)

// Outcome is why a lookup got the answer it did: the field that tells an
// operator what to do next, so that nobody has to read it from the rcode.
type Outcome string

// The outcomes of GET /v1/lookup.
const (
	// OutcomeAnswered: the zone (or the hosts file) answered with records.
	OutcomeAnswered Outcome = "answered"
	// OutcomeNXDOMAIN: no record of the zone has this name.
	OutcomeNXDOMAIN Outcome = "nxdomain"
	// OutcomeNODATA: the name exists in the zone, but has no record of
	// the type asked for.
	OutcomeNODATA Outcome = "nodata"
	// OutcomeHidden: no published record has the name, but containers
	// that a label hides (swarmdns.enable=false, or without --watch-label)
	// would have it.
	OutcomeHidden Outcome = "hidden"
	// OutcomeForwarded: the name is outside the zone; an upstream (or the
	// cache) answered.
	OutcomeForwarded Outcome = "forwarded"
	// OutcomeRefused: refused by policy (a client that may not recurse).
	OutcomeRefused Outcome = "refused"
	// OutcomeFailed: the server could not answer (SERVFAIL, an upstream
	// down, a malformed question).
	OutcomeFailed Outcome = "failed"
)

// HiddenContainer is a running container that would answer to a name but
// is not published, and why.
type HiddenContainer struct {
	ContainerID string `json:"container_id"`
	// Name is the container's name.
	Name string `json:"name"`
	// Reason is what hides it: "swarmdns.enable=false", "no label team".
	Reason string `json:"reason"`
}

// HiddenFinder lists the local containers a label hides that would answer
// to a name (a canonical FQDN). It must be safe for concurrent use.
type HiddenFinder interface {
	HiddenNamed(name string) []HiddenContainer
}

// classify fills ex.Outcome and ex.Why from what the explainer said (rcode,
// answer, forwarded, refused) and the hidden containers.
func classify(ex *Explanation, refused string) {
	switch {
	case refused != "":
		ex.Outcome, ex.Why = OutcomeRefused, "refused by policy: "+refused
	case ex.Forwarded && ex.Rcode != "SERVFAIL":
		ex.Outcome, ex.Why = OutcomeForwarded, fmt.Sprintf("outside the zone: forwarded upstream, which answered %s", ex.Rcode)
	case len(ex.Hidden) > 0 && len(ex.Answer) == 0:
		reasons := make([]string, 0, len(ex.Hidden))
		for _, h := range ex.Hidden {
			reasons = append(reasons, h.Name+" ("+h.Reason+")")
		}
		ex.Outcome, ex.Why = OutcomeHidden, "hidden by a label: "+strings.Join(reasons, ", ")+" would answer to this name"
	case ex.Rcode == "NXDOMAIN":
		ex.Outcome, ex.Why = OutcomeNXDOMAIN, "NXDOMAIN: no record in the zone has this name"
	case ex.Rcode == "NOERROR" && len(ex.Answer) == 0:
		ex.Outcome, ex.Why = OutcomeNODATA, fmt.Sprintf("NODATA: the name is in the zone but has no %s record", ex.Type)
	case ex.Rcode == "NOERROR":
		ex.Outcome, ex.Why = OutcomeAnswered, "answered"
	case ex.Rcode == "REFUSED":
		ex.Outcome, ex.Why = OutcomeRefused, "REFUSED by the server"
	default:
		ex.Outcome, ex.Why = OutcomeFailed, "the server could not answer: "+ex.Rcode
	}
}

package watcher

// A Compose project and a Swarm stack of the same name give their services
// the same names (web.demo for the Compose service web of project demo and
// for the service web of stack demo): the registry merges them into one
// answer. The watcher reports it, once per name, rather than publishing
// either under another name: both spellings are the ones their users type
// (Compose's <service>.<project>, the stack's <service>.<stack>), renaming
// one silently would break it, and the fix (another project or stack name)
// is the operator's. The report covers the containers of one node; across
// nodes `swarmdns lookup` lists both groups' containers under the name.

// reportCollisions notes the group names of container id and warns when a
// name is both a Compose service's and a stack service's.
func (w *Watcher) reportCollisions(id string, grouped []GroupName) {
	for fqdn, members := range w.groups {
		if _, ok := members[id]; ok && !containsGroup(grouped, fqdn) {
			delete(members, id)
			if len(members) == 0 {
				delete(w.groups, fqdn)
			}
		}
	}
	for _, g := range grouped {
		members := w.groups[g.FQDN]
		if members == nil {
			members = make(map[string]bool)
			w.groups[g.FQDN] = members
		}
		members[id] = g.Compose
		var compose, stack string
		for cid, isCompose := range members {
			if isCompose {
				compose = cid
			} else {
				stack = cid
			}
		}
		if compose != "" && stack != "" && !w.collided[g.FQDN] {
			w.collided[g.FQDN] = true
			w.log.Warn().Str("name", g.FQDN).Str("compose_container", short(compose)).Str("stack_container", short(stack)).
				Msg("a Compose project and a Swarm stack share this name: their containers are one answer; give the project (docker compose -p) or the stack another name")
		}
	}
}

// forgetGroups drops a removed container from the group names.
func (w *Watcher) forgetGroups(id string) {
	w.reportCollisions(id, nil)
}

func containsGroup(grouped []GroupName, fqdn string) bool {
	for _, g := range grouped {
		if g.FQDN == fqdn {
			return true
		}
	}
	return false
}

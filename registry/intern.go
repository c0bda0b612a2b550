package registry

// interner makes equal strings share one copy: the fields that repeat from
// one container to the next (network names, images, port protocols and
// services, alias targets) would otherwise each hold their own bytes, as a
// set decoded from gossip or built from a Docker inspect does. It is
// guarded by the registry's lock.
type interner struct {
	m map[string]string
}

// maxInterned bounds the interner; when full it starts over (the strings
// already shared stay shared, new ones are shared from then on).
const maxInterned = 1 << 14

// str returns the shared copy of s.
func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.m[s]; ok {
		return v
	}
	if in.m == nil {
		in.m = make(map[string]string)
	} else if len(in.m) >= maxInterned {
		clear(in.m)
	}
	in.m[s] = s
	return s
}

// set interns the repeating fields of s, which the caller owns.
func (in *interner) set(s *RecordSet) {
	for i := range s.Addrs {
		s.Addrs[i].Network = in.str(s.Addrs[i].Network)
	}
	for i := range s.Ports {
		s.Ports[i].Service = in.str(s.Ports[i].Service)
		s.Ports[i].Proto = in.str(s.Ports[i].Proto)
	}
	for i := range s.Aliases {
		s.Aliases[i].Target = in.str(s.Aliases[i].Target)
	}
	s.Image = in.str(s.Image)
}

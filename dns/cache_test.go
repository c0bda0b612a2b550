package dns

import (
	"fmt"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// upstreamReply returns what answerA's upstream sends for an A question
// about name: one A record with TTL 60.
func upstreamReply(name string) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	m.Response = true
	m.RecursionAvailable = true
	m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1).To4()}}
	return m
}

func aKey(name string) cacheKey {
	return cacheKey{name: name, qtype: mdns.TypeA, qclass: mdns.ClassINET}
}

// BenchmarkCacheGet is a warm hit on the miekg path: 100 names, each
// looked up in turn.
func BenchmarkCacheGet(b *testing.B) {
	c := newCache(DefaultCacheSize, time.Hour, time.Now)
	keys := make([]cacheKey, 100)
	for i := range keys {
		keys[i] = aKey(fmt.Sprintf("w%d.fwd.example.", i))
		c.put(keys[i], upstreamReply(keys[i].name))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if m := c.get(keys[i%len(keys)]); m == nil || len(m.Answer) != 1 {
			b.Fatalf("got %v", m)
		}
	}
}

// BenchmarkCachePutFull is an insert into a full cache of the default size
// whose entries are all still fresh: every insert evicts one.
func BenchmarkCachePutFull(b *testing.B) {
	c := newCache(DefaultCacheSize, time.Hour, time.Now)
	for i := range 2 * DefaultCacheSize {
		k := aKey(fmt.Sprintf("f%d.fill.example.", i))
		c.put(k, upstreamReply(k.name))
	}
	keys := make([]cacheKey, 1<<16)
	msgs := make([]*mdns.Msg, len(keys))
	for i := range keys {
		keys[i] = aKey(fmt.Sprintf("c%d.cold.example.", i))
		msgs[i] = upstreamReply(keys[i].name)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i % len(keys)
		c.put(keys[j], msgs[j])
	}
}

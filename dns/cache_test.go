package dns

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

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

func mustRR(t testing.TB, s string) mdns.RR {
	t.Helper()
	rr, err := mdns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// richReply is an upstream reply to www.example.com. A with every section
// filled, owner names in the upstream's own case, and an OPT.
func richReply(t testing.TB) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion("www.example.com.", mdns.TypeA)
	m.Response = true
	m.AuthenticatedData = true
	m.Answer = []mdns.RR{
		mustRR(t, "WWW.Example.COM. 300 IN CNAME web.example.com."),
		mustRR(t, "web.example.com. 60 IN A 192.0.2.7"),
		mustRR(t, "web.example.com. 120 IN A 192.0.2.8"),
	}
	m.Ns = []mdns.RR{mustRR(t, "example.com. 3600 IN NS ns1.example.com.")}
	m.Extra = []mdns.RR{mustRR(t, "ns1.example.com. 3600 IN A 192.0.2.53"), mustRR(t, "www.example.com. 90 IN TXT \"owner is the question\"")}
	m.SetEdns0(1232, true)
	return m
}

// expectedRecords is what a client that asked qname should see of the
// upstream reply m after age seconds: every record but the OPT, TTLs
// lowered, owner names equal to the question in the client's case.
func expectedRecords(m *mdns.Msg, qname string, age uint32) [][]string {
	var out [][]string
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		var s []string
		for _, rr := range sec {
			if rr.Header().Rrtype == mdns.TypeOPT {
				continue
			}
			rr = mdns.Copy(rr)
			h := rr.Header()
			h.Ttl = agedTTL(h.Ttl, age)
			if strings.EqualFold(h.Name, qname) {
				h.Name = qname
			}
			s = append(s, rr.String())
		}
		out = append(out, s)
	}
	return out
}

// gotRecords returns r's sections in presentation form.
func gotRecords(r *mdns.Msg) [][]string {
	var out [][]string
	for _, sec := range [][]mdns.RR{r.Answer, r.Ns, r.Extra} {
		var s []string
		for _, rr := range sec {
			s = append(s, rr.String())
		}
		out = append(out, s)
	}
	return out
}

// equalRecords compares presentation forms: owner names exactly when they
// are the question's, the rest without case (compression may give the
// names below the question the client's case).
func equalRecords(got, want [][]string, qname string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j := range got[i] {
			g, w := got[i][j], want[i][j]
			if strings.HasPrefix(w, qname+"\t") != strings.HasPrefix(g, qname+"\t") || !strings.EqualFold(g, w) {
				return false
			}
		}
	}
	return true
}

// clientMessage is what a caller of appendSections builds: its own header
// with the counts, the client's question bytes, then the sections.
func clientMessage(t testing.TB, c *cache, k cacheKey, clientQ *mdns.Msg) ([]byte, cachedHeader, bool) {
	t.Helper()
	q, err := clientQ.Pack()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 12, 512)
	buf = append(buf, q[12:]...)
	n := len(buf)
	buf, hdr, ok := c.appendSections(buf, k)
	if !ok {
		if len(buf) != n {
			t.Errorf("miss appended %d bytes", len(buf)-n)
		}
		return buf, hdr, false
	}
	binary.BigEndian.PutUint16(buf[0:], clientQ.Id)
	buf[2] = 0x80 // QR
	binary.BigEndian.PutUint16(buf[4:], 1)
	binary.BigEndian.PutUint16(buf[6:], hdr.an)
	binary.BigEndian.PutUint16(buf[8:], hdr.ns)
	binary.BigEndian.PutUint16(buf[10:], hdr.ar)
	return buf, hdr, true
}

func TestCacheAppendSections(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	c := newCache(100, time.Hour, clock.Now)
	up := richReply(t)
	k := aKey("www.example.com.")
	c.put(k, up)

	for _, age := range []uint32{0, 25} {
		clock.Advance(time.Duration(age) * time.Second)
		client := query("wWw.ExAmPlE.cOm.", mdns.TypeA)
		client.Id = 0xBEEF
		wire, hdr, ok := clientMessage(t, c, k, client)
		if !ok {
			t.Fatalf("age %d: miss", age)
		}
		if hdr != (cachedHeader{rcode: mdns.RcodeSuccess, ad: true, an: 3, ns: 1, ar: 2}) {
			t.Errorf("age %d: header %+v; want NOERROR, ad, 3/1/2", age, hdr)
		}
		var r mdns.Msg
		if err := r.Unpack(wire); err != nil {
			t.Fatalf("age %d: unpack: %v", age, err)
		}
		if r.Id != 0xBEEF || len(r.Question) != 1 || r.Question[0] != client.Question[0] {
			t.Errorf("age %d: id %x question %v; want beef, the client's", age, r.Id, r.Question)
		}
		want := expectedRecords(up, "wWw.ExAmPlE.cOm.", age)
		if got := gotRecords(&r); !equalRecords(got, want, "wWw.ExAmPlE.cOm.") {
			t.Errorf("age %d: records\n got %q\nwant %q", age, got, want)
		}
		if r.Answer[0].Header().Name != "wWw.ExAmPlE.cOm." || r.Extra[1].Header().Name != "wWw.ExAmPlE.cOm." {
			t.Errorf("age %d: owner names %q, %q; want the client's case", age, r.Answer[0].Header().Name, r.Extra[1].Header().Name)
		}

		// get: the same records, canonical case, no OPT.
		m := c.get(k)
		if m == nil {
			t.Fatalf("age %d: get missed", age)
		}
		want = expectedRecords(up, k.name, age)
		if got := gotRecords(m); !equalRecords(got, want, k.name) || m.Rcode != mdns.RcodeSuccess || !m.AuthenticatedData {
			t.Errorf("age %d: get: rcode %d ad %v records\n got %q\nwant %q", age, m.Rcode, m.AuthenticatedData, got, want)
		}
	}
	// The upstream's reply is left as it was.
	if up.Answer[0].Header().Name != "WWW.Example.COM." || up.IsEdns0() == nil {
		t.Errorf("put modified the reply: %v", up)
	}
}

func TestCacheAppendSectionsNegative(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	c := newCache(100, time.Hour, clock.Now)
	up := new(mdns.Msg)
	up.SetQuestion("nx.example.", mdns.TypeAAAA)
	up.Response = true
	up.Rcode = mdns.RcodeNameError
	up.Ns = []mdns.RR{mustRR(t, "example. 300 IN SOA ns.example. h.example. 1 1 1 1 30")}
	k := cacheKey{name: "nx.example.", qtype: mdns.TypeAAAA, qclass: mdns.ClassINET}
	c.put(k, up)
	clock.Advance(29 * time.Second)
	wire, hdr, ok := clientMessage(t, c, k, query("NX.example.", mdns.TypeAAAA))
	if !ok || hdr != (cachedHeader{rcode: mdns.RcodeNameError, ns: 1}) {
		t.Fatalf("got %v %+v; want a hit, NXDOMAIN with 1 authority record", ok, hdr)
	}
	var r mdns.Msg
	if err := r.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	if len(r.Ns) != 1 || r.Ns[0].Header().Ttl != 271 {
		t.Errorf("authority: got %v; want the SOA with TTL 300-29", r.Ns)
	}
	// Expired after min(300, 30) seconds: nothing appended.
	clock.Advance(time.Second)
	dst := []byte("prefix")
	if out, hdr, ok := c.appendSections(dst, k); ok || string(out) != "prefix" || hdr != (cachedHeader{}) {
		t.Errorf("expired: got %v %q %+v; want a miss, dst unchanged", ok, out, hdr)
	}
	if c.get(k) != nil || c.len() != 0 {
		t.Errorf("expired: get hit or entry kept (%d)", c.len())
	}
}

func TestCacheMissAppendsNothing(t *testing.T) {
	c := newCache(100, time.Hour, time.Now)
	c.put(aKey("a.example."), upstreamReply("a.example."))
	for _, k := range []cacheKey{aKey("b.example."), {name: "a.example.", qtype: mdns.TypeAAAA, qclass: mdns.ClassINET}, {name: "a.example.", qtype: mdns.TypeA, qclass: mdns.ClassINET, do: true}} {
		if out, _, ok := c.appendSections([]byte{1, 2}, k); ok || len(out) != 2 {
			t.Errorf("%+v: got %v, %d bytes; want a miss", k, ok, len(out))
		}
	}
}

// TestCacheConcurrent reads, writes and evicts from many goroutines (run it
// with -race); every hit must be a whole, consistent reply.
func TestCacheConcurrent(t *testing.T) {
	c := newCache(64, time.Hour, time.Now)
	names := make([]string, 200)
	for i := range names {
		names[i] = fmt.Sprintf("n%d.example.", i)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 0, 512)
			name := make([]byte, 0, 64)
			for i := range 2000 {
				n := names[(i*7+g*13)%len(names)]
				switch i % 3 {
				case 0:
					c.put(aKey(n), upstreamReply(n))
				case 1:
					// The name aliases a buffer that is overwritten right after.
					name = append(name[:0], n...)
					k := aKey(unsafe.String(unsafe.SliceData(name), len(name)))
					out, hdr, ok := c.appendSections(buf[:0], k)
					if ok && (hdr.an != 1 || len(out) != 16) {
						t.Errorf("%s: header %+v, %d bytes; want 1 answer in 16 bytes", n, hdr, len(out))
					}
					for j := range name {
						name[j] = 'x'
					}
				default:
					if m := c.get(aKey(n)); m != nil && (len(m.Answer) != 1 || m.Answer[0].Header().Name != n) {
						t.Errorf("%s: get %v", n, m)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > 64 {
		t.Errorf("entries: got %d; want at most 64", n)
	}
	// No key kept a name from the overwritten buffers.
	for i := range c.shards {
		for _, e := range c.shards[i].slots {
			if e != nil && !strings.HasPrefix(e.key.name, "n") {
				t.Errorf("key %q kept", e.key.name)
			}
		}
	}
}

// sameShardKeys returns n keys that fall into one shard of c.
func sameShardKeys(c *cache, n int) []cacheKey {
	var keys []cacheKey
	for i := 0; len(keys) < n; i++ {
		k := aKey(fmt.Sprintf("k%d.example.", i))
		if c.shard(k) == &c.shards[0] {
			keys = append(keys, k)
		}
	}
	return keys
}

func replyTTL(name string, ttl uint32) *mdns.Msg {
	m := upstreamReply(name)
	m.Answer[0].Header().Ttl = ttl
	return m
}

// TestCacheEvictsExpiredFirst: a full shard makes room from its expired
// entries, wherever they are, before dropping fresh ones.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	for _, expiredFirst := range []bool{true, false} {
		clock := &fakeClock{now: time.Unix(1_000_000, 0)}
		c := newCache(4*cacheShards, time.Hour, clock.Now) // 4 per shard
		keys := sameShardKeys(c, 6)
		var fresh, old []cacheKey
		for i, k := range keys[:4] {
			short := i < 2 == expiredFirst
			ttl := uint32(100)
			if short {
				ttl = 10
				old = append(old, k)
			} else {
				fresh = append(fresh, k)
			}
			c.put(k, replyTTL(k.name, ttl))
		}
		clock.Advance(20 * time.Second)
		for _, k := range keys[4:] {
			c.put(k, replyTTL(k.name, 100))
		}
		for _, k := range old {
			if _, kept := c.shards[0].index[c.hash(k)]; kept {
				t.Errorf("expired first=%v: expired %s kept", expiredFirst, k.name)
			}
		}
		for _, k := range append(fresh, keys[4:]...) {
			if c.get(k) == nil {
				t.Errorf("expired first=%v: fresh %s evicted", expiredFirst, k.name)
			}
		}
		if n := len(c.shards[0].index); n != 4 {
			t.Errorf("expired first=%v: shard holds %d; want 4", expiredFirst, n)
		}
	}
}

// TestCacheSecondChance: with no entry expired, the ones read since the
// last sweep stay and an unread one goes.
func TestCacheSecondChance(t *testing.T) {
	c := newCache(4*cacheShards, time.Hour, time.Now)
	keys := sameShardKeys(c, 5)
	for _, k := range keys[:4] {
		c.put(k, upstreamReply(k.name))
	}
	for _, i := range []int{0, 1, 3} {
		if c.get(keys[i]) == nil {
			t.Fatalf("%s: miss", keys[i].name)
		}
	}
	c.put(keys[4], upstreamReply(keys[4].name))
	for i, k := range keys {
		if got, want := c.get(k) != nil, i != 2; got != want {
			t.Errorf("%s: cached %v; want %v", k.name, got, want)
		}
	}
}

// TestCacheBoundUnderChurn: inserts into a full cache keep every shard at
// its limit, whether the entries are fresh or expired.
func TestCacheBoundUnderChurn(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	c := newCache(160, time.Hour, clock.Now) // 10 per shard
	for i := range 5000 {
		k := aKey(fmt.Sprintf("c%d.example.", i))
		c.put(k, replyTTL(k.name, uint32(1+i%20)))
		if i%100 == 0 {
			clock.Advance(time.Second)
		}
	}
	for i := range c.shards {
		sh := &c.shards[i]
		if len(sh.index) > sh.limit || len(sh.slots) > sh.limit {
			t.Errorf("shard %d: %d entries in %d slots; limit %d", i, len(sh.index), len(sh.slots), sh.limit)
		}
		if len(sh.index)+len(sh.free) != len(sh.slots) {
			t.Errorf("shard %d: %d entries + %d free != %d slots", i, len(sh.index), len(sh.free), len(sh.slots))
		}
	}
}

// BenchmarkCacheAppendSections is a warm hit on the wire path: 100 names,
// each looked up in turn with a name aliasing a reused buffer. It must not
// allocate.
func BenchmarkCacheAppendSections(b *testing.B) {
	c := newCache(DefaultCacheSize, time.Hour, time.Now)
	names := make([][]byte, 100)
	for i := range names {
		n := fmt.Sprintf("w%d.fwd.example.", i)
		names[i] = []byte(n)
		c.put(aKey(n), upstreamReply(n))
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := names[i%len(names)]
		out, hdr, ok := c.appendSections(buf[:0], aKey(unsafe.String(unsafe.SliceData(n), len(n))))
		if !ok || hdr.an != 1 || len(out) != 16 {
			b.Fatalf("got %v %+v %d", ok, hdr, len(out))
		}
	}
}

// TestCacheAllReadStillEvicts: when every entry of a full shard has been
// read, an insert still takes one slot (at the hand) and the sweep clears
// the others' second chance, so the next insert does not take the newest.
func TestCacheAllReadStillEvicts(t *testing.T) {
	c := newCache(4*cacheShards, time.Hour, time.Now)
	keys := sameShardKeys(c, 6)
	for _, k := range keys[:4] {
		c.put(k, upstreamReply(k.name))
		c.get(k)
	}
	c.put(keys[4], upstreamReply(keys[4].name)) // takes slot 0 (keys[0])
	c.put(keys[5], upstreamReply(keys[5].name)) // slot 1 (keys[1]): no longer read since the sweep
	for i, k := range keys {
		if got, want := c.get(k) != nil, i >= 2; got != want {
			t.Errorf("%s: cached %v; want %v", k.name, got, want)
		}
	}
}

// TestCacheHashCollision: the index is by hash, so a hit also checks the
// key (forged here: a second hash pointing at the first key's slot).
func TestCacheHashCollision(t *testing.T) {
	c := newCache(100, time.Hour, time.Now)
	keys := sameShardKeys(c, 2)
	c.put(keys[0], upstreamReply(keys[0].name))
	sh := &c.shards[0]
	sh.index[c.hash(keys[1])] = sh.index[c.hash(keys[0])]
	if out, _, ok := c.appendSections(nil, keys[1]); ok || len(out) != 0 {
		t.Errorf("colliding key: got a hit")
	}
	if c.get(keys[1]) != nil || c.get(keys[0]) == nil {
		t.Errorf("get: want a miss for the colliding key, a hit for the cached one")
	}
	// The fields other than the name are part of the hash too.
	k := keys[0]
	variants := []cacheKey{k, {name: k.name, qtype: mdns.TypeAAAA, qclass: k.qclass}, {name: k.name, qtype: k.qtype, qclass: mdns.ClassCHAOS},
		{name: k.name, qtype: k.qtype, qclass: k.qclass, do: true}, {name: k.name, qtype: k.qtype, qclass: k.qclass, cd: true}}
	seen := map[uint64]bool{}
	for _, v := range variants {
		seen[c.hash(v)] = true
	}
	if len(seen) != len(variants) {
		t.Errorf("hashes: %d distinct for %d keys", len(seen), len(variants))
	}
}

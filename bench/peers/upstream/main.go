// Command upstream is the benchmark's stand-in for an upstream resolver: it
// answers every A query for any name with one A record, as fast as a UDP
// socket allows, so that the servers under test (which forward to it) are
// the only thing measured. It parses nothing beyond the question: the reply
// is the query's header and question with the QR/RA bits set and one answer
// appended (a compression pointer to the question name). Other query types
// get an empty NOERROR answer.
//
// It listens on loopback only and sends nothing but replies.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5300", "UDP `address` to answer on (loopback)")
	ttl := flag.Uint("ttl", 3600, "TTL of the answers, seconds")
	readers := flag.Int("readers", runtime.GOMAXPROCS(0), "goroutines reading the socket")
	flag.Parse()

	addr, err := net.ResolveUDPAddr("udp", *listen)
	if err != nil || !addr.IP.IsLoopback() {
		fmt.Fprintf(os.Stderr, "upstream: -listen %q must be a loopback address\n", *listen)
		os.Exit(2)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "upstream: %v\n", err)
		os.Exit(1)
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	fmt.Fprintf(os.Stderr, "upstream: answering on %s\n", conn.LocalAddr())

	var wg sync.WaitGroup
	for range max(*readers, 1) {
		wg.Go(func() { serve(conn, uint32(*ttl)) })
	}
	wg.Wait()
}

// serve answers queries on conn until it fails.
func serve(conn *net.UDPConn, ttl uint32) {
	in := make([]byte, 1500)
	out := make([]byte, 0, 1600)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(in)
		if err != nil {
			fmt.Fprintf(os.Stderr, "upstream: read: %v\n", err)
			return
		}
		reply, ok := answer(out[:0], in[:n], ttl)
		if !ok {
			continue
		}
		_, _ = conn.WriteToUDPAddrPort(reply, from)
	}
}

// answer appends to out the reply to query q, or reports false for a
// packet that is not a one-question query.
func answer(out, q []byte, ttl uint32) ([]byte, bool) {
	const hdr = 12
	if len(q) < hdr || q[2]&0x80 != 0 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil, false
	}
	// Walk the question name (uncompressed in a query).
	i := hdr
	for {
		if i >= len(q) {
			return nil, false
		}
		l := int(q[i])
		if l == 0 {
			i++
			break
		}
		if l&0xC0 != 0 {
			return nil, false
		}
		i += 1 + l
	}
	if i+4 > len(q) {
		return nil, false
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	end := i + 4
	out = append(out, q[:end]...)
	out[2] |= 0x80                          // QR
	out[2] &^= 0x02                         // TC
	out[3] = 0x80                           // RA, rcode NOERROR
	binary.BigEndian.PutUint16(out[8:], 0)  // NSCOUNT
	binary.BigEndian.PutUint16(out[10:], 0) // ARCOUNT (EDNS dropped)
	if qtype != 1 {
		binary.BigEndian.PutUint16(out[6:], 0)
		return out, true
	}
	binary.BigEndian.PutUint16(out[6:], 1)
	// The address is derived from the name's bytes, so names differ.
	var h uint32 = 2166136261
	for _, c := range q[hdr:i] {
		h = (h ^ uint32(c)) * 16777619
	}
	out = append(out, 0xC0, hdr, 0, 1, 0, 1)
	out = binary.BigEndian.AppendUint32(out, ttl)
	out = append(out, 0, 4, 198, 18, byte(h>>8), byte(h))
	return out, true
}

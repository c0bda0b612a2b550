package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// This file runs the machine's real DNS clients, dig (BIND 9) and kdig
// (Knot), and reads what they print back into DNS terms: dig's text (the
// +comments header and the sections, each record parsed with miekg's
// presentation parser) and kdig's RFC 8427 JSON (+json).

// realClient is dig or kdig.
type realClient struct {
	name string // "dig" or "kdig"
	path string
}

// lookClient finds dig or kdig; the test is skipped without it (failed
// with CI=true, where .ci/run installs dnsutils and knot-dnsutils).
func lookClient(t *testing.T, name string) realClient {
	t.Helper()
	return realClient{name: name, path: dockertest.Tool(t, name)}
}

// version is the client's version line, for the test log.
func (c realClient) version() string {
	arg := "-v"
	if c.name == "kdig" {
		arg = "-V"
	}
	out, _ := exec.Command(c.path, arg).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// clientReply is one reply as a real client printed it.
type clientReply struct {
	Rcode                         string          // "NOERROR", "NXDOMAIN", "BADVERS", ...
	Flags                         map[string]bool // "qr", "aa", "tc", "rd", "ra", ...
	Answer, Authority, Additional []mdns.RR       // Additional without the OPT
	EDNS                          *clientEDNS     // nil when the reply has no OPT
	Size                          int             // the reply's size in octets
	TCP                           bool            // the reply came over TCP
	Retried                       bool            // the client saw TC and asked again over TCP
	Replies                       int             // the replies printed (several questions); the last is parsed
	Out                           string          // everything the client printed
}

// clientEDNS is the OPT record of a reply.
type clientEDNS struct {
	Version int
	UDPSize int
	Options []string // the options the reply carries, as printed
}

// ask runs the client against server (host:port) with args (the question
// and query options, e.g. "name", "AAAA", "+tcp"), and parses its output.
func (c realClient) ask(server string, args ...string) (*clientReply, error) {
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return nil, err
	}
	var argv []string
	switch c.name {
	case "dig":
		argv = []string{"+noall", "+comments", "+answer", "+authority", "+additional", "+stats", "+tries=1", "+timeout=3"}
	case "kdig":
		argv = []string{"+json", "+timeout=3", "+retry=0"}
	}
	argv = append(argv, "@"+host, "-p", port)
	argv = append(argv, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.path, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	out := stdout.String() + stderr.String()
	quoted := c.name + " " + strings.Join(argv, " ")
	if runErr != nil {
		return nil, fmt.Errorf("%s: %w\n%s", quoted, runErr, out)
	}
	var r *clientReply
	if c.name == "dig" {
		r, err = parseDig(stdout.String())
	} else {
		r, err = parseKdig(stdout.Bytes())
		if err == nil {
			r.Retried = strings.Contains(stderr.String(), "retrying over TCP")
			r.TCP = r.Retried || slices.Contains(args, "+tcp") || slices.Contains(args, "AXFR")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", quoted, err, out)
	}
	r.Out = quoted + "\n" + out
	return r, nil
}

// parseDig reads dig's output (+noall +comments +answer +authority
// +additional +stats). When dig printed several replies (a truncated one,
// then the TCP one) the last counts.
func parseDig(out string) (*clientReply, error) {
	r := &clientReply{Flags: map[string]bool{}}
	var section *[]mdns.RR = &r.Answer // AXFR output has no section headers
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	header := false
	replies := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, ";; ->>HEADER<<-"):
			retried := r.Retried
			*r = clientReply{Flags: map[string]bool{}, Retried: retried}
			section = &r.Answer
			header = true
			replies++
			_, status, _ := strings.Cut(line, "status: ")
			r.Rcode, _, _ = strings.Cut(status, ",")
		case strings.HasPrefix(line, ";; flags:"):
			flags, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			for _, f := range strings.Fields(flags) {
				r.Flags[f] = true
			}
		case strings.HasPrefix(line, "; EDNS:"):
			r.EDNS = &clientEDNS{}
			for _, part := range strings.Split(strings.TrimPrefix(line, "; EDNS:"), ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
				v = strings.TrimSpace(v)
				switch k {
				case "version":
					v, _, _ = strings.Cut(v, ",")
					r.EDNS.Version, _ = strconv.Atoi(v)
				case "udp":
					r.EDNS.UDPSize, _ = strconv.Atoi(v)
				}
			}
		case r.EDNS != nil && strings.HasPrefix(line, "; ") && section == nil:
			// An option in the OPT pseudosection ("; COOKIE: ...").
			r.EDNS.Options = append(r.EDNS.Options, strings.TrimPrefix(line, "; "))
		case line == ";; OPT PSEUDOSECTION:":
			section = nil
		case line == ";; QUESTION SECTION:":
			section = nil
		case line == ";; ANSWER SECTION:":
			section = &r.Answer
		case line == ";; AUTHORITY SECTION:":
			section = &r.Authority
		case line == ";; ADDITIONAL SECTION:":
			section = &r.Additional
		case strings.HasPrefix(line, ";; Truncated, retrying in TCP mode"):
			r.Retried = true
		case strings.HasPrefix(line, ";; SERVER:"):
			r.TCP = strings.HasSuffix(line, "(TCP)")
		case strings.HasPrefix(line, ";; MSG SIZE  rcvd:"):
			r.Size, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, ";; MSG SIZE  rcvd:")))
		case strings.HasPrefix(line, ";; XFR size:"):
			r.TCP = true
			if !header {
				r.Rcode = "NOERROR"
			}
		case strings.HasPrefix(line, ";"):
			// Other comments: query time, warnings.
		default:
			if section == nil {
				return nil, fmt.Errorf("record %q outside a section", line)
			}
			rr, err := mdns.NewRR(line)
			if err != nil {
				return nil, fmt.Errorf("record %q: %w", line, err)
			}
			*section = append(*section, rr)
		}
	}
	if r.Rcode == "" {
		return nil, errors.New("no reply in dig's output")
	}
	r.Replies = max(replies, 1)
	return r, nil
}

// kdigMsg is one message of kdig's RFC 8427 JSON.
type kdigMsg struct {
	MsgLength     int              `json:"msgLength"`
	QR            int              `json:"QR"`
	AA            int              `json:"AA"`
	TC            int              `json:"TC"`
	RD            int              `json:"RD"`
	RA            int              `json:"RA"`
	AD            int              `json:"AD"`
	CD            int              `json:"CD"`
	RCODE         int              `json:"RCODE"`
	AnswerRRs     []map[string]any `json:"answerRRs"`
	AuthorityRRs  []map[string]any `json:"authorityRRs"`
	AdditionalRRs []map[string]any `json:"additionalRRs"`
}

// parseKdig reads kdig's +json output: one message, or an array of them
// (a zone transfer), whose records are concatenated.
func parseKdig(out []byte) (*clientReply, error) {
	var msgs []kdigMsg
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &msgs); err != nil {
			return nil, fmt.Errorf("kdig JSON: %w", err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		for {
			var m kdigMsg
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("kdig JSON: %w", err)
			}
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return nil, errors.New("no reply in kdig's output")
	}
	r := &clientReply{Flags: map[string]bool{}, Replies: len(msgs)}
	if trimmed[0] != '[' {
		msgs = msgs[len(msgs)-1:] // several questions: the last reply
	} else {
		r.Replies = 1 // one transfer in several messages
	}
	ext := 0
	for i, m := range msgs {
		if i == 0 {
			for f, v := range map[string]int{"qr": m.QR, "aa": m.AA, "tc": m.TC, "rd": m.RD, "ra": m.RA, "ad": m.AD, "cd": m.CD} {
				if v != 0 {
					r.Flags[f] = true
				}
			}
		}
		r.Size += m.MsgLength
		for _, sec := range []struct {
			in  []map[string]any
			out *[]mdns.RR
		}{{m.AnswerRRs, &r.Answer}, {m.AuthorityRRs, &r.Authority}, {m.AdditionalRRs, &r.Additional}} {
			for _, j := range sec.in {
				if num(j["TYPE"]) == int(mdns.TypeOPT) {
					ttl := num(j["TTL"])
					ext = ttl >> 24
					r.EDNS = &clientEDNS{Version: (ttl >> 16) & 0xff, UDPSize: num(j["CLASS"])}
					if num(j["RDLENGTH"]) > 0 {
						r.EDNS.Options = append(r.EDNS.Options, fmt.Sprint(j["RDATAHEX"]))
					}
					continue
				}
				rr, err := kdigRR(j)
				if err != nil {
					return nil, err
				}
				*sec.out = append(*sec.out, rr)
			}
		}
		if i == 0 {
			rcode := m.RCODE | ext<<4
			r.Rcode = mdns.RcodeToString[rcode]
			if rcode == mdns.RcodeBadVers {
				r.Rcode = "BADVERS" // 16 is BADSIG too, in a TSIG record
			}
			if r.Rcode == "" {
				r.Rcode = "RCODE" + strconv.Itoa(rcode)
			}
		}
	}
	return r, nil
}

// kdigRR turns one RFC 8427 record into a miekg record: from its rdata in
// presentation form when kdig gave one (rdataA, rdataSOA, ...), else from
// its hex (RFC 3597 form).
func kdigRR(j map[string]any) (mdns.RR, error) {
	name, _ := j["NAME"].(string)
	typ, _ := j["TYPEname"].(string)
	class, _ := j["CLASSname"].(string)
	if class == "" {
		class = "CLASS" + strconv.Itoa(num(j["CLASS"]))
	}
	var text string
	if rdata, ok := j["rdata"+typ].(string); ok {
		text = fmt.Sprintf("%s %d %s %s %s", name, num(j["TTL"]), class, typ, rdata)
	} else {
		text = fmt.Sprintf("%s %d %s TYPE%d \\# %d %s", name, num(j["TTL"]), class, num(j["TYPE"]), num(j["RDLENGTH"]), j["RDATAHEX"])
	}
	rr, err := mdns.NewRR(text)
	if err != nil {
		return nil, fmt.Errorf("kdig record %q: %w", text, err)
	}
	return rr, nil
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// addrs returns the sorted A and AAAA addresses of the answer.
func (r *clientReply) addrs() []string {
	return addrsOf(&mdns.Msg{Answer: r.Answer})
}

// only returns the answer's records of type rrtype.
func (r *clientReply) only(rrtype uint16) []mdns.RR {
	var out []mdns.RR
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == rrtype {
			out = append(out, rr)
		}
	}
	return out
}

// soa returns the SOA of the authority section, or nil.
func (r *clientReply) soa() *mdns.SOA {
	for _, rr := range r.Authority {
		if soa, ok := rr.(*mdns.SOA); ok {
			return soa
		}
	}
	return nil
}

// expect checks the rcode and the flags the reply must have (a name) or
// not have ("!tc").
func (r *clientReply) expect(rcode string, flags ...string) error {
	if r.Rcode != rcode {
		return fmt.Errorf("got status %s; want %s", r.Rcode, rcode)
	}
	for _, f := range flags {
		want := !strings.HasPrefix(f, "!")
		if f = strings.TrimPrefix(f, "!"); r.Flags[f] != want {
			return fmt.Errorf("flag %s: got %v; want %v", f, r.Flags[f], want)
		}
	}
	return nil
}

// TestParseRealClientOutput checks the parsers on output captured from dig
// 9.18 and kdig 3.2, so a parse error is told apart from a server bug.
func TestParseRealClientOutput(t *testing.T) {
	dig := `;; Truncated, retrying in TCP mode.
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 63290
;; flags: qr aa rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; COOKIE: 0123456789abcdef (echoed)
;; AUTHORITY SECTION:
swarm.internal.		5	IN	SOA	ns.swarm.internal. hostmaster.swarm.internal. 1795448852 30 10 600 5

;; Query time: 0 msec
;; SERVER: 127.0.0.1#15353(127.0.0.1) (TCP)
;; WHEN: Mon Nov 23 15:47:43 UTC 2026
;; MSG SIZE  rcvd: 986
`
	r, err := parseDig(dig)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != "NXDOMAIN" || !r.Flags["aa"] || r.Flags["tc"] || !r.TCP || !r.Retried || r.Size != 986 || r.Replies != 1 ||
		r.EDNS == nil || r.EDNS.UDPSize != 1232 || len(r.EDNS.Options) != 1 || r.soa() == nil || len(r.Answer) != 0 {
		t.Errorf("dig: got %+v (EDNS %+v)", r, r.EDNS)
	}

	kdig := `{
  "msgLength": 37, "QR": 1, "AA": 0, "TC": 1, "RD": 1, "RCODE": 0,
  "answerRRs": [{"NAME": "a.test.", "TYPE": 1, "TYPEname": "A", "CLASS": 1, "CLASSname": "IN", "TTL": 5, "rdataA": "192.0.2.1", "RDLENGTH": 4, "RDATAHEX": "C0000201"},
    {"NAME": "a.test.", "TYPE": 65400, "CLASS": 1, "CLASSname": "IN", "TTL": 5, "RDLENGTH": 2, "RDATAHEX": "ABCD"}],
  "additionalRRs": [{"NAME": ".", "TYPE": 41, "TYPEname": "OPT", "CLASS": 1232, "TTL": 16777216, "RDLENGTH": 0}]
}`
	r, err = parseKdig([]byte(kdig))
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != "BADVERS" || !r.Flags["tc"] || r.Flags["aa"] || r.Size != 37 || len(r.Answer) != 2 ||
		r.EDNS == nil || r.EDNS.UDPSize != 1232 || r.EDNS.Version != 0 || len(r.EDNS.Options) != 0 ||
		!slices.Equal(r.addrs(), []string{"192.0.2.1"}) || r.Answer[1].Header().Rrtype != 65400 {
		t.Errorf("kdig: got %+v (EDNS %+v)", r, r.EDNS)
	}
}

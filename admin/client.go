package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrUnreachable marks a Client error where no answer came back from the
// node at all (nothing listening, a timeout, a reset connection).
var ErrUnreachable = errors.New("admin API unreachable")

// APIError is an error answer of the API.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the API's error message (or the status text).
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Client calls a node's admin API. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	addr  string
	token string
	http  *http.Client
}

// maxResponseBytes bounds what the client reads from one answer.
const maxResponseBytes = 64 << 20

// NewClient returns a client for the API at addr: "host:port", an http://
// URL, or UnixPrefix and a socket path. token, when not empty, is sent as a
// bearer token; timeout bounds each call (0 means no bound beyond the ctx).
func NewClient(addr, token string, timeout time.Duration) (*Client, error) {
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		if path == "" {
			return nil, fmt.Errorf("admin address %q has no socket path", addr)
		}
		var d net.Dialer
		return &Client{
			base:  &url.URL{Scheme: "http", Host: "unix"},
			addr:  addr,
			token: token,
			http: &http.Client{
				Timeout: timeout,
				Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true,
					DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
						return d.DialContext(ctx, "unix", path)
					}},
			},
		}, nil
	}
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("admin address %q is not host:port or an http URL", addr)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("admin address %q: scheme %q is not http or https", addr, u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{
		base:  u,
		addr:  addr,
		token: token,
		http: &http.Client{
			Timeout: timeout,
			// No proxy: the API is on loopback or on a host the operator named.
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		},
	}, nil
}

// Addr returns the address the client was made for.
func (c *Client) Addr() string { return c.addr }

// Members calls GET /v1/members.
func (c *Client) Members(ctx context.Context) (MembersResponse, error) {
	var out MembersResponse
	err := c.do(ctx, http.MethodGet, "/v1/members", nil, nil, &out)
	return out, err
}

// Records calls GET /v1/records with f's filters.
func (c *Client) Records(ctx context.Context, f RecordFilter) (RecordsResponse, error) {
	q := url.Values{}
	setIf(q, "node", f.Node)
	setIf(q, "name", f.Name)
	setIf(q, "container", f.Container)
	var out RecordsResponse
	err := c.do(ctx, http.MethodGet, "/v1/records", q, nil, &out)
	return out, err
}

// Lookup calls GET /v1/lookup: qtype is a type mnemonic (empty means A),
// client an IP address (empty for none).
func (c *Client) Lookup(ctx context.Context, name, qtype, client string) (Explanation, error) {
	q := url.Values{}
	q.Set("name", name)
	setIf(q, "type", qtype)
	setIf(q, "client", client)
	var out Explanation
	err := c.do(ctx, http.MethodGet, "/v1/lookup", q, nil, &out)
	return out, err
}

// Stats calls GET /v1/stats.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var out Stats
	err := c.do(ctx, http.MethodGet, "/v1/stats", nil, nil, &out)
	return out, err
}

// Version calls GET /v1/version.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var out VersionInfo
	err := c.do(ctx, http.MethodGet, "/v1/version", nil, nil, &out)
	return out, err
}

// LogLevel calls GET /v1/log-level.
func (c *Client) LogLevel(ctx context.Context) (string, error) {
	var out LogLevel
	err := c.do(ctx, http.MethodGet, "/v1/log-level", nil, nil, &out)
	return out.Level, err
}

// SetLogLevel calls PUT /v1/log-level and returns the level now in force.
func (c *Client) SetLogLevel(ctx context.Context, level string) (string, error) {
	var out LogLevel
	err := c.do(ctx, http.MethodPut, "/v1/log-level", nil, LogLevel{Level: level}, &out)
	return out.Level, err
}

// Healthy calls /healthz: nil when the node's process lives.
func (c *Client) Healthy(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Ready calls /readyz. A node that is not ready is not an error: the
// answer says which checks fail.
func (c *Client) Ready(ctx context.Context) (Readiness, error) {
	var out Readiness
	err := c.do(ctx, http.MethodGet, "/readyz", nil, nil, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable && out.Checks != nil {
		return out, nil
	}
	return out, err
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// do calls the API and decodes a 2xx answer into out. An error answer
// becomes an *APIError (and is still decoded into out when it has the same
// shape, as /readyz's 503 does).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("admin API at %s: %w", c.addr, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.addr, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%w at %s: read answer: %w", ErrUnreachable, c.addr, err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		var er ErrorResponse
		if json.Unmarshal(data, &er) == nil && er.Error != "" {
			ae.Message = er.Error
		} else if out != nil {
			_ = json.Unmarshal(data, out)
		}
		return fmt.Errorf("admin API at %s: %s %s: %w", c.addr, method, path, ae)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API at %s: %s %s: decode answer: %w", c.addr, method, path, err)
	}
	return nil
}

// unwrapURLError drops *url.Error's "Get "http://...": " prefix: the
// caller names the address already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

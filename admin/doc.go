// Package admin is swarmdns's loopback HTTP API: what an operator (through
// the debug CLI) or Prometheus asks a running node.
//
// Endpoints, all JSON except /metrics:
//
//	GET     /v1/members     the cluster's nodes as this node sees them
//	GET     /v1/records     record sets held (filters: node, name, container)
//	GET     /v1/lookup      the answer this node gives (name, type, client), and why
//	GET     /v1/stats       counters read from the Prometheus registry
//	GET|PUT /v1/log-level   the log level, changeable at run time
//	GET     /v1/version     the build version
//	GET     /healthz        the process lives (never needs the token)
//	GET     /readyz         503 listing the failing checks until every check passes
//	GET     /metrics        Prometheus exposition
//
// The package consumes the rest of swarmdns through small interfaces it
// declares itself (Zone, MemberLister, Explainer, Check), so it imports no
// other swarmdns package but registry. The JSON types (Member, Record,
// Explanation, Stats, ...) are separate from internal types and are what
// Client decodes, so the CLI and the server share one definition.
//
// The API can change the log level but never records. Listening beyond
// loopback requires a bearer token (New refuses otherwise); when a token is
// set every endpoint but /healthz requires it.
package admin

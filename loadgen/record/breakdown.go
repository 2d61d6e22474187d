package record

import (
	"sort"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// maxGroups bounds the distinct (kind, encoding) pairs kept; a classifier naming
// more (a bug) has the rest counted under otherGroup.
const (
	maxGroups  = 100
	otherGroup = "(other)"
	// unknownGroup names a kind or encoding the classifier left empty.
	unknownGroup = "(unknown)"
)

// GroupBy picks what Breakdown groups results by.
type GroupBy int

// What Breakdown can group by.
const (
	// ByKind groups by request kind (event, array, batch, decide, …).
	ByKind GroupBy = iota + 1
	// ByEncoding groups by body encoding (json, gzip-js, form, get, …).
	ByEncoding
	// ByKindAndEncoding groups by both: one Group per pair seen.
	ByKindAndEncoding
)

// Group is what a Recorder holds for one kind or encoding of request (see
// Options.Classify), computed.
type Group struct {
	// Kind and Encoding name the group; the one not grouped by is empty.
	Kind     string `json:"kind,omitempty"`
	Encoding string `json:"encoding,omitempty"`
	Requests uint64 `json:"requests"`
	// Errors counts failed requests (as Summary.Errors does); ErrorRate is their share.
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	BytesOut  uint64  `json:"bytes_out"`
	BytesIn   uint64  `json:"bytes_in"`
	// Latency is vegeta's latency (from the actual send); Intended from the
	// intended send.
	Latency  Distribution `json:"latency"`
	Intended Distribution `json:"intended"`
}

type groupKey struct{ kind, encoding string }

// class is the classification of one result: ok is false without Options.Classify.
type class struct {
	key groupKey
	ok  bool
}

type group struct {
	requests, errors, bytesIn, bytesOut uint64
	latency, intended                   *hdr.Histogram
}

func newGroup() *group {
	return &group{latency: newHist(SigFigs), intended: newHist(SigFigs)}
}

func (g *group) add(o *group) {
	g.requests += o.requests
	g.errors += o.errors
	g.bytesIn += o.bytesIn
	g.bytesOut += o.bytesOut
	g.latency.Merge(o.latency)
	g.intended.Merge(o.intended)
}

// extra is what a Recorder holds beyond its totals and seconds: the breakdown of
// results by kind and encoding. Guarded by Recorder.mu.
type extra struct {
	groups map[groupKey]*group
}

// group returns the group of k, creating it (or folding k into otherGroup when
// there are too many).
func (e *extra) group(k groupKey) *group {
	if e.groups == nil {
		e.groups = make(map[groupKey]*group)
	}
	if g, ok := e.groups[k]; ok {
		return g
	}
	if len(e.groups) >= maxGroups {
		k = groupKey{otherGroup, otherGroup}
		if g, ok := e.groups[k]; ok {
			return g
		}
	}
	g := newGroup()
	e.groups[k] = g
	return g
}

// classify names res's kind and encoding with Options.Classify. It runs before
// Add takes the lock: classifiers parse URLs.
func (r *Recorder) classify(res *vegeta.Result) class {
	if r.opts.Classify == nil {
		return class{}
	}
	kind, enc := r.opts.Classify(res.Method, res.URL)
	if kind == "" {
		kind = unknownGroup
	}
	if enc == "" {
		enc = unknownGroup
	}
	return class{key: groupKey{kind, enc}, ok: true}
}

// addGroup records one result in its group. r.mu is held.
func (r *Recorder) addGroup(c class, res *vegeta.Result, failed bool, lat, itd int64) {
	if !c.ok {
		return
	}
	g := r.more.group(c.key)
	g.requests++
	if failed {
		g.errors++
	}
	g.bytesIn += res.BytesIn
	g.bytesOut += res.BytesOut
	_ = g.latency.RecordValue(lat)
	_ = g.intended.RecordValue(itd)
}

// Breakdown returns the results grouped by kind, encoding or both, sorted by kind
// then encoding. It is empty when the Recorder had no Options.Classify (nor merged
// a recorder that had one).
func (r *Recorder) Breakdown(by GroupBy) []Group {
	r.mu.Lock()
	defer r.mu.Unlock()
	sums := make(map[groupKey]*group)
	for k, g := range r.more.groups {
		switch by {
		case ByKind:
			k.encoding = ""
		case ByEncoding:
			k.kind = ""
		case ByKindAndEncoding:
		default:
			return nil
		}
		s := sums[k]
		if s == nil {
			s = newGroup()
			sums[k] = s
		}
		s.add(g)
	}
	out := make([]Group, 0, len(sums))
	for k, g := range sums {
		gr := Group{Kind: k.kind, Encoding: k.encoding, Requests: g.requests, Errors: g.errors,
			BytesOut: g.bytesOut, BytesIn: g.bytesIn, Latency: distribution(g.latency), Intended: distribution(g.intended)}
		if g.requests > 0 {
			gr.ErrorRate = float64(g.errors) / float64(g.requests)
		}
		out = append(out, gr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Encoding < out[j].Encoding
	})
	return out
}

// mergeGroups adds o's groups into r's. Both locks are held.
func (r *Recorder) mergeGroups(o *Recorder) {
	for k, g := range o.more.groups {
		r.more.group(k).add(g)
	}
}

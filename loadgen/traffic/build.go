package traffic

import (
	"math/rand/v2"
	"strconv"
)

// uuidLen is the length of a uuid's canonical form.
const uuidLen = 36

// builder builds targets with reusable state: the random source (reseeded for
// every target), the Zipf draw over it, and the JSON, encoding and URL buffers.
// One goroutine uses a builder at a time.
type builder struct {
	g     *Generator
	pcg   rand.PCG
	r     *rand.Rand
	zipf  *rand.Zipf
	clock clockCache
	js    []byte
	wire  wire
	url   []byte
	uuids []byte
}

func (g *Generator) newBuilder() *builder {
	b := &builder{g: g}
	b.r = rand.New(&b.pcg)
	b.zipf = rand.NewZipf(b.r, g.opts.ZipfS, 1, g.opts.People-1)
	return b
}

// person returns person n's fixed properties, cached for the first people.
func (g *Generator) person(n uint64) *person {
	if n >= uint64(len(g.people)) {
		return newPerson(n, g.opts.Seed)
	}
	if p := g.people[n].Load(); p != nil {
		return p
	}
	p := newPerson(n, g.opts.Seed)
	g.people[n].Store(p) // racing stores store the same content
	return p
}

// build makes target i: a pure function of the Generator's options and i.
func (b *builder) build(i uint64) Target {
	g, r := b.g, b.r
	b.pcg.Seed(g.opts.Seed, splitmix(i^0x5bd1e995c0ffee))
	kind := g.kinds.pick(r)
	p := g.person(b.zipf.Uint64())
	sentAt := g.epochMs + int64(i)
	t := Target{Index: i, Kind: kind, DistinctID: p.distinctID}

	js, uuids := b.js[:0], b.uuids[:0]
	var path string
	switch kind {
	case Decide:
		t.Encoding = g.encs.pick(r)
		path = decidePath
		js = append(js, `{"token":`...)
		js = append(js, g.tokenJSON...)
		js = append(js, `,"distinct_id":"`...)
		js = append(js, p.distinctID...)
		js = append(js, `","groups":{}}`...)
	case Event:
		t.Encoding = g.encs.pick(r)
		path = eventPath
		var at int
		js, at = appendEvent(js, r, p, sentAt, g.tokenProp, &b.clock)
		uuids = append(uuids, js[at:at+uuidLen]...)
	case Array, Batch:
		t.Encoding = g.bodyEncs.pick(r)
		n := g.batchSize(r)
		// posthog-js puts the token in every event of an array; server SDKs put it
		// once, as the batch's api_key.
		tokenProp := g.tokenProp
		if kind == Batch {
			path, tokenProp = batchPath, nil
			js = append(js, `{"api_key":`...)
			js = append(js, g.tokenJSON...)
			js = append(js, `,"batch":[`...)
		} else {
			path = arrayPath
			js = append(js, '[')
		}
		for j := range n {
			if j > 0 {
				js = append(js, ',')
			}
			var at int
			js, at = appendEvent(js, r, p, sentAt-int64(n-j)*150, tokenProp, &b.clock)
			uuids = append(uuids, js[at:at+uuidLen]...)
		}
		if kind == Batch {
			js = append(js, `],"sent_at":"`...)
			js = appendTimestamp(js, sentAt, &b.clock)
			js = append(js, `"}`...)
		} else {
			js = append(js, ']')
		}
	}
	b.js, b.uuids = js, uuids

	if len(uuids) > 0 {
		all := string(uuids)
		t.UUIDs = make([]string, len(uuids)/uuidLen)
		for j := range t.UUIDs {
			t.UUIDs[j] = all[j*uuidLen : (j+1)*uuidLen]
			if g.opts.SampleEvery > 0 && Sampled(t.UUIDs[j], g.opts.SampleEvery) {
				t.Sampled = append(t.Sampled, t.UUIDs[j])
			}
		}
	}

	method, query, body, header := b.wire.encode(js, t.Encoding, &g.headers)
	// posthog-js appends the client's clock in ms as a cache buster (_=) and its
	// version (ver=); the query is in url.Values.Encode's (sorted) order.
	u := append(b.url[:0], g.base...)
	u = append(u, path...)
	u = append(u, "?_="...)
	u = strconv.AppendInt(u, sentAt, 10)
	u = append(u, query...)
	if kind == Decide {
		u = append(u, "&v=3"...)
	}
	u = append(u, "&ver="+libVersion...)
	b.url = u
	t.Method, t.URL, t.Body, t.Header = method, string(u), body, header
	return t
}

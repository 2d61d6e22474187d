package record

import (
	"fmt"
	"strconv"
)

// The breakdowns and per-second details travel in optional fields of the JSON
// form: a recorder written before they existed reads back without them.

type wireGroup struct {
	Kind     string `json:"kind"`
	Encoding string `json:"encoding"`
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	Latency  string `json:"latency"`
	Intended string `json:"intended"`
}

// wireSecondDetail is embedded in wireSecond.
type wireSecondDetail struct {
	Codes     map[string]uint64 `json:"codes,omitempty"`
	Errs      map[string]uint64 `json:"error_kinds,omitempty"`
	BytesIn   uint64            `json:"bytes_in,omitempty"`
	BytesOut  uint64            `json:"bytes_out,omitempty"`
	Scheduled uint64            `json:"scheduled,omitempty"`
	E2E       string            `json:"e2e,omitempty"`
}

// marshalDetails fills w's groups and its seconds' details. r.mu is held.
func (r *Recorder) marshalDetails(w *wire) error {
	for i := range w.Seconds {
		s := r.seconds[w.Seconds[i].Unix]
		if s == nil {
			continue
		}
		d := &w.Seconds[i].wireSecondDetail
		if len(s.codes) > 0 {
			d.Codes = make(map[string]uint64, len(s.codes))
			for c, n := range s.codes {
				d.Codes[strconv.Itoa(int(c))] = n
			}
		}
		d.Errs, d.BytesIn, d.BytesOut, d.Scheduled = s.errs, s.bytesIn, s.bytesOut, s.scheduled
		if s.e2e != nil {
			var err error
			if d.E2E, err = encodeHist(s.e2e); err != nil {
				return err
			}
		}
	}
	for k, g := range r.more.groups {
		wg := wireGroup{Kind: k.kind, Encoding: k.encoding, Requests: g.requests, Errors: g.errors, BytesIn: g.bytesIn, BytesOut: g.bytesOut}
		var err error
		if wg.Latency, err = encodeHist(g.latency); err != nil {
			return err
		}
		if wg.Intended, err = encodeHist(g.intended); err != nil {
			return err
		}
		w.Groups = append(w.Groups, wg)
	}
	return nil
}

// unmarshalDetails reads w's groups and its seconds' details into r, whose seconds
// UnmarshalJSON has already filled.
func (r *Recorder) unmarshalDetails(w *wire) error {
	for _, ws := range w.Seconds {
		s := r.seconds[ws.Unix]
		if s == nil {
			continue
		}
		d := ws.wireSecondDetail
		for c, v := range d.Codes {
			code, err := strconv.ParseUint(c, 10, 16)
			if err != nil {
				return fmt.Errorf("decode recorder: status code %q of second %d: %w", c, ws.Unix, err)
			}
			if s.codes == nil {
				s.codes = make(map[uint16]uint64)
			}
			s.codes[uint16(code)] += v
		}
		for msg, v := range d.Errs {
			if s.errs == nil {
				s.errs = make(map[string]uint64)
			}
			s.errs[msg] += v
		}
		s.bytesIn, s.bytesOut, s.scheduled = d.BytesIn, d.BytesOut, d.Scheduled
		if d.E2E != "" {
			h, err := decodeHist("per-second e2e", d.E2E, SecondSigFigs)
			if err != nil {
				return err
			}
			s.e2e = h
		}
	}
	for _, wg := range w.Groups {
		g := r.more.group(groupKey{wg.Kind, wg.Encoding})
		g.requests += wg.Requests
		g.errors += wg.Errors
		g.bytesIn += wg.BytesIn
		g.bytesOut += wg.BytesOut
		lat, err := decodeHist("group latency", wg.Latency, SigFigs)
		if err != nil {
			return err
		}
		itd, err := decodeHist("group intended", wg.Intended, SigFigs)
		if err != nil {
			return err
		}
		g.latency.Merge(lat)
		g.intended.Merge(itd)
	}
	return nil
}

package record

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// FormatVersion is the version of the JSON form written by MarshalJSON.
const FormatVersion = 1

// wire is the JSON form of a Recorder: HDR histograms travel in their standard V2
// compressed base64 encoding.
type wire struct {
	Version   int               `json:"version"`
	Start     time.Time         `json:"start"`
	LateAfter time.Duration     `json:"late_after"`
	Workers   int               `json:"workers"`
	Finished  bool              `json:"finished"`
	Window    time.Duration     `json:"window"`
	Requested uint64            `json:"requested"`
	Requests  uint64            `json:"requests"`
	Success   uint64            `json:"success"`
	Late      uint64            `json:"late"`
	Clamped   uint64            `json:"clamped"`
	BytesIn   uint64            `json:"bytes_in"`
	BytesOut  uint64            `json:"bytes_out"`
	First     time.Time         `json:"first"`
	Last      time.Time         `json:"last"`
	End       time.Time         `json:"end"`
	E2ELost   uint64            `json:"e2e_lost"`
	Codes     map[string]uint64 `json:"codes"`
	Errors    map[string]uint64 `json:"errors"`
	Latency   string            `json:"latency"`
	Intended  string            `json:"intended"`
	E2E       string            `json:"e2e"`
	Seconds   []wireSecond      `json:"seconds"`
	Groups    []wireGroup       `json:"groups,omitempty"` // json_detail.go
}

type wireSecond struct {
	Unix     int64  `json:"unix"`
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	Latency  string `json:"latency"`
	Intended string `json:"intended"`

	wireSecondDetail // json_detail.go
}

func encodeHist(h *hdr.Histogram) (string, error) {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

func decodeHist(name, s string, sig int) (*hdr.Histogram, error) {
	h := newHist(sig)
	if s == "" {
		return h, nil
	}
	d, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode %s histogram: %w", name, err)
	}
	if dropped := h.Merge(d); dropped > 0 {
		return nil, fmt.Errorf("decode %s histogram: %d values outside 1µs..60s", name, dropped)
	}
	return h, nil
}

// MarshalJSON serializes everything the Recorder holds; UnmarshalJSON (or Decode)
// reads it back, and Merge combines such copies from several workers.
func (r *Recorder) MarshalJSON() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := wire{
		Version: FormatVersion, Start: r.opts.Start, LateAfter: r.opts.LateAfter, Workers: r.workers,
		Finished: r.finished, Window: r.window, Requested: r.requested, Requests: r.requests,
		Success: r.success, Late: r.late, Clamped: r.clamped, BytesIn: r.bytesIn, BytesOut: r.bytesOut,
		First: r.first, Last: r.last, End: r.end, E2ELost: r.e2eLost,
		Codes: make(map[string]uint64, len(r.codes)), Errors: r.errors,
	}
	for c, n := range r.codes {
		w.Codes[strconv.Itoa(int(c))] = n
	}
	var err error
	if w.Latency, err = encodeHist(r.latency); err != nil {
		return nil, err
	}
	if w.Intended, err = encodeHist(r.intended); err != nil {
		return nil, err
	}
	if w.E2E, err = encodeHist(r.e2e); err != nil {
		return nil, err
	}
	for k, s := range r.seconds {
		ws := wireSecond{Unix: k, Requests: s.requests, Errors: s.errors}
		if ws.Latency, err = encodeHist(s.latency); err != nil {
			return nil, err
		}
		if ws.Intended, err = encodeHist(s.intended); err != nil {
			return nil, err
		}
		w.Seconds = append(w.Seconds, ws)
	}
	if err := r.marshalDetails(&w); err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// UnmarshalJSON replaces r's contents with a Recorder serialized by MarshalJSON.
func (r *Recorder) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode recorder: %w", err)
	}
	if w.Version != FormatVersion {
		return fmt.Errorf("decode recorder: format version %d, this shakedown reads %d: run the same shakedown version on every worker", w.Version, FormatVersion)
	}
	n := New(Options{Start: w.Start, LateAfter: w.LateAfter})
	var err error
	if n.latency, err = decodeHist("latency", w.Latency, SigFigs); err != nil {
		return err
	}
	if n.intended, err = decodeHist("intended", w.Intended, SigFigs); err != nil {
		return err
	}
	if n.e2e, err = decodeHist("e2e", w.E2E, SigFigs); err != nil {
		return err
	}
	for _, ws := range w.Seconds {
		s := &second{requests: ws.Requests, errors: ws.Errors}
		if s.latency, err = decodeHist("per-second latency", ws.Latency, SecondSigFigs); err != nil {
			return err
		}
		if s.intended, err = decodeHist("per-second intended", ws.Intended, SecondSigFigs); err != nil {
			return err
		}
		n.seconds[ws.Unix] = s
	}
	if err := n.unmarshalDetails(&w); err != nil {
		return err
	}
	for c, v := range w.Codes {
		code, err := strconv.ParseUint(c, 10, 16)
		if err != nil {
			return fmt.Errorf("decode recorder: status code %q: %w", c, err)
		}
		n.codes[uint16(code)] = v
	}
	for msg, v := range w.Errors {
		n.errors[msg] = v
	}
	n.workers, n.finished, n.window, n.requested = w.Workers, w.Finished, w.Window, w.Requested
	n.requests, n.success, n.late, n.clamped = w.Requests, w.Success, w.Late, w.Clamped
	n.bytesIn, n.bytesOut, n.first, n.last, n.end, n.e2eLost = w.BytesIn, w.BytesOut, w.First, w.Last, w.End, w.E2ELost
	if n.workers < 1 {
		n.workers = 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts, r.latency, r.intended, r.e2e, r.seconds = n.opts, n.latency, n.intended, n.e2e, n.seconds
	r.more = n.more
	r.codes, r.errors, r.workers, r.finished, r.window, r.requested = n.codes, n.errors, n.workers, n.finished, n.window, n.requested
	r.requests, r.success, r.late, r.clamped = n.requests, n.success, n.late, n.clamped
	r.bytesIn, r.bytesOut, r.first, r.last, r.end, r.e2eLost = n.bytesIn, n.bytesOut, n.first, n.last, n.end, n.e2eLost
	return nil
}

// Decode reads a Recorder serialized by MarshalJSON.
func Decode(b []byte) (*Recorder, error) {
	r := New(Options{})
	if err := r.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return r, nil
}

// Clone returns an independent copy of r (without its Schedule).
func (r *Recorder) Clone() (*Recorder, error) {
	b, err := r.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

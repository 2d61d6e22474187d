package decide

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Request outcomes, the values of the requests counter's "outcome" label.
const (
	outcomeOK           = "ok"
	outcomePreflight    = "preflight"
	outcomeBadRequest   = "bad_request"
	outcomeUnauthorized = "unauthorized"
	outcomeTooLarge     = "too_large"
	outcomeUnsupported  = "unsupported_media_type"
	outcomeMethod       = "method_not_allowed"
)

// metrics are the handler's Prometheus collectors.
type metrics struct {
	requests      *prometheus.CounterVec
	flags         *prometheus.CounterVec
	personLookups *prometheus.CounterVec
	groupLookups  *prometheus.CounterVec
	refreshes     *prometheus.CounterVec
	cacheAge      prometheus.GaugeFunc
	cacheFlags    prometheus.GaugeFunc
}

func newMetrics(h *Handler) *metrics {
	const ns, sub = "shakedown", "decide"
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "requests_total", Help: "Decide requests by outcome."}, []string{"outcome"}),
		flags: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "flags_evaluated_total", Help: "Feature flags evaluated, by result (enabled, disabled, error)."}, []string{"result"}),
		personLookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "person_lookups_total", Help: "Person property reads, by result (found, not_found, skipped, error)."}, []string{"result"}),
		groupLookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "group_lookups_total", Help: "Group property reads for group-aggregated flags, by result (found, not_found, skipped, error)."}, []string{"result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "cache_refreshes_total", Help: "Flag cache refreshes, by result (ok, error)."}, []string{"result"}),
		cacheAge: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "cache_age_seconds", Help: "Seconds since the flag cache was last loaded successfully."},
			func() float64 { return h.CacheAge().Seconds() }),
		cacheFlags: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "cache_flags", Help: "Active feature flags in the cache, all teams."},
			func() float64 { return float64(h.snap.Load().flags) }),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.flags, m.personLookups, m.groupLookups, m.refreshes, m.cacheAge, m.cacheFlags} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("decide: register metrics: %w", err)
		}
	}
	return nil
}

func (m *metrics) countFlags(ev evaluation) {
	var on, off, bad int
	for _, f := range ev.flags {
		switch {
		case f.reason == reasonUnsupported:
			bad++
		case f.enabled:
			on++
		default:
			off++
		}
	}
	m.flags.WithLabelValues("enabled").Add(float64(on))
	m.flags.WithLabelValues("disabled").Add(float64(off))
	m.flags.WithLabelValues("error").Add(float64(bad))
}

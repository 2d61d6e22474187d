package capture

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are capture's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec // route, code
	events   prometheus.Counter     // events acknowledged by Kafka
	bytes    *prometheus.CounterVec // route; bytes read from the wire
	rejects  *prometheus.CounterVec // reason
	// eventRejects counts events answered "drop" or "retry" inside a 2xx reply of
	// the v1 route (the request was not refused, those events were).
	eventRejects *prometheus.CounterVec   // reason
	produce      *prometheus.HistogramVec // outcome
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shakedown", Subsystem: "capture", Name: "http_requests_total",
			Help: "Capture HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "shakedown", Subsystem: "capture", Name: "events_accepted_total",
			Help: "Events acknowledged by Kafka and answered with success.",
		}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shakedown", Subsystem: "capture", Name: "received_bytes_total",
			Help: "Request body bytes read from the wire, before decompression.",
		}, []string{"route"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shakedown", Subsystem: "capture", Name: "rejected_requests_total",
			Help: "Requests refused, by reason (the error code of the reply).",
		}, []string{"reason"}),
		eventRejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shakedown", Subsystem: "capture", Name: "rejected_events_total",
			Help: "Events answered drop or retry inside a 2xx reply of /i/v1/analytics/events, by reason (the error code in the result's details).",
		}, []string{"reason"}),
		produce: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "shakedown", Subsystem: "capture", Name: "kafka_produce_duration_seconds",
			Help:    "Time from producing a request's events to Kafka's acknowledgement of all of them.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.events, m.bytes, m.rejects, m.eventRejects, m.produce} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering capture metrics: %w", err)
		}
	}
	return m, nil
}

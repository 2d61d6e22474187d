// Package capture is a PostHog-compatible event capture API that writes every
// accepted event to Kafka and answers success only once Kafka acknowledged it.
//
// The contract (routes, body shapes, token and distinct_id rules, replies) is the
// "PostHog capture compatibility" section of the project's design document. Body
// encodings are undone by package payload; the Kafka message is event.Message.
package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/shakedown-dev/shakedown/reference/edge"
	"github.com/shakedown-dev/shakedown/reference/event"
	"github.com/shakedown-dev/shakedown/reference/payload"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxEventBody   = 2 << 20  // 2 MB, for /e, /i/v0/e, /capture, /track, /engage
	DefaultMaxBatchBody   = 20 << 20 // 20 MB, for /batch and /i/v1/analytics/events
	DefaultProduceTimeout = 5 * time.Second
	// DefaultMaxProperties bounds the keys of any one JSON object in a request.
	DefaultMaxProperties = 10_000
	// DefaultMaxDepth bounds how deeply a request's JSON nests.
	DefaultMaxDepth = 32
	// DefaultMaxInFlightBytes bounds the request bodies being decoded at once.
	DefaultMaxInFlightBytes = 256 << 20
	// DefaultMaxClientRequests bounds one client address's requests in flight.
	DefaultMaxClientRequests = 1000
)

// Config configures a Server. Only Tokens is required.
type Config struct {
	// Topic receives the events; default event.IngestionTopic.
	Topic string
	// MaxEventBody caps event routes' bodies, before and after decompression, and
	// every single event of a batch; default 2 MB.
	MaxEventBody int64
	// MaxBatchBody caps /batch and /i/v1/analytics/events bodies, before and after
	// decompression; default 20 MB.
	MaxBatchBody int64
	// MaxProperties caps the keys of any one JSON object of a request (an event's
	// properties, $set, a nested object); past it the request gets 413 before any of
	// it is decoded into maps. Default DefaultMaxProperties.
	MaxProperties int
	// MaxDepth caps how deeply a request's JSON nests, the body itself counting as 1;
	// past it the request gets 400 before it is decoded. Default DefaultMaxDepth.
	MaxDepth int
	// MaxInFlightBytes bounds the body bytes held by requests being handled at once.
	// A request is charged the bytes actually read of its body as they arrive (not
	// its declared length, so a stalled sender holds almost nothing); a read past the
	// budget gets 503 with Retry-After instead of exhausting memory. Default 256 MB.
	MaxInFlightBytes int64
	// MaxClientBytes caps the in-flight body bytes of one client address (see
	// TrustedProxies), so one client cannot take the whole budget; default
	// max(MaxBatchBody, MaxInFlightBytes/4).
	MaxClientBytes int64
	// MaxClientRequests caps one client address's requests in flight; past it they
	// get 503 with Retry-After. Default DefaultMaxClientRequests.
	MaxClientRequests int
	// CORS is the API routes' cross-origin policy; the zero value allows any origin
	// without credentials. /metrics and the health checks never get CORS headers.
	CORS edge.CORS
	// TrustedProxies may name the client in X-Forwarded-For; default nobody, so the
	// client is the connection's peer.
	TrustedProxies edge.Proxies
	// ProduceTimeout bounds the wait for Kafka's acknowledgement; past it the
	// request gets 503 (the events may still land later: delivery is at least once).
	ProduceTimeout time.Duration
	// RatePerToken is the sustained events per second allowed per token; 0 means no limit.
	RatePerToken rate.Limit
	// RateBurst is the per-token burst in events; default max(1, RatePerToken).
	// A request with more events than the burst costs the whole burst.
	RateBurst int
	// Tokens says which project tokens may capture (see StaticTokens, AnyToken).
	Tokens TokenValidator
	// Decide serves /decide, /flags and the remote config under /array/; nil answers 404.
	Decide http.Handler
	// Dependencies are checked by /_readiness besides Kafka (e.g. the token store,
	// ClickHouse as the worker sees it); nil means Kafka only. See Dependency.
	Dependencies []Dependency
	// Registerer receives capture's metrics; default a new registry. /metrics serves
	// Gatherer, or Registerer when it is also a Gatherer (as *prometheus.Registry is).
	Registerer prometheus.Registerer
	// Gatherer is what /metrics serves; see Registerer.
	Gatherer prometheus.Gatherer
	// Logger logs refusals at debug and Kafka failures at warn; default discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Server is the capture http.Handler.
type Server struct {
	client  *kgo.Client
	cfg     Config
	metrics *metrics
	gather  http.Handler
	log     *slog.Logger

	limitersMu sync.Mutex
	limiters   map[string]*rate.Limiter

	inFlight *budget

	ready readiness
}

// New returns a Server producing with client. The client must be idempotent with
// acks=all (see ProducerOptions), or a 200 would not mean the event is durable.
func New(client *kgo.Client, cfg Config) (*Server, error) {
	if client == nil {
		return nil, errors.New("capture: nil kafka client")
	}
	if cfg.Tokens == nil {
		return nil, errors.New("capture: Config.Tokens is required (use StaticTokens, or AnyToken for a local stack)")
	}
	if cfg.Topic == "" {
		cfg.Topic = event.IngestionTopic
	}
	if cfg.MaxEventBody <= 0 {
		cfg.MaxEventBody = DefaultMaxEventBody
	}
	if cfg.MaxBatchBody <= 0 {
		cfg.MaxBatchBody = DefaultMaxBatchBody
	}
	if cfg.MaxProperties <= 0 {
		cfg.MaxProperties = DefaultMaxProperties
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.ProduceTimeout <= 0 {
		cfg.ProduceTimeout = DefaultProduceTimeout
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if cfg.MaxInFlightBytes < cfg.MaxBatchBody {
		return nil, fmt.Errorf("capture: MaxInFlightBytes (%d) must be at least MaxBatchBody (%d)", cfg.MaxInFlightBytes, cfg.MaxBatchBody)
	}
	if cfg.MaxClientBytes <= 0 {
		cfg.MaxClientBytes = max(cfg.MaxBatchBody, cfg.MaxInFlightBytes/4)
	}
	if cfg.MaxClientBytes < cfg.MaxBatchBody || cfg.MaxClientBytes > cfg.MaxInFlightBytes {
		return nil, fmt.Errorf("capture: MaxClientBytes (%d) must be between MaxBatchBody (%d) and MaxInFlightBytes (%d)", cfg.MaxClientBytes, cfg.MaxBatchBody, cfg.MaxInFlightBytes)
	}
	if cfg.MaxClientRequests <= 0 {
		cfg.MaxClientRequests = DefaultMaxClientRequests
	}
	if cfg.RatePerToken < 0 {
		return nil, fmt.Errorf("capture: RatePerToken must not be negative, got %v", cfg.RatePerToken)
	}
	if cfg.RatePerToken > 0 && cfg.RateBurst <= 0 {
		cfg.RateBurst = max(1, int(cfg.RatePerToken))
	}
	if cfg.Registerer == nil {
		reg := prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = reg, reg
	}
	if cfg.Gatherer == nil {
		g, ok := cfg.Registerer.(prometheus.Gatherer)
		if !ok {
			return nil, errors.New("capture: Config.Gatherer is required when Registerer is not a Gatherer")
		}
		cfg.Gatherer = g
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Server{
		client:   client,
		cfg:      cfg,
		metrics:  m,
		gather:   promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}),
		log:      cfg.Logger,
		limiters: map[string]*rate.Limiter{},
		inFlight: newBudget(cfg.MaxInFlightBytes, cfg.MaxClientBytes, cfg.MaxClientRequests),
	}, nil
}

// routes maps each path (without trailing slash) to its metrics label and kind.
type routeKind uint8

const (
	routeUnknown routeKind = iota
	routeEvents
	routeBatch
	routeV1 // /i/v1/analytics/events, see serveV1
	routeDecide
	routeReadiness
	routeLiveness
	routeMetrics
)

var routes = map[string]routeKind{
	"/e": routeEvents, "/i/v0/e": routeEvents, "/capture": routeEvents,
	"/track": routeEvents, "/engage": routeEvents, "/batch": routeBatch, v1Path: routeV1,
	"/decide": routeDecide, "/flags": routeDecide, "/_readiness": routeReadiness,
	"/_liveness": routeLiveness, "/metrics": routeMetrics,
}

func lookupRoute(path string) (string, routeKind) {
	if p := strings.TrimSuffix(path, "/"); p != "" {
		path = p
	}
	if k, ok := routes[path]; ok {
		return path, k
	}
	if strings.HasPrefix(path, "/array/") { // remote config, served by decide
		return "/array", routeDecide
	}
	return "other", routeUnknown
}

// ServeHTTP routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	label, kind := lookupRoute(r.URL.Path)
	sw := &statusWriter{ResponseWriter: w}
	defer func() { s.metrics.requests.WithLabelValues(label, strconv.Itoa(sw.code())).Inc() }()

	switch kind {
	case routeMetrics, routeReadiness, routeLiveness: // not for browsers
	default:
		s.cfg.CORS.Apply(sw, r, "Content-Type, Content-Encoding, X-Requested-With")
	}
	if r.Method == http.MethodOptions && kind != routeUnknown {
		sw.WriteHeader(http.StatusNoContent)
		return
	}
	switch kind {
	case routeEvents, routeBatch:
		s.serveCapture(sw, r, label, kind)
	case routeV1:
		s.serveV1(sw, r, label)
	case routeDecide:
		if s.cfg.Decide == nil {
			s.fail(sw, r, &apiError{Status: http.StatusNotFound, Type: typeNotFound, Code: "decide_disabled",
				Detail: "this capture server serves no feature flags or remote config (/decide, /flags, /array/); send those requests to the decide service"})
			return
		}
		s.cfg.Decide.ServeHTTP(sw, r)
	case routeLiveness:
		writeJSON(sw, http.StatusOK, map[string]string{"status": "ok"})
	case routeReadiness:
		s.serveReadiness(sw, r)
	case routeMetrics:
		s.gather.ServeHTTP(sw, r)
	default:
		s.fail(sw, r, &apiError{Status: http.StatusNotFound, Type: typeNotFound, Code: "unknown_route",
			Detail: fmt.Sprintf("no route %s %s; %s", r.Method, truncateChars(r.URL.Path, 200), s.routeHelp())})
	}
}

// routeHelp names the routes this server answers, for the 404 of any other path.
func (s *Server) routeHelp() string {
	flags := "feature flags and remote config at /flags, /decide and /array/<token>/config"
	if s.cfg.Decide == nil {
		flags = "feature flags and remote config (/flags, /decide, /array/) are not served here: ask the decide service"
	}
	return "this capture server takes events at /e, /i/v0/e, /batch, /capture, /track, /engage and " +
		v1Path + "; " + flags + "; health at /_liveness and /_readiness, metrics at /metrics"
}

// serveCapture handles the event routes.
func (s *Server) serveCapture(w http.ResponseWriter, r *http.Request, label string, kind routeKind) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		s.fail(w, r, &apiError{Status: http.StatusMethodNotAllowed, Type: typeValidation, Code: "method_not_allowed",
			Detail: r.Method + " is not supported; POST the events (or GET with ?data=)"})
		return
	}
	now := s.cfg.Now()
	limit := s.cfg.MaxEventBody
	if kind == routeBatch {
		limit = s.cfg.MaxBatchBody
	}
	charged, release, ok := s.admit(w, r, label, limit)
	if !ok {
		return
	}
	defer release()
	msgs, aerr := s.messages(r, charged, limit, now)
	if aerr != nil {
		s.fail(w, r, aerr)
		return
	}
	if aerr := s.allow(msgs[0].Token, len(msgs), now); aerr != nil {
		s.fail(w, r, aerr)
		return
	}
	if aerr := s.produce(r.Context(), msgs); aerr != nil {
		s.fail(w, r, aerr)
		return
	}
	s.metrics.events.Add(float64(len(msgs)))
	if r.URL.Query().Get("beacon") == "1" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"status": 1})
}

// maxPrealloc is the largest declared body length a read buffer is sized by up front.
const maxPrealloc = 64 << 10

// admit takes r in as one of its client's requests in flight, then charges the
// in-flight byte budget with the bytes of its body as they are read (see budget),
// caps the body at limit and counts it. When the client already has too many
// requests in flight it answers 503 and returns false; otherwise the caller calls
// release once done with the body.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, label string, limit int64) (body *chargedBody, release func(), ok bool) {
	client := fairnessKey(s.clientIP(r))
	if !s.inFlight.enter(client) {
		s.fail(w, r, unavailable("overloaded", "this client has %d requests in flight, the most capture takes from one address; retry shortly", s.cfg.MaxClientRequests))
		return nil, nil, false
	}
	body = &chargedBody{budget: s.inFlight, client: client}
	// A declared length is a claim, not bytes, and payload.ReadBody sizes its buffer
	// by it: 50 stalled senders declaring 20 MB would make capture allocate 1 GB it
	// never receives (and stall every request in GC). Past maxPrealloc the buffer
	// grows as bytes arrive instead; lengths over limit stay, refused before reading.
	if r.ContentLength > maxPrealloc && r.ContentLength <= limit {
		r.ContentLength = -1
	}
	if r.Body != nil {
		body.r = http.MaxBytesReader(w, r.Body, limit+1)
		r.Body = body
	}
	return body, func() {
		s.metrics.bytes.WithLabelValues(label).Add(float64(body.n.Load()))
		s.inFlight.leave(client, body.charged())
	}, true
}

// readBody reads r's body and undoes its encodings (package payload), giving JSON
// of at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, *apiError) {
	body, err := payload.ReadBody(r, limit)
	if err != nil {
		var slow *edge.BodyTimeoutError
		if errors.As(err, &slow) {
			return nil, &apiError{Status: http.StatusRequestTimeout, Type: typeValidation, Code: "body_timeout",
				Detail: fmt.Sprintf("the body stopped arriving or came too slowly (%d bytes read): it must not stall for %s and must average at least %d bytes/s; send it faster or in smaller batches",
					slow.Read, slow.Timeout, slow.Rate)}
		}
		if errors.Is(err, errBudgetSpent) {
			return nil, unavailable("overloaded", "capture is holding as many body bytes as it may at once (or as this client may); retry shortly")
		}
		var pe *payload.Error
		if errors.As(err, &pe) {
			return nil, &apiError{Status: pe.Kind.HTTPStatus(), Type: typeValidation, Code: pe.Kind.String(), Detail: pe.Detail}
		}
		return nil, badRequest("unreadable_body", "the body could not be read: %v", err)
	}
	return body, nil
}

// messages reads, decodes and validates the request into Kafka messages.
func (s *Server) messages(r *http.Request, charged *chargedBody, limit int64, now time.Time) ([]event.Message, *apiError) {
	body, aerr := readBody(r, limit)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := charged.chargeDecoded(len(body)); aerr != nil {
		return nil, aerr
	}
	req, aerr := parseRequest(body, s.limits())
	if aerr != nil {
		return nil, aerr
	}
	token, aerr := s.token(r.Context(), req)
	if aerr != nil {
		return nil, aerr
	}
	sentAt := req.sentAt
	if ms, err := strconv.ParseInt(r.URL.Query().Get("_"), 10, 64); sentAt == "" && err == nil && ms > 0 {
		sentAt = event.FormatNow(time.UnixMilli(ms))
	}
	ip, nowText := s.clientIP(r), event.FormatNow(now)
	msgs := make([]event.Message, len(req.events))
	for i := range req.events {
		if _, aerr := req.eventName(i); aerr != nil {
			return nil, aerr
		}
		distinctID, aerr := req.distinctID(i)
		if aerr != nil {
			return nil, aerr
		}
		id, err := req.uuidOf(i)
		if err != nil {
			return nil, unavailable("uuid_failed", "could not generate an event uuid: %v; retry", err)
		}
		msgs[i] = event.Message{
			UUID: id, DistinctID: distinctID, IP: ip, Data: string(req.events[i].raw),
			Now: nowText, SentAt: sentAt, Token: token,
		}
	}
	return msgs, nil
}

// token resolves and checks the request's one token.
func (s *Server) token(ctx context.Context, req *request) (string, *apiError) {
	switch len(req.tokens) {
	case 0:
		return "", unauthorized("missing_token", "no project token; set api_key in the batch, or properties.token (or token) in each event")
	case 1:
	default:
		return "", unauthorized("mixed_tokens", "the request carries %d different tokens; send each project's events in its own request", len(req.tokens))
	}
	token := req.tokens[0]
	if aerr := s.checkToken(ctx, token); aerr != nil {
		return "", aerr
	}
	return token, nil
}

// checkToken refuses personal API keys, malformed tokens and tokens Config.Tokens
// does not accept.
func (s *Server) checkToken(ctx context.Context, token string) *apiError {
	if isPersonalKey(token) {
		return unauthorized("personal_api_key", "phx_ keys are personal API keys and must not be used to capture; use the project API token (phc_...)")
	}
	if !wellFormedToken(token) {
		return unauthorized("invalid_token", "the project token contains control characters or is over 200 bytes; copy the project API token from the project settings")
	}
	ok, err := s.cfg.Tokens.Valid(ctx, token)
	if err != nil {
		s.log.WarnContext(ctx, "token validation failed", "err", err)
		return unavailable("token_check_failed", "the project token could not be checked right now; retry later")
	}
	if !ok {
		return unauthorized("invalid_token", "the project token is not known; copy the project API token from the project settings")
	}
	return nil
}

// maxLimiters bounds the per-token limiter map.
const maxLimiters = 100_000

// allow charges n events to token's rate limiter.
func (s *Server) allow(token string, n int, now time.Time) *apiError {
	if s.cfg.RatePerToken == 0 {
		return nil
	}
	s.limitersMu.Lock()
	l, ok := s.limiters[token]
	if !ok && len(s.limiters) >= maxLimiters {
		s.limiters = map[string]*rate.Limiter{} // bound memory; forgetting only refills buckets
	}
	if !ok {
		l = rate.NewLimiter(s.cfg.RatePerToken, s.cfg.RateBurst)
		s.limiters[token] = l
	}
	s.limitersMu.Unlock()
	if l.AllowN(now, min(n, s.cfg.RateBurst)) {
		return nil
	}
	return &apiError{Status: http.StatusTooManyRequests, Type: typeRateLimit, Code: "rate_limited",
		Detail: fmt.Sprintf("this project sent more than %v events/s (burst %d); slow down and retry later", s.cfg.RatePerToken, s.cfg.RateBurst)}
}

// produce writes msgs and waits until Kafka acknowledged all of them, or
// ProduceTimeout passed: nil, else 413 when Kafka refused only records' sizes
// (retrying cannot help) and 503 otherwise.
func (s *Server) produce(ctx context.Context, msgs []event.Message) *apiError {
	failed, tooLarge := 0, 0
	for _, err := range s.produceEach(ctx, msgs) {
		if err != nil {
			failed++
			if errors.Is(err, kerr.MessageTooLarge) {
				tooLarge++
			}
		}
	}
	switch {
	case failed == 0:
		return nil
	case tooLarge == failed:
		return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeValidation, Code: "event_too_large",
			Detail: "an event is larger than Kafka accepts; drop large properties"}
	}
	return unavailable("kafka_unavailable",
		"Kafka did not acknowledge the events within %s; nothing is confirmed stored, retry the request later", s.cfg.ProduceTimeout)
}

// produceEach writes msgs and waits until Kafka answered for every one of them, or
// ProduceTimeout passed. errs[i] is nil exactly when Kafka acknowledged msgs[i]; a
// record still unanswered at the deadline has the context's error (it may land
// later: delivery is at least once).
func (s *Server) produceEach(ctx context.Context, msgs []event.Message) (errs []error) {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	defer cancel()
	start := time.Now()

	var (
		mu       sync.Mutex
		results  = make([]error, len(msgs))
		answered = make([]bool, len(msgs))
		left     = len(msgs)
		done     = make(chan struct{})
	)
	finish := func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		results[i], answered[i] = err, true
		if left--; left == 0 {
			close(done)
		}
	}
	for i := range msgs {
		value, err := msgs[i].Encode()
		if err != nil {
			finish(i, fmt.Errorf("encoding event %d: %w", i, err))
			continue
		}
		s.client.Produce(ctx, &kgo.Record{Topic: s.cfg.Topic, Key: msgs[i].Key(), Value: value},
			func(_ *kgo.Record, err error) { finish(i, err) })
	}
	select {
	case <-done:
	case <-ctx.Done():
	}

	// Copy under the lock: promises of unanswered records still run after we return.
	mu.Lock()
	errs = make([]error, len(msgs))
	var firstErr error
	failed := 0
	for i := range msgs {
		errs[i] = results[i]
		if !answered[i] {
			errs[i] = fmt.Errorf("unacknowledged after %s: %w", s.cfg.ProduceTimeout, ctx.Err())
		}
		if errs[i] != nil {
			failed++
			if firstErr == nil {
				firstErr = errs[i]
			}
		}
	}
	mu.Unlock()

	outcome := "ok"
	if failed > 0 {
		outcome = "error"
		s.log.WarnContext(ctx, "kafka produce failed", "topic", s.cfg.Topic, "events", len(msgs), "failed", failed, "err", firstErr)
	}
	s.metrics.produce.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return errs
}

// fail writes e and counts it as a reject.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	s.metrics.rejects.WithLabelValues(e.Code).Inc()
	s.log.DebugContext(r.Context(), "capture request refused", "path", r.URL.Path, "status", e.Status, "code", e.Code, "detail", e.Detail)
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, e)
}

// clientIP is r's client address: its peer, or the X-Forwarded-For client when the
// peer is one of Config.TrustedProxies.
func (s *Server) clientIP(r *http.Request) string { return s.cfg.TrustedProxies.ClientIP(r) }

// statusWriter remembers the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wellFormedToken rejects tokens no project can have before they reach the token store
// (where, for instance, a NUL byte would fail the database lookup and turn a client
// error into a 503 that the client retries forever).
func wellFormedToken(t string) bool {
	if len(t) > 200 {
		return false
	}
	for _, r := range t {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

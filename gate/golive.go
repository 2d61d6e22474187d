package gate

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/shakedown-dev/shakedown/result"
)

// golive checks the production checklist: TLS, rate limiting, CORS,
// retention, backups.
func (r *runner) golive(ctx context.Context) bool {
	st := r.cfg.Stages.GoLive
	ok := true
	add := func(name string, f func() result.Check) {
		r.step(StageGoLive, name)
		c := r.check(StageGoLive, "golive", name, f)
		ok = ok && !c.Status.Failed()
	}
	needsURL := func(f func() result.Check) func() result.Check {
		if r.t.CaptureURL == "" {
			return func() result.Check {
				return result.Check{Status: result.Skip, Summary: "no deployment URL to check (--target URL --token T, or --state DIR)"}
			}
		}
		return f
	}
	add("TLS certificate", needsURL(func() result.Check { return r.tlsCertificate(ctx, st.TLSMinDays) }))
	add("rate limit", needsURL(func() result.Check { return r.rateLimit(ctx, st.RateLimitBurst) }))
	add("CORS policy", needsURL(func() result.Check { return r.corsPolicy(ctx, st.CORSAllowed, st.CORSDenied) }))
	add("events retention", needsURL(func() result.Check { return r.retention(ctx, st.Retention) }))
	add("backups", func() result.Check { return r.backups(ctx, st.RequireBackups == nil || *st.RequireBackups) })
	return ok
}

// tlsCertificate verifies an https target's certificate (chain and name, as
// a browser would) and its remaining validity.
func (r *runner) tlsCertificate(ctx context.Context, minDays int) result.Check {
	u, err := url.Parse(r.t.CaptureURL)
	if err != nil {
		return result.Check{Status: result.Error, Summary: err.Error()}
	}
	if u.Scheme != "https" {
		return result.Check{Status: result.Skip, Summary: fmt.Sprintf("%s target: no certificate to check (serve production capture over https)", u.Scheme)}
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: httpTimeout}, Config: &tls.Config{ServerName: u.Hostname(), RootCAs: r.opts.TLSRoots}}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return result.Check{Status: result.Fail, Summary: fmt.Sprintf("TLS handshake with %s: %v", host, err),
			Evidence: []string{"browsers and SDKs refuse this endpoint; serve a certificate for " + u.Hostname() + " from a trusted CA"}}
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	leaf := certs[0]
	left := time.Until(leaf.NotAfter)
	days := left.Hours() / 24
	ms := []result.Measurement{{Name: "days of validity left", Value: days, Unit: "days", Limit: fmt.Sprintf(">= %d", minDays), Pass: days >= float64(minDays)}}
	evidence := []string{fmt.Sprintf("subject %s, issuer %s, valid until %s", leaf.Subject, leaf.Issuer, leaf.NotAfter.UTC().Format(time.RFC3339))}
	if days < float64(minDays) {
		return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence,
			Summary: fmt.Sprintf("the certificate of %s expires in %.1f days, within the %d days required: renew it", u.Hostname(), days, minDays)}
	}
	return result.Check{Status: result.Pass, Measurements: ms, Evidence: evidence,
		Summary: fmt.Sprintf("verifies for %s; %.0f days of validity left", u.Hostname(), days)}
}

// rateLimit sends burst events at once, in batches of 50 from 8 senders,
// and requires at least one 429: capture's per-project limit is on and
// below the burst.
func (r *runner) rateLimit(ctx context.Context, burst int) result.Check {
	if burst <= 0 {
		return result.Check{Status: result.Skip, Summary: "no burst declared: set stages.golive.rate_limit_burst above the project's limit to check that capture answers 429"}
	}
	const perRequest = 50
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		retry string
		errs  []string
		wg    sync.WaitGroup
	)
	batches := make(chan int, (burst+perRequest-1)/perRequest)
	for i := 0; i < burst; i += perRequest {
		batches <- min(perRequest, burst-i)
	}
	close(batches)
	client := &http.Client{Timeout: httpTimeout}
	base := strings.TrimRight(r.t.CaptureURL, "/")
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range batches {
				events := make([]map[string]any, n)
				for i := range events {
					events[i] = map[string]any{"event": "shakedown gate burst", "distinct_id": "shakedown-gate-burst"}
				}
				body, _ := json.Marshal(map[string]any{"api_key": r.t.Token, "batch": events})
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/batch/", bytes.NewReader(body))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				mu.Lock()
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					codes[resp.StatusCode]++
					if resp.StatusCode == http.StatusTooManyRequests && retry == "" {
						retry = resp.Header.Get("Retry-After")
					}
					resp.Body.Close()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	evidence := []string{"statuses " + statuses(codes)}
	if len(errs) > 0 {
		evidence = append(evidence, errs[0])
	}
	ms := []result.Measurement{{Name: "429 answers", Value: float64(codes[http.StatusTooManyRequests]), Limit: "> 0", Pass: codes[http.StatusTooManyRequests] > 0}}
	if codes[http.StatusTooManyRequests] == 0 {
		return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence,
			Summary: fmt.Sprintf("%d events sent at once drew no 429: capture has no per-project rate limit below that (one project could flood ingestion)", burst)}
	}
	if retry == "" {
		return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence,
			Summary: "capture answered 429 without Retry-After: the SDKs back off by it"}
	}
	return result.Check{Status: result.Pass, Measurements: ms, Evidence: evidence,
		Summary: fmt.Sprintf("%d events sent at once drew 429 with Retry-After %s", burst, retry)}
}

// corsPolicy sends posthog-js's preflight from each declared origin.
func (r *runner) corsPolicy(ctx context.Context, allowed, denied []string) result.Check {
	base := strings.TrimRight(r.t.CaptureURL, "/")
	var evidence, wrong []string
	for _, want := range []struct {
		origins []string
		allowed bool
	}{{allowed, true}, {denied, false}} {
		for _, origin := range want.origins {
			req, err := http.NewRequestWithContext(ctx, http.MethodOptions, base+"/e/", nil)
			if err != nil {
				return result.Check{Status: result.Error, Summary: err.Error()}
			}
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
			resp, err := (&http.Client{Timeout: httpTimeout}).Do(req)
			if err != nil {
				return result.Check{Status: result.Fail, Summary: fmt.Sprintf("preflight from %s: %v", origin, err)}
			}
			resp.Body.Close()
			acao := resp.Header.Get("Access-Control-Allow-Origin")
			got := resp.StatusCode < 300 && (acao == "*" || acao == origin)
			evidence = append(evidence, fmt.Sprintf("OPTIONS /e/ from %s: %d, Access-Control-Allow-Origin %q", origin, resp.StatusCode, acao))
			if got != want.allowed {
				verdict := "refused, but must be allowed"
				if got {
					verdict = "allowed, but must be refused"
				}
				wrong = append(wrong, origin+" "+verdict)
			}
		}
	}
	if len(wrong) > 0 {
		return result.Check{Status: result.Fail, Evidence: evidence, Summary: "CORS policy differs from the declared one: " + strings.Join(wrong, "; ")}
	}
	return result.Check{Status: result.Pass, Evidence: evidence,
		Summary: fmt.Sprintf("preflights answered as declared (%d allowed, %d refused origins)", len(allowed), len(denied))}
}

// ttlClause finds the TTL of a table's engine_full in system.tables.
var ttlClause = regexp.MustCompile(`\bTTL\s+(.+?)(?:\s+SETTINGS\b|$)`)

// retention compares the events table's TTL with the declared one.
func (r *runner) retention(ctx context.Context, declared string) result.Check {
	if declared == "" {
		return result.Check{Status: result.Skip, Summary: `no retention declared: set stages.golive.retention to the events table's TTL (or "none")`}
	}
	conn, err := r.clickhouse(ctx)
	if err != nil {
		return result.Check{Status: result.Error, Summary: err.Error()}
	}
	var engine string
	row := conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = ? AND name = 'events'", r.t.Database)
	if err := row.Scan(&engine); errors.Is(err, sql.ErrNoRows) {
		return result.Check{Status: result.Error, Summary: fmt.Sprintf("no events table in database %s: check --clickhouse-database", r.t.Database)}
	} else if err != nil {
		return result.Check{Status: result.Error, Summary: fmt.Sprintf("read the events table's definition: %v", err)}
	}
	ttl := ""
	if m := ttlClause.FindStringSubmatch(engine); m != nil {
		ttl = strings.TrimSpace(m[1])
	}
	evidence := []string{"engine " + engine}
	switch {
	case declared == "none" && ttl == "":
		return result.Check{Status: result.Pass, Evidence: evidence, Summary: "no TTL, as declared: events are kept until deleted"}
	case declared == "none":
		return result.Check{Status: result.Fail, Evidence: evidence, Summary: "the events table has TTL " + ttl + ", declared none"}
	case ttl == "":
		return result.Check{Status: result.Fail, Evidence: evidence, Summary: "the events table has no TTL, declared " + declared + ": events are kept forever"}
	case !strings.Contains(squash(ttl), squash(declared)):
		return result.Check{Status: result.Fail, Evidence: evidence, Summary: "the events table's TTL is " + ttl + ", declared " + declared}
	}
	return result.Check{Status: result.Pass, Evidence: evidence, Summary: "TTL " + ttl + ", as declared"}
}

func squash(s string) string { return strings.Join(strings.Fields(s), "") }

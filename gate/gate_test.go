package gate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	clusterlocal "github.com/shakedown-dev/shakedown/internal/cluster/local"
	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/result"
)

// quick is a gate sized for tests: a few hundred events, a short load.
func quick() Config {
	c := DefaultConfig()
	c.Stages.E2E.Events, c.Stages.E2E.People, c.Stages.E2E.Wait = 300, 30, Duration(time.Minute)
	c.Stages.Load.Rate, c.Stages.Load.Duration = 50, Duration(2*time.Second)
	c.Stages.Faults.Faults, c.Stages.Faults.Events, c.Stages.Faults.Stream = []string{"clickhouse-kill", "worker-restart"}, 600, Duration(3*time.Second)
	c.Stages.E2E.SDKs = []string{} // the healthy case drives posthog-go
	return c
}

// TestGateOnTheLocalStack runs the gate on a real local stack: it passes when
// the stack is healthy, and fails naming the right stage when a threshold is
// too tight, when the event store is down, and when the worker stores
// nothing.
func TestGateOnTheLocalStack(t *testing.T) {
	ctx := context.Background()
	s, err := local.Up(ctx, local.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("stop stack: %v", err)
		}
	})
	e := s.Endpoints
	target := Target{CaptureURL: e.CaptureURL, Token: e.Token, ClickHouse: e.ClickHouseNative, User: e.ClickHouseUser, Password: e.ClickHousePassword}
	run := func(t *testing.T, cfg Config, tg Target) *result.Report {
		t.Helper()
		var steps []string
		rep, err := Run(ctx, Options{Target: tg, Config: cfg, Seed: uint64(time.Now().UnixNano()), Progress: func(stage, step string) { steps = append(steps, stage) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) == 0 {
			t.Error("no progress reported")
		}
		return rep
	}

	t.Run("healthy stack passes", func(t *testing.T) {
		cfg := quick()
		cfg.Stages.E2E.SDKs = []string{"go"}
		tg := target
		tg.Postgres = e.PostgresDSN
		rep := run(t, cfg, tg)
		if !rep.Passed() {
			var b strings.Builder
			rep.WriteText(&b)
			t.Fatalf("verdict %s:\n%s", rep.Verdict, b.String())
		}
		var names []string
		for _, st := range rep.Stages {
			names = append(names, st.Name)
		}
		if strings.Join(names, ",") != "chart,install,smoke,e2e,load,faults,go-live" || rep.Stages[0].Status != result.Skip || rep.Stages[1].Status != result.Skip || rep.Stages[5].Status != result.Skip {
			t.Errorf("stages %v", names)
		}
		// Against the stack's defaults: any origin may send events (PostHog's
		// policy); an http target has no certificate; nothing else is declared.
		for name, want := range map[string]result.Status{"CORS policy": result.Pass, "TLS certificate": result.Skip,
			"rate limit": result.Skip, "events retention": result.Skip, "backups": result.Skip} {
			if c := findCheck(rep, StageGoLive, name); c.Status != want {
				t.Errorf("go-live %s: %s (%s), want %s", name, c.Status, c.Summary, want)
			}
		}
		var sdkCheck *result.Check
		for i := range rep.Checks {
			if strings.HasPrefix(rep.Checks[i].Name, "SDK posthog-go") {
				sdkCheck = &rep.Checks[i]
			}
		}
		if sdkCheck == nil || sdkCheck.Status != result.Pass || !strings.Contains(sdkCheck.Summary, "0 failed, 0 not run") {
			t.Errorf("posthog-go conformance with flags: %+v", sdkCheck)
		}
		c := findCheck(rep, StageE2E, "events sent == events stored")
		if m, ok := c.Measurement("acknowledged"); !ok || m.Value != 300 {
			t.Errorf("e2e measurements %+v", c.Measurements)
		}
	})

	t.Run("too tight a threshold fails the load stage", func(t *testing.T) {
		cfg := quick()
		cfg.Stages.Load.Thresholds = []string{"p(95)<1us", "errors<1%"}
		rep := run(t, cfg, target)
		f := rep.FirstFailure
		if rep.Verdict != result.Fail || f == nil || f.Stage != StageLoad || f.Name != "threshold p(95)<1us" {
			t.Fatalf("verdict %s, first failure %+v", rep.Verdict, f)
		}
		if c := findCheck(rep, StageLoad, "threshold errors<1%"); c.Status != result.Pass {
			t.Errorf("the other threshold: %+v", c)
		}
	})

	t.Run("50ms injected by toxiproxy is a regression against the baseline, no injection is not", func(t *testing.T) {
		capture, err := url.Parse(e.CaptureURL)
		if err != nil {
			t.Fatal(err)
		}
		srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
		srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
		proxy := toxiproxy.NewProxy(srv, "capture", "127.0.0.1:0", capture.Host)
		if err := proxy.Start(); err != nil {
			t.Fatal(err)
		}
		defer proxy.Stop()
		tg := target
		tg.CaptureURL = "http://" + proxy.Listen
		cfg := quick()
		cfg.Stages.E2E.Switch, cfg.Stages.Faults.Switch = off(), off()
		cfg.Stages.Load.Rate, cfg.Stages.Load.Duration = 100, Duration(3*time.Second)
		base := run(t, cfg, tg)
		if !base.Passed() || len(findCheck(base, StageLoad, "100/s for 3s").Samples[sampleIntended]) < 250 {
			t.Fatalf("baseline run: verdict %s, load check %+v", base.Verdict, findCheck(base, StageLoad, "100/s for 3s").Measurements)
		}
		withBaseline := func(t *testing.T) *result.Check {
			t.Helper()
			rep, err := Run(ctx, Options{Target: tg, Config: cfg, Baseline: base})
			if err != nil {
				t.Fatal(err)
			}
			return findCheck(rep, StageLoad, "no regression against the baseline")
		}
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(`{"name":"lag","type":"latency","stream":"downstream","attributes":{"latency":50}}`)); err != nil {
			t.Fatal(err)
		}
		if c := withBaseline(t); c.Status != result.Fail || !strings.Contains(c.Summary, "p(95) regressed") {
			t.Errorf("with 50ms injected: %s: %s", c.Status, c.Summary)
		}
		if err := proxy.Toxics.RemoveToxic(ctx, "lag"); err != nil {
			t.Fatal(err)
		}
		if c := withBaseline(t); c.Status != result.Pass {
			t.Errorf("without injection: %s: %s %+v", c.Status, c.Summary, c.Measurements)
		}
		// A run at another rate does not compare with the baseline.
		cfg.Stages.Load.Rate = 60
		if c := withBaseline(t); c.Status != result.Error || !strings.Contains(c.Summary, "target rate") {
			t.Errorf("another rate: %s: %s", c.Status, c.Summary)
		}
	})

	t.Run("faults drilled through the control endpoint", func(t *testing.T) {
		ctl := httptest.NewServer(s.ControlHandler("gate-test"))
		defer ctl.Close()
		tg := target
		tg.ControlURL, tg.ControlToken = ctl.URL, "gate-test"
		cfg := quick()
		cfg.Stages.E2E.Switch, cfg.Stages.Load.Switch = off(), off()
		rep := run(t, cfg, tg)
		if !rep.Passed() {
			var b strings.Builder
			rep.WriteText(&b)
			t.Fatalf("verdict %s:\n%s", rep.Verdict, b.String())
		}
		for _, name := range cfg.Stages.Faults.Faults {
			c := findCheck(rep, StageFaults, name)
			rpo, _ := c.Measurement("RPO (acknowledged events lost)")
			rto, _ := c.Measurement("RTO")
			if c.Status != result.Pass || rpo.Value != 0 || rto.Value <= 0 || rto.Value > 30 {
				t.Errorf("%s: %+v", name, c)
			}
		}
		tg.ControlToken = "wrong"
		cfg.Stages.Faults.Faults = []string{"worker-restart"}
		rep = run(t, cfg, tg)
		if f := rep.FirstFailure; f == nil || f.Stage != StageFaults || f.Status != result.Error || !strings.Contains(f.Summary, "401") {
			t.Errorf("a refused control token: %+v", f)
		}
	})

	t.Run("go-live holds the stack to what the gate file declares", func(t *testing.T) {
		cfg := quick()
		cfg.Stages.E2E.Switch, cfg.Stages.Load.Switch, cfg.Stages.Faults.Switch = off(), off(), off()
		cfg.Stages.GoLive.RateLimitBurst = 2000
		cfg.Stages.GoLive.CORSDenied = []string{"https://evil.example"}
		cfg.Stages.GoLive.Retention = "none"
		rep := run(t, cfg, target)
		for name, want := range map[string]result.Status{
			"rate limit":       result.Fail, // this stack has no per-project limit
			"CORS policy":      result.Fail, // it answers every origin
			"events retention": result.Pass, // and keeps events without a TTL
		} {
			if c := findCheck(rep, StageGoLive, name); c.Status != want {
				t.Errorf("%s: %s (%s), want %s", name, c.Status, c.Summary, want)
			}
		}
		if c := findCheck(rep, StageGoLive, "CORS policy"); !strings.Contains(c.Summary, "https://evil.example allowed, but must be refused") {
			t.Errorf("CORS summary: %s", c.Summary)
		}
		cfg.Stages.GoLive.Retention = "toIntervalDay(90)"
		if c := findCheck(run(t, cfg, target), StageGoLive, "events retention"); c.Status != result.Fail || !strings.Contains(c.Summary, "no TTL") {
			t.Errorf("declared 90 days: %+v", c)
		}
	})

	t.Run("event store down fails the smoke stage and sends nothing", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := l.Addr().String()
		l.Close()
		tg := target
		tg.ClickHouse = dead
		rep := run(t, quick(), tg)
		if f := rep.FirstFailure; f == nil || f.Stage != StageSmoke || f.Name != "event store answers" || !strings.Contains(f.Summary, dead) {
			t.Fatalf("first failure %+v", f)
		}
		for _, st := range rep.Stages[3:] {
			if st.Status != result.Skip {
				t.Errorf("stage %s ran with the store down: %s", st.Name, st.Status)
			}
		}
	})

	t.Run("a worker that stores nothing fails the e2e stage", func(t *testing.T) {
		if err := s.StopWorker(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := s.StartWorker(); err != nil {
				t.Fatal(err)
			}
		}()
		cfg := quick()
		cfg.Stages.E2E.Wait = Duration(3 * time.Second)
		cfg.Stages.Load.Switch = off()
		rep := run(t, cfg, target)
		f := rep.FirstFailure
		if f == nil || f.Stage != StageE2E || f.Name != "events sent == events stored" || !strings.Contains(f.Summary, "not stored") {
			t.Fatalf("first failure %+v", f)
		}
		if lost, _ := f.Measurement("lost"); lost.Value == 0 || lost.Pass {
			t.Errorf("lost %+v", lost)
		}
		if c := findCheck(rep, StageLoad, StageLoad); c.Status != result.Skip || !strings.Contains(c.Summary, "enabled: false") {
			t.Errorf("the turned-off load stage: %+v", c)
		}
	})
}

func off() Switch {
	f := false
	return Switch{Enabled: &f}
}

func findCheck(r *result.Report, stage, name string) *result.Check {
	for i := range r.Checks {
		if r.Checks[i].Stage == stage && r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return &result.Check{Status: "missing"}
}

func TestConfigFilesAndDefaults(t *testing.T) {
	cfg, err := ParseConfig("gate.default.yaml", DefaultFile())
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if cfg.Stages.Load.Rate != d.Stages.Load.Rate || cfg.Stages.E2E.Events != d.Stages.E2E.Events ||
		strings.Join(cfg.Stages.Load.Thresholds, ",") != strings.Join(d.Stages.Load.Thresholds, ",") ||
		strings.Join(cfg.Stages.Smoke.Metrics, ",") != strings.Join(d.Stages.Smoke.Metrics, ",") || cfg.Stages.E2E.Wait != d.Stages.E2E.Wait {
		t.Errorf("the file gate init writes differs from DefaultConfig:\n%+v\n%+v", cfg, d)
	}
	partial, err := ParseConfig("p", []byte("version: 1\nstages:\n  load:\n    rate: 7\n  e2e:\n    enabled: false\n"))
	if err != nil || partial.Stages.Load.Rate != 7 || partial.Stages.Load.Duration != d.Stages.Load.Duration || partial.Stages.E2E.On() || !partial.Stages.Smoke.On() {
		t.Errorf("partial file: %+v, %v", partial, err)
	}
	for name, body := range map[string]string{
		"no version":      "stages: {}\n",
		"newer version":   "version: 2\n",
		"misspelt stage":  "version: 1\nstages:\n  lod: {}\n",
		"misspelt field":  "version: 1\nstages:\n  load:\n    rtae: 5\n",
		"bad threshold":   "version: 1\nstages:\n  load:\n    thresholds: ['p(95)<<1']\n",
		"bad duration":    "version: 1\nstages:\n  load:\n    duration: soon\n",
		"negative events": "version: 1\nstages:\n  e2e:\n    events: -3\n",
		"bad margin":      "version: 1\nstages:\n  load:\n    margin: lots\n",
	} {
		if _, err := ParseConfig(name, []byte(body)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := Run(context.Background(), Options{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Run without a target: %v", err)
	}
}

// TestGateChartStage runs the chart stage alone (no deployment): the
// repository's chart passes lint and its helm-unittest suites; a chart whose
// Deployment selector misses its own pods fails the chart stage, with the
// finding as evidence.
func TestGateChartStage(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Stages.Chart.Kubernetes = []string{"1.34.4"}
	rep, err := Run(context.Background(), Options{Chart: "../charts/reference-stack", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() || rep.Stages[0].Name != StageChart || rep.Stages[0].Status != result.Pass || rep.Stages[0].Checks != 2 {
		var b strings.Builder
		rep.WriteText(&b)
		t.Fatalf("the repository's chart:\n%s", b.String())
	}
	for _, st := range rep.Stages[1:] {
		if st.Status != result.Skip {
			t.Errorf("stage %s ran without a deployment: %s", st.Name, st.Status)
		}
	}

	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: broken\nversion: 0.1.0\n",
		"templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: web
          image: example/web:1.0
`,
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = Run(context.Background(), Options{Chart: dir, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	f := rep.FirstFailure
	if rep.Verdict != result.Fail || f == nil || f.Stage != StageChart || f.Name != "lint" || !strings.Contains(strings.Join(f.Evidence, "\n"), "SD120") {
		t.Fatalf("verdict %s, first failure %+v", rep.Verdict, f)
	}
	if c := findCheck(rep, StageChart, "unit"); c.Status != result.Skip {
		t.Errorf("a chart without suites: unit %+v", c)
	}
}

// TestTLSCertificateCheck holds https targets to a verifying certificate with
// enough validity left.
func TestTLSCertificateCheck(t *testing.T) {
	ok := httptest.NewTLSServer(http.NotFoundHandler())
	defer ok.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ok.Certificate())
	check := func(url string, roots *x509.CertPool) *result.Check {
		r := &runner{opts: Options{TLSRoots: roots}, t: Target{CaptureURL: url}}
		c := r.tlsCertificate(context.Background(), 14)
		return &c
	}
	if c := check(ok.URL, roots); c.Status != result.Pass {
		t.Errorf("a trusted certificate: %+v", c)
	}
	if c := check(ok.URL, nil); c.Status != result.Fail || !strings.Contains(c.Summary, "TLS handshake") {
		t.Errorf("a certificate no system root signed: %+v", c)
	}
	if c := check("http://127.0.0.1:1", nil); c.Status != result.Skip {
		t.Errorf("an http target: %+v", c)
	}

	// A certificate that expires in 3 days.
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "soon"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(72 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	soon := httptest.NewUnstartedServer(http.NotFoundHandler())
	soon.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	soon.StartTLS()
	defer soon.Close()
	expiring := x509.NewCertPool()
	expiring.AddCert(cert)
	c := check(soon.URL, expiring)
	if days, _ := c.Measurement("days of validity left"); c.Status != result.Fail || days.Value > 3 || !strings.Contains(c.Summary, "renew") {
		t.Errorf("a certificate expiring in 3 days: %+v", c)
	}
}

// TestGateInstallStage installs the repository's chart on a local control
// plane (kwok nodes), then upgrades it on a second run; go-live finds no
// backup CronJob in the release until one is there.
func TestGateInstallStage(t *testing.T) {
	ctx := context.Background()
	cl, err := clusterlocal.Start(ctx, clusterlocal.Options{Version: "1.34.4"})
	if err != nil {
		t.Fatalf("local Kubernetes 1.34.4: %v", err)
	}
	t.Cleanup(func() {
		if err := cl.Close(context.Background()); err != nil {
			t.Errorf("stop local Kubernetes: %v", err)
		}
	})
	kube, err := kubernetes.NewForConfig(cl.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gate"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Stages.Chart.Switch = off()
	opts := Options{Chart: "../charts/reference-stack", Config: cfg, Cluster: &Cluster{Kubeconfig: cl.Kubeconfig(), Namespace: "gate", Release: "gate", Cloud: "aws"}}
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := findCheck(rep, StageInstall, "install or upgrade gate")
	if rev, _ := c.Measurement("revision"); c.Status != result.Pass || rev.Value != 1 || !strings.HasPrefix(c.Summary, "installed") {
		t.Fatalf("install: %+v", c)
	}
	f := rep.FirstFailure
	if f == nil || f.Stage != StageGoLive || f.Name != "backups" || !strings.Contains(f.Summary, "no backup CronJob") {
		t.Errorf("first failure %+v, want go-live's backups", f)
	}
	if c := findCheck(rep, StageSmoke, StageSmoke); c.Status != result.Skip {
		t.Errorf("smoke without a deployment URL: %+v", c)
	}

	backup := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "gate-clickhouse-backup", Labels: map[string]string{"app.kubernetes.io/instance": "gate"}},
		Spec: batchv1.CronJobSpec{Schedule: "17 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "backup", Image: "example/backup:1"}}}}}}}}
	if _, err := kube.BatchV1().CronJobs("gate").Create(ctx, backup, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	c = findCheck(rep, StageInstall, "install or upgrade gate")
	if rev, _ := c.Measurement("revision"); c.Status != result.Pass || rev.Value != 2 || !strings.HasPrefix(c.Summary, "upgraded") {
		t.Errorf("second run: %+v", c)
	}
	if !rep.Passed() {
		var b strings.Builder
		rep.WriteText(&b)
		t.Errorf("with a backup CronJob:\n%s", b.String())
	}
}

package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shakedown-dev/shakedown/internal/portforward"
	"github.com/shakedown-dev/shakedown/reference/teams"
)

// TrafficTarget is an installed release of the reference chart, reached from this
// machine through port-forwards on 127.0.0.1 (nothing else is exposed).
type TrafficTarget struct {
	// KubeVersion, Cloud, Namespace and Release say which install this is.
	KubeVersion, Cloud, Namespace, Release string
	// CaptureURL is the capture Service's base URL (through a port-forward).
	CaptureURL string
	// Token is a project token created for this run in the release's PostgreSQL.
	Token string
	// ClickHouseAddr is the native port of the release's ClickHouse (through a
	// port-forward), with the application's user, password and database.
	ClickHouseAddr, ClickHouseUser, ClickHousePassword, ClickHouseDatabase string
}

// Traffic sends events to an installed release and checks what it stored. It returns
// a one-line summary of what it measured; an error fails the traffic step.
type Traffic func(ctx context.Context, t TrafficTarget) (string, error)

// appEnv is what the capture Deployment's container is given: the ClickHouse user and
// database, and the Secret keys of the ClickHouse password and the PostgreSQL DSN.
type appEnv struct {
	chUser, chDatabase          string
	chPassword, postgresDSN     secretRef
	capturePort, chPort, pgPort int
}

type secretRef struct{ name, key string }

// traffic runs Options.Traffic against the cell's release: port-forwards to the
// capture, ClickHouse and PostgreSQL Services, a fresh project token, then the hook.
func (c *cell) traffic(ctx context.Context) error {
	if c.opts.Traffic == nil {
		return errors.New("no traffic to send (fix: set Options.Traffic; it needs pods that really run, e.g. --nodes real)")
	}
	env, svc, err := c.appEnv(ctx)
	if err != nil {
		return err
	}
	const wait = 2 * time.Minute
	cfg := c.target.Config
	ns := c.target.Namespace
	capture, err := portforward.ToService(ctx, cfg, ns, svc.capture, env.capturePort, wait)
	if err != nil {
		return err
	}
	defer capture.Close()
	ch, err := portforward.ToService(ctx, cfg, ns, svc.clickhouse, env.chPort, wait)
	if err != nil {
		return err
	}
	defer ch.Close()
	pg, err := portforward.ToService(ctx, cfg, ns, svc.postgres, env.pgPort, wait)
	if err != nil {
		return err
	}
	defer pg.Close()
	chPassword, err := c.secretValue(ctx, env.chPassword)
	if err != nil {
		return err
	}
	dsn, err := c.secretValue(ctx, env.postgresDSN)
	if err != nil {
		return err
	}
	token, err := createToken(ctx, dsn, pg.Addr)
	if err != nil {
		return err
	}
	summary, err := c.opts.Traffic(ctx, TrafficTarget{
		KubeVersion: c.version, Cloud: c.cloud, Namespace: ns, Release: c.opts.ReleaseName,
		CaptureURL: "http://" + capture.Addr, Token: token,
		ClickHouseAddr: ch.Addr, ClickHouseUser: env.chUser, ClickHousePassword: chPassword, ClickHouseDatabase: env.chDatabase,
	})
	if err != nil {
		return err
	}
	c.note = summary
	return nil
}

// releaseServices are the Services of the release the traffic goes through.
type releaseServices struct{ capture, clickhouse, postgres string }

// appEnv reads the capture Deployment and the release's Services.
func (c *cell) appEnv(ctx context.Context) (appEnv, releaseServices, error) {
	var env appEnv
	var svc releaseServices
	sel := "app.kubernetes.io/instance=" + c.opts.ReleaseName
	deps, err := c.kube.AppsV1().Deployments(c.target.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel + ",app.kubernetes.io/component=capture"})
	if err != nil {
		return env, svc, err
	}
	if len(deps.Items) != 1 {
		return env, svc, fmt.Errorf("want one capture Deployment of release %s in %s, found %d (fix: the traffic step needs the reference chart with capture enabled)",
			c.opts.ReleaseName, c.target.Namespace, len(deps.Items))
	}
	if err := readAppEnv(&deps.Items[0], &env); err != nil {
		return env, svc, err
	}
	services, err := c.kube.CoreV1().Services(c.target.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return env, svc, err
	}
	for _, s := range services.Items {
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		switch s.Labels["app.kubernetes.io/component"] {
		case "capture":
			svc.capture = s.Name
			env.capturePort = int(s.Spec.Ports[0].Port)
		case "clickhouse":
			svc.clickhouse = s.Name
			env.chPort = servicePort(&s, "native", 9000)
		case "postgresql":
			svc.postgres = s.Name
			env.pgPort = servicePort(&s, "postgresql", 5432)
		}
	}
	if svc.capture == "" || svc.clickhouse == "" || svc.postgres == "" {
		return env, svc, fmt.Errorf("release %s in %s lacks a capture, ClickHouse or PostgreSQL Service (found %+v; fix: the traffic step needs the chart's own datastores)",
			c.opts.ReleaseName, c.target.Namespace, svc)
	}
	return env, svc, nil
}

// servicePort is the Service's port named name, else the one numbered def, else its first.
func servicePort(s *corev1.Service, name string, def int) int {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return int(p.Port)
		}
	}
	for _, p := range s.Spec.Ports {
		if int(p.Port) == def {
			return def
		}
	}
	return int(s.Spec.Ports[0].Port)
}

func readAppEnv(d *appsv1.Deployment, env *appEnv) error {
	if len(d.Spec.Template.Spec.Containers) == 0 {
		return fmt.Errorf("deployment %s has no container", d.Name)
	}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		ref := func() secretRef {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				return secretRef{}
			}
			return secretRef{e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key}
		}
		switch e.Name {
		case "CLICKHOUSE_USER":
			env.chUser = e.Value
		case "CLICKHOUSE_DATABASE":
			env.chDatabase = e.Value
		case "CLICKHOUSE_PASSWORD":
			env.chPassword = ref()
		case "POSTGRES_DSN":
			env.postgresDSN = ref()
		}
	}
	if env.chUser == "" || env.chDatabase == "" || env.chPassword.name == "" || env.postgresDSN.name == "" {
		return fmt.Errorf("deployment %s does not name CLICKHOUSE_USER, CLICKHOUSE_DATABASE and the Secrets of CLICKHOUSE_PASSWORD and POSTGRES_DSN", d.Name)
	}
	return nil
}

func (c *cell) secretValue(ctx context.Context, ref secretRef) (string, error) {
	s, err := c.kube.CoreV1().Secrets(c.target.Namespace).Get(ctx, ref.name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("read Secret %s/%s: %w", c.target.Namespace, ref.name, err)
	}
	v, ok := s.Data[ref.key]
	if !ok {
		return "", fmt.Errorf("secret %s/%s has no key %q", c.target.Namespace, ref.name, ref.key)
	}
	return string(v), nil
}

// createToken connects with the application's DSN, redirected to the port-forward at
// addr, and creates a project for this run (the app has migrated its schema by the time
// its pods are Ready).
func createToken(ctx context.Context, dsn, addr string) (string, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("the release's POSTGRES_DSN does not parse: %w", err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
	cfg.ConnConfig.Fallbacks = nil
	cfg.ConnConfig.TLSConfig = nil // through the tunnel the server's name does not match
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("connect to the release's PostgreSQL through %s: %w", addr, err)
	}
	defer pool.Close()
	team, err := teams.NewStore(pool).Create(ctx, "shakedown-integration", "")
	if err != nil {
		return "", fmt.Errorf("create a project in the release's PostgreSQL: %w", err)
	}
	return team.Token, nil
}

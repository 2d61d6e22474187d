// Package local runs a real Kubernetes control plane on this machine for one version:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler as child processes
// on free loopback ports, kwok playing the kubelets of fake nodes, and an in-process
// provisioner binding PVCs of StorageClasses that emulate the clouds' CSI drivers.
// Binaries come from the kubebin cache (built on first use). Several clusters, of the
// same or different versions, can run side by side.
package local

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/internal/progress"
)

// Options configures Start.
type Options struct {
	// Version is the Kubernetes release, e.g. "1.34.4" (a leading "v" is accepted).
	Version string
	// Binaries finds or builds the binaries (default: kubebin.New with the default
	// cache directory and Progress).
	Binaries *kubebin.Cache
	// Dir is where the cluster's temporary directory is made (default os.TempDir()).
	Dir string
	// Nodes is the number of fake nodes (default 3), spread over three zones. With
	// RealNode set there are none.
	Nodes int
	// RealNode, when set, runs one real node instead of kwok's fake ones: a kubelet with
	// its own containerd, CNI bridge, kube-proxy and CoreDNS on this machine, so pods
	// really run. It needs root, and one real node runs at a time on a machine. Its
	// volumes are local-path hostPath directories in the cluster's directory, and the
	// default StorageClass is local-path.
	RealNode *RealNodeOptions
	// NodeShape sizes each node (default DefaultNodeShape()).
	NodeShape NodeShape
	// DefaultStorageClass is the class marked default (default ClassAWS).
	DefaultStorageClass string
	// EtcdPrefix is the API server's --etcd-prefix (default "/registry").
	EtcdPrefix string
	// StartTimeout bounds start-up once binaries are cached (default 2 min).
	StartTimeout time.Duration
	// Progress shows build and start-up steps; nil is silent.
	Progress *progress.Reporter
	// Logger receives the provisioner's warnings (default: discarded).
	Logger *slog.Logger
	// KeepDir leaves the directory (logs, certificates, etcd data) after Stop.
	KeepDir bool
}

// Cluster is a running local control plane. Stop it when done.
type Cluster struct {
	version    string
	gitVersion string
	dir        string
	server     string
	kubeconfig string
	rest       *rest.Config
	procs      []*procs.Process // start order; stopped in reverse
	stopCtrl   context.CancelFunc
	keepDir    bool
	// node is the real node, if any (stopped before the control plane).
	node   *realNode
	logger *slog.Logger

	stopOnce sync.Once
	stopErr  error
}

// Start brings a control plane of opts.Version up and waits until it is usable: API
// server ready, nodes Ready, the default service account present. The binaries are
// built first if they are not cached (8–14 min per version on 2 cores).
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	v, err := kubebin.NormalizeVersion(opts.Version)
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	opts = withDefaults(opts)
	if opts.Binaries == nil {
		if opts.Binaries, err = kubebin.New(kubebin.Options{Progress: opts.Progress}); err != nil {
			return nil, err
		}
	}
	bins, err := opts.Binaries.Ensure(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("local cluster %s: %w", v, err)
	}
	dir, err := os.MkdirTemp(opts.Dir, "shakedown-kube-"+v+"-")
	if err != nil {
		return nil, fmt.Errorf("local cluster %s: create directory under %q: %w", v, opts.Dir, err)
	}
	// Absolute and without symlinks: mount points under it are found by their paths.
	if abs, err := filepath.Abs(dir); err == nil {
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			dir = real
		}
	}
	c := &Cluster{version: v, dir: dir, keepDir: opts.KeepDir, logger: opts.Logger}
	what := "control plane"
	if opts.RealNode != nil {
		what = "control plane and a real node"
	}
	step(opts.Progress, fmt.Sprintf("starting Kubernetes %s %s (logs in %s)", v, what, dir))
	sctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err := c.start(sctx, bins, opts); err != nil {
		fail(opts.Progress)
		if stopErr := c.Stop(); stopErr != nil {
			err = fmt.Errorf("%w (and stopping what started: %v)", err, stopErr)
		}
		return nil, fmt.Errorf("local cluster %s: %w", v, err)
	}
	done(opts.Progress)
	return c, nil
}

func withDefaults(o Options) Options {
	if o.RealNode != nil {
		o.Nodes = 0
		o.DefaultStorageClass = ClassK3s
	} else if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.NodeShape == (NodeShape{}) {
		o.NodeShape = DefaultNodeShape()
	}
	if o.DefaultStorageClass == "" {
		o.DefaultStorageClass = ClassAWS
	}
	if o.EtcdPrefix == "" {
		o.EtcdPrefix = "/registry"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

func (c *Cluster) start(ctx context.Context, bins kubebin.Binaries, opts Options) error {
	_, svcNet, _ := net.ParseCIDR(serviceCIDR)
	svcIP := svcNet.IP.To4()
	svcIP = net.IPv4(svcIP[0], svcIP[1], svcIP[2], svcIP[3]+1)
	pki, err := newPKI(filepath.Join(c.dir, "pki"), svcIP)
	if err != nil {
		return err
	}
	etcd, etcdURL, err := startEtcd(ctx, bins.Etcd, c.dir, opts.StartTimeout)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, etcd)
	advertise := ""
	if opts.RealNode != nil {
		// Pods do reach this address (the kubernetes Service): on the bridge it stays on
		// this machine, where nothing answers on it (the API server listens on loopback).
		advertise = realGatewayIP
	}
	api, server, err := startAPIServer(ctx, apiServerConfig{
		advertise: advertise, bin: bins.APIServer, dir: c.dir, etcdURL: etcdURL, etcdPrefix: opts.EtcdPrefix, pki: pki, timeout: opts.StartTimeout,
	})
	if err != nil {
		return err
	}
	c.procs = append(c.procs, api)
	c.server = server
	c.rest = restConfig(server, pki.ca.Cert, pki.admin)
	c.kubeconfig = filepath.Join(c.dir, "admin.kubeconfig")
	kcmConfig := filepath.Join(c.dir, "kube-controller-manager.kubeconfig")
	schedConfig := filepath.Join(c.dir, "kube-scheduler.kubeconfig")
	for _, k := range []struct {
		path string
		user keyPair
	}{{c.kubeconfig, pki.admin}, {kcmConfig, pki.controllerManager}, {schedConfig, pki.scheduler}} {
		if err := writeKubeconfig(k.path, "shakedown-local-"+c.version, server, pki.ca.Cert, k.user); err != nil {
			return err
		}
	}
	cs, err := kubernetes.NewForConfig(c.rest)
	if err != nil {
		return fmt.Errorf("client for %s: %w", server, err)
	}
	if err := c.checkVersion(cs); err != nil {
		return err
	}

	var mu sync.Mutex
	started := func(p *procs.Process) {
		mu.Lock()
		c.procs = append(c.procs, p)
		mu.Unlock()
	}
	ctrlCtx, stopCtrl := context.WithCancel(context.Background())
	c.stopCtrl = stopCtrl
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		p, err := startControllerManager(gctx, controllerConfig{bin: bins.ControllerManager, dir: c.dir, kubeconfig: kcmConfig, pki: pki, timeout: opts.StartTimeout})
		if p != nil {
			started(p)
		}
		return err
	})
	g.Go(func() error {
		p, err := startScheduler(gctx, controllerConfig{bin: bins.Scheduler, dir: c.dir, kubeconfig: schedConfig, pki: pki, timeout: opts.StartTimeout})
		if p != nil {
			started(p)
		}
		return err
	})
	if opts.RealNode == nil {
		g.Go(func() error {
			p, err := startKwok(bins.Kwok, c.dir, c.kubeconfig, "10.244.0.1/16")
			if err != nil {
				return err
			}
			started(p)
			return createNodes(gctx, cs, opts.Nodes, opts.NodeShape, c.gitVersion)
		})
	}
	hostPathRoot := ""
	if opts.RealNode != nil {
		hostPathRoot = filepath.Join(c.dir, "node", "volumes")
	}
	g.Go(func() error { return createStorageClasses(gctx, cs, opts.DefaultStorageClass) })
	g.Go(func() error { return runProvisioner(ctrlCtx, gctx, cs, opts.Logger, hostPathRoot) })
	if err := g.Wait(); err != nil {
		return err
	}
	if opts.RealNode == nil {
		return c.waitUsable(ctx, cs, opts.Nodes)
	}
	logf := func(format string, args ...any) { opts.Logger.Warn(fmt.Sprintf(format, args...)) }
	if err := c.startRealNode(ctx, cs, pki, *opts.RealNode, opts.StartTimeout, logf); err != nil {
		return err
	}
	return c.waitUsable(ctx, cs, 1)
}

// Stop tears the cluster down: the provisioner, then kwok, the scheduler, the
// controller manager, the API server and etcd; then it removes the directory (unless
// Options.KeepDir). The ports are free again when it returns. Safe to call twice.
//
// A real node is stopped first, and what it added to the host removed.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		if c.node != nil {
			if err := c.node.stop(); err != nil {
				errs = append(errs, fmt.Errorf("real node: %w", err))
			}
		}
		if c.stopCtrl != nil {
			c.stopCtrl()
		}
		for i := len(c.procs) - 1; i >= 0; i-- {
			if err := c.procs[i].Stop(syscall.SIGTERM, 10*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		if !c.keepDir {
			if err := os.RemoveAll(c.dir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", c.dir, err))
			}
		}
		if len(errs) > 0 {
			c.stopErr = fmt.Errorf("stop local cluster %s: %v", c.version, errs)
		}
	})
	return c.stopErr
}

// Close is Stop, for the cluster.Cluster interface.
func (c *Cluster) Close(context.Context) error { return c.Stop() }

// Kubeconfig is the path of a self-contained admin kubeconfig (removed by Stop).
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// KubeconfigPath is Kubeconfig, for the cluster.Cluster interface.
func (c *Cluster) KubeconfigPath() string { return c.kubeconfig }

// RESTConfig returns a copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.rest) }

// Version is the server's version as it reports it, e.g. "v1.34.4".
func (c *Cluster) Version() string { return c.gitVersion }

// Namespace is where callers install: "default" (the whole cluster is theirs).
func (c *Cluster) Namespace() string { return "default" }

// Server is the API server URL (https://127.0.0.1:PORT).
func (c *Cluster) Server() string { return c.server }

// Dir holds the cluster's logs, certificates and etcd data.
func (c *Cluster) Dir() string { return c.dir }

func step(r *progress.Reporter, msg string) {
	if r != nil {
		r.Step(msg)
	}
}

func done(r *progress.Reporter) {
	if r != nil {
		r.Done()
	}
}

func fail(r *progress.Reporter) {
	if r != nil {
		r.Fail()
	}
}

package local

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

type controllerConfig struct {
	bin, dir   string
	kubeconfig string
	pki        *pki
	timeout    time.Duration
}

// startControllerManager runs kube-controller-manager with every default controller
// (deployments, replicasets, statefulsets, jobs, endpoints, the PV binder, service
// accounts and their tokens, garbage collection, ...), each with its own service
// account, and waits for /healthz.
func startControllerManager(ctx context.Context, c controllerConfig) (*procs.Process, error) {
	client := insecureHTTPClient()
	defer client.CloseIdleConnections()
	p, _, err := launch(ctx, component{
		name:  "kube-controller-manager",
		ports: 1,
		start: func(ports []int) (*procs.Process, error) {
			return startProcess("kube-controller-manager", filepath.Join(c.dir, "kube-controller-manager.log"), c.bin,
				"--kubeconfig="+c.kubeconfig,
				"--bind-address=127.0.0.1",
				"--secure-port="+strconv.Itoa(ports[0]),
				"--cert-dir="+filepath.Join(c.dir, "kube-controller-manager-certs"),
				"--leader-elect=false",
				"--controllers=*",
				"--use-service-account-credentials=true",
				"--root-ca-file="+c.pki.caFile(),
				"--service-account-private-key-file="+c.pki.saKeyFile(),
				"--cluster-signing-cert-file="+c.pki.caFile(),
				"--cluster-signing-key-file="+c.pki.caKeyFile(),
				"--service-cluster-ip-range="+serviceCIDR,
				"--allocate-node-cidrs=false",
				"--kube-api-qps=100",
				"--kube-api-burst=200",
				"--v=0",
			)
		},
		ready: healthz(client),
	}, c.timeout)
	return p, err
}

// startScheduler runs kube-scheduler and waits for /healthz.
func startScheduler(ctx context.Context, c controllerConfig) (*procs.Process, error) {
	client := insecureHTTPClient()
	defer client.CloseIdleConnections()
	p, _, err := launch(ctx, component{
		name:  "kube-scheduler",
		ports: 1,
		start: func(ports []int) (*procs.Process, error) {
			return startProcess("kube-scheduler", filepath.Join(c.dir, "kube-scheduler.log"), c.bin,
				"--kubeconfig="+c.kubeconfig,
				"--bind-address=127.0.0.1",
				"--secure-port="+strconv.Itoa(ports[0]),
				"--cert-dir="+filepath.Join(c.dir, "kube-scheduler-certs"),
				"--leader-elect=false",
				"--v=0",
			)
		},
		ready: healthz(client),
	}, c.timeout)
	return p, err
}

func healthz(client *http.Client) func(ctx context.Context, ports []int) error {
	return func(ctx context.Context, ports []int) error {
		return getOK(ctx, client, fmt.Sprintf("https://127.0.0.1:%d/healthz", ports[0]))
	}
}

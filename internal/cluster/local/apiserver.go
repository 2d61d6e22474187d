package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

// serviceCIDR is the cluster's service range; the API server's service IP is its first
// address (also in the serving certificate).
const serviceCIDR = "10.96.0.0/16"

// advertiseAddress is the API server's address as published in the kubernetes
// Service's endpoints: on the fake nodes' network, since endpoints reject loopback.
const advertiseAddress = "10.1.0.1"

type apiServerConfig struct {
	// advertise is the address in the kubernetes Service's endpoints (default
	// advertiseAddress).
	advertise  string
	bin, dir   string
	etcdURL    string
	etcdPrefix string
	pki        *pki
	timeout    time.Duration
}

// startAPIServer runs kube-apiserver on a free loopback port and waits for /readyz.
// It returns the server URL.
func startAPIServer(ctx context.Context, c apiServerConfig) (*procs.Process, string, error) {
	if c.advertise == "" {
		c.advertise = advertiseAddress
	}
	client, err := adminHTTPClient(c.pki)
	if err != nil {
		return nil, "", err
	}
	defer client.CloseIdleConnections()
	p, ports, err := launch(ctx, component{
		name:  "kube-apiserver",
		ports: 1,
		start: func(ports []int) (*procs.Process, error) {
			return startProcess("kube-apiserver", filepath.Join(c.dir, "kube-apiserver.log"), c.bin,
				"--etcd-servers="+c.etcdURL,
				"--etcd-prefix="+c.etcdPrefix,
				"--bind-address=127.0.0.1",
				"--advertise-address="+c.advertise,
				"--secure-port="+strconv.Itoa(ports[0]),
				"--cert-dir="+filepath.Join(c.dir, "apiserver-certs"),
				"--tls-cert-file="+c.pki.servingCertFile(),
				"--tls-private-key-file="+c.pki.servingKeyFile(),
				"--client-ca-file="+c.pki.caFile(),
				"--kubelet-client-certificate="+c.pki.kubeletClientCertFile(),
				"--kubelet-client-key="+c.pki.kubeletClientKeyFile(),
				"--kubelet-certificate-authority="+c.pki.caFile(),
				"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
				"--service-account-key-file="+c.pki.saPubFile(),
				"--service-account-signing-key-file="+c.pki.saKeyFile(),
				"--service-cluster-ip-range="+serviceCIDR,
				"--authorization-mode=Node,RBAC",
				"--enable-admission-plugins=NodeRestriction",
				"--allow-privileged=true",
				"--profiling=false",
				"--v=0",
			)
		},
		ready: func(ctx context.Context, ports []int) error {
			return getOK(ctx, client, fmt.Sprintf("https://127.0.0.1:%d/readyz", ports[0]))
		},
	}, c.timeout)
	if err != nil {
		return nil, "", err
	}
	return p, fmt.Sprintf("https://127.0.0.1:%d", ports[0]), nil
}

// adminHTTPClient talks to the API server as the admin user, trusting only the CA.
func adminHTTPClient(p *pki) (*http.Client, error) {
	cert, err := tls.X509KeyPair(p.admin.Cert, p.admin.Key)
	if err != nil {
		return nil, fmt.Errorf("load admin client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.ca.Cert)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}, nil
}

// insecureHTTPClient probes the health endpoints of kube-controller-manager and
// kube-scheduler, which serve self-signed certificates on loopback.
func insecureHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe of our own child
	}}
}

// getOK succeeds when url answers 200.
func getOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}

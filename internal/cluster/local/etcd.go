package local

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

// startEtcd runs a single-member etcd on two free loopback ports with its data in
// dir/etcd (no fsync: the data dies with the cluster) and returns its client URL.
func startEtcd(ctx context.Context, bin, dir string, timeout time.Duration) (*procs.Process, string, error) {
	client := &http.Client{Timeout: time.Second}
	p, ports, err := launch(ctx, component{
		name:  "etcd",
		ports: 2,
		start: func(ports []int) (*procs.Process, error) {
			clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
			peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
			return startProcess("etcd", filepath.Join(dir, "etcd.log"), bin,
				"--name=shakedown",
				"--data-dir="+filepath.Join(dir, "etcd"),
				"--listen-client-urls="+clientURL,
				"--advertise-client-urls="+clientURL,
				"--listen-peer-urls="+peerURL,
				"--initial-advertise-peer-urls="+peerURL,
				"--initial-cluster=shakedown="+peerURL,
				"--initial-cluster-state=new",
				"--unsafe-no-fsync=true",
				"--quota-backend-bytes=4294967296",
				"--snapshot-count=50000",
				"--log-level=warn",
			)
		},
		ready: func(ctx context.Context, ports []int) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/health", ports[0]), nil)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"true"`) {
				return fmt.Errorf("etcd /health: %s %s", resp.Status, body)
			}
			return nil
		},
	}, timeout)
	if err != nil {
		return nil, "", err
	}
	return p, fmt.Sprintf("http://127.0.0.1:%d", ports[0]), nil
}

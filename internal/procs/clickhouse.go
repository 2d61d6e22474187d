package procs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// ClickHouseOptions configures StartClickHouse.
type ClickHouseOptions struct {
	// Dir holds the server's data, config and log; it must exist.
	Dir string
	// StartTimeout bounds the wait for /ping (default 30 s).
	StartTimeout time.Duration
}

// ClickHouse is a running clickhouse-server child process.
type ClickHouse struct {
	// NativeAddr is host:port of the native protocol (clickhouse-go).
	NativeAddr string
	// HTTPAddr is host:port of the HTTP interface.
	HTTPAddr string
	// Version is what the server reports from SELECT version().
	Version string
	proc    *Process
	client  *http.Client
}

var clickhouseConfig = template.Must(template.New("config").Parse(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>{{.HTTPPort}}</http_port>
  <tcp_port>{{.TCPPort}}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{{.Dir}}/data/</path>
  <tmp_path>{{.Dir}}/tmp/</tmp_path>
  <user_files_path>{{.Dir}}/user_files/</user_files_path>
  <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
  <keep_alive_timeout>1</keep_alive_timeout>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default></profiles>
  <quotas><default></default></quotas>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
</yandex>
`))

// StartClickHouse starts clickhouse-server on two free loopback ports and waits until
// it answers queries. A port taken between probing and binding is retried.
func StartClickHouse(ctx context.Context, opts ClickHouseOptions) (*ClickHouse, error) {
	bin, err := lookBinary("clickhouse-server", "clickhouse-server", "/usr/sbin", "/usr/bin")
	if err != nil {
		return nil, err
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ch, err := startClickHouseOnce(ctx, bin, opts)
		if err == nil {
			return ch, nil
		}
		lastErr = err
		if err != errRetryPort {
			return nil, err
		}
	}
	return nil, fmt.Errorf("clickhouse-server: no free port pair after 3 attempts: %w", lastErr)
}

func startClickHouseOnce(ctx context.Context, bin string, opts ClickHouseOptions) (*ClickHouse, error) {
	httpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	tcpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(opts.Dir, "config.xml")
	f, err := os.Create(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("clickhouse-server: write config: %w", err)
	}
	err = clickhouseConfig.Execute(f, map[string]any{"HTTPPort": httpPort, "TCPPort": tcpPort, "Dir": opts.Dir})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("clickhouse-server: write config %s: %w", cfgPath, err)
	}
	cmd := exec.Command(bin, "--config-file="+cfgPath)
	cmd.Dir = opts.Dir
	p, err := Start("clickhouse-server", filepath.Join(opts.Dir, "clickhouse-server.log"), cmd)
	if err != nil {
		return nil, err
	}
	ch := &ClickHouse{
		NativeAddr: fmt.Sprintf("127.0.0.1:%d", tcpPort),
		HTTPAddr:   fmt.Sprintf("127.0.0.1:%d", httpPort),
		proc:       p,
		client:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
	}
	rctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	err = p.WaitReady(rctx, func(ctx context.Context) error {
		v, err := ch.Query(ctx, "SELECT version()")
		ch.Version = strings.TrimSpace(v)
		return err
	})
	if err != nil {
		_ = p.Stop(syscall.SIGKILL, time.Second)
		if p.PortClash() {
			return nil, errRetryPort
		}
		return nil, err
	}
	return ch, nil
}

// Query runs one statement over the HTTP interface and returns the raw answer.
func (c *ClickHouse) Query(ctx context.Context, sql string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.HTTPAddr+"/", strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("clickhouse http %s: %w", c.HTTPAddr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("clickhouse http %s: read answer: %w", c.HTTPAddr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("clickhouse http %s: %s: %s", c.HTTPAddr, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 10 s). Close the caller's own
// connections first: the server waits for open ones.
func (c *ClickHouse) Stop() error {
	c.client.CloseIdleConnections()
	return c.proc.Stop(syscall.SIGTERM, 10*time.Second)
}

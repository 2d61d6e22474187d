package procs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
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

// ClickHouse users StartClickHouse configures. There is no "default" user: a client
// that names no user is refused.
const (
	// ClickHouseAppUser may read, write and run DDL, in ClickHouseOptions.Databases only.
	ClickHouseAppUser = "shakedown"
	// ClickHouseReaderUser may only read (readonly=1), in the same databases.
	ClickHouseReaderUser = "shakedown_reader"
)

// ClickHouseOptions configures StartClickHouse.
type ClickHouseOptions struct {
	// Dir holds the server's data, config and log; it must exist.
	Dir string
	// StartTimeout bounds the wait for /ping (default 30 s).
	StartTimeout time.Duration
	// Databases are the only databases (besides "system", which ClickHouse 18.16 always
	// allows) the application and reader users may use, create or drop (default:
	// "default").
	Databases []string
	// AnyDatabase lifts the Databases restriction, for tests that make a database per
	// test with names not known at start-up.
	AnyDatabase bool
}

// ClickHouse is a running clickhouse-server child process, listening on 127.0.0.1 only.
// When started as root it runs as the "clickhouse" system user (or "nobody").
type ClickHouse struct {
	// NativeAddr is host:port of the native protocol (clickhouse-go).
	NativeAddr string
	// HTTPAddr is host:port of the HTTP interface.
	HTTPAddr string
	// Version is what the server reports from SELECT version().
	Version string
	// User and Password authenticate ClickHouseAppUser (read, write, DDL).
	User, Password string
	// ReaderUser and ReaderPassword authenticate ClickHouseReaderUser (readonly=1: no
	// writes, no DDL, no settings, no table functions such as url(), file(), remote()).
	ReaderUser, ReaderPassword string
	// Dir is the server's own directory (config, data, log; mode 0700, owned by the
	// user the server runs as).
	Dir string
	// ownDir says Dir was made by StartClickHouse outside ClickHouseOptions.Dir, so
	// Stop removes it.
	ownDir bool
	proc   *Process
	client *http.Client
}

// newClickHouseConfig parses the server's config.xml template. Users, passwords and
// databases are filled in per server: the application user, a read-only user, and no
// "default" user at all.
func newClickHouseConfig() *template.Template {
	return template.Must(template.New("config").Funcs(template.FuncMap{"xml": xmlEscape}).Parse(clickhouseConfigText))
}

func xmlEscape(s string) (string, error) {
	var b bytes.Buffer
	err := xml.EscapeText(&b, []byte(s))
	return b.String(), err
}

const clickhouseConfigText = `<?xml version="1.0"?>
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
    <{{.AppUser}}>
      <password_sha256_hex>{{.AppHash}}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>app</profile>
      <quota>default</quota>
      {{- if .Databases}}
      <allow_databases>{{range .Databases}}<database>{{xml .}}</database>{{end}}</allow_databases>
      {{- end}}
    </{{.AppUser}}>
    <{{.ReaderUser}}>
      <password_sha256_hex>{{.ReaderHash}}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>reader</profile>
      <quota>default</quota>
      {{- if .Databases}}
      <allow_databases>{{range .Databases}}<database>{{xml .}}</database>{{end}}</allow_databases>
      {{- end}}
    </{{.ReaderUser}}>
  </users>
  <profiles>
    <default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default>
    <app><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type><readonly>0</readonly></app>
    <reader><readonly>1</readonly></reader>
  </profiles>
  <quotas><default></default></quotas>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
</yandex>
`

// StartClickHouse starts clickhouse-server on two free loopback ports and waits until
// it answers queries. A port taken between probing and binding is retried.
//
// The server gets its own directory (mode 0700): under opts.Dir normally; when running
// as root it runs as the "clickhouse" system user (or "nobody"), which cannot reach the
// caller's directories, so the directory is made under os.TempDir() and Stop removes it.
// Passwords are generated per server; config.xml holds only their SHA-256.
func StartClickHouse(ctx context.Context, opts ClickHouseOptions) (*ClickHouse, error) {
	bin, cred, err := prepareClickHouse(&opts)
	if err != nil {
		return nil, err
	}
	parent, own := opts.Dir, false
	if cred != nil {
		parent, own = "", true
	}
	dir, err := os.MkdirTemp(parent, "clickhouse-")
	if err != nil {
		return nil, fmt.Errorf("clickhouse-server: make its directory under %q (check ClickHouseOptions.Dir exists and is writable): %w", parent, err)
	}
	if err := giveDir(dir, cred); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("clickhouse-server: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ch, err := startClickHouseOnce(ctx, bin, dir, cred, opts)
		if err == nil {
			ch.ownDir = own
			return ch, nil
		}
		lastErr = err
		if err != errRetryPort {
			break
		}
		lastErr = fmt.Errorf("clickhouse-server: no free port pair after 3 attempts: %w", err)
	}
	if own {
		os.RemoveAll(dir)
	}
	return nil, lastErr
}

func startClickHouseOnce(ctx context.Context, bin, dir string, cred *syscall.Credential, opts ClickHouseOptions) (*ClickHouse, error) {
	httpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	tcpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	ch := &ClickHouse{
		NativeAddr: fmt.Sprintf("127.0.0.1:%d", tcpPort),
		HTTPAddr:   fmt.Sprintf("127.0.0.1:%d", httpPort),
		User:       ClickHouseAppUser,
		ReaderUser: ClickHouseReaderUser,
		Dir:        dir,
		client:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
	}
	if ch.Password, err = newPassword(); err != nil {
		return nil, err
	}
	if ch.ReaderPassword, err = newPassword(); err != nil {
		return nil, err
	}
	var databases []string
	if !opts.AnyDatabase {
		databases = opts.Databases
	}
	var cfg bytes.Buffer
	err = newClickHouseConfig().Execute(&cfg, map[string]any{
		"HTTPPort": httpPort, "TCPPort": tcpPort, "Dir": dir, "Databases": databases,
		"AppUser": ch.User, "AppHash": sha256Hex(ch.Password),
		"ReaderUser": ch.ReaderUser, "ReaderHash": sha256Hex(ch.ReaderPassword),
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse-server: render config: %w", err)
	}
	cfgPath := filepath.Join(dir, "config.xml")
	if err := writePrivate(cfgPath, cfg.Bytes(), cred); err != nil {
		return nil, fmt.Errorf("clickhouse-server: %w", err)
	}
	cmd := exec.Command(bin, "--config-file="+cfgPath)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	p, err := Start("clickhouse-server", filepath.Join(dir, "clickhouse-server.log"), cmd)
	if err != nil {
		return nil, err
	}
	ch.proc = p
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

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Query runs one statement over the HTTP interface as the application user and
// returns the raw answer.
func (c *ClickHouse) Query(ctx context.Context, sql string) (string, error) {
	return c.QueryAs(ctx, c.User, c.Password, sql)
}

// QueryAs runs one statement over the HTTP interface as user (HTTP basic auth; an
// empty user sends no credentials) and returns the raw answer.
func (c *ClickHouse) QueryAs(ctx context.Context, user, password, sql string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.HTTPAddr+"/", strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
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

// Stop shuts the server down (SIGTERM, then SIGKILL after 10 s) and, when
// StartClickHouse made Dir outside ClickHouseOptions.Dir (running as root), removes
// it. Close the caller's own connections first: the server waits for open ones.
func (c *ClickHouse) Stop() error {
	c.client.CloseIdleConnections()
	err := c.proc.Stop(syscall.SIGTERM, 10*time.Second)
	if c.ownDir {
		if rerr := os.RemoveAll(c.Dir); rerr != nil && err == nil {
			err = fmt.Errorf("clickhouse-server: remove %s: %w", c.Dir, rerr)
		}
	}
	return err
}

// prepareClickHouse finds clickhouse-server, fills opts' defaults and returns the
// user the server runs as (nil: this one); shared by StartClickHouse and
// StartClickHouseAt.
func prepareClickHouse(opts *ClickHouseOptions) (bin string, cred *syscall.Credential, err error) {
	if bin, err = lookBinary("clickhouse-server", "clickhouse-server", "/usr/sbin", "/usr/bin"); err != nil {
		return "", nil, err
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if len(opts.Databases) == 0 {
		opts.Databases = []string{"default"}
	}
	cred, err = systemUser("clickhouse-server", "clickhouse", "nobody")
	return bin, cred, err
}

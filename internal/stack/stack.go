// Package stack describes where a reference stack runs: the endpoints every layer
// (load, e2e, bench) needs, whichever provider brought the stack up.
package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Endpoints are the addresses of a running reference stack. Its JSON form is the
// stack.json file that `shakedown stack up --state DIR` writes.
type Endpoints struct {
	// CaptureURL is the base URL of the capture API (also serves /decide).
	CaptureURL string `json:"capture_url"`
	// ClickHouseNative is host:port of ClickHouse's native protocol.
	ClickHouseNative string `json:"clickhouse_native"`
	// ClickHouseHTTP is the base URL of ClickHouse's HTTP interface.
	ClickHouseHTTP string `json:"clickhouse_http"`
	// ClickHouseUser and ClickHousePassword authenticate to both ClickHouse interfaces
	// (the local stack hands out a read-only user). Empty means ClickHouse's "default"
	// user without a password.
	ClickHouseUser     string `json:"clickhouse_user,omitempty"`
	ClickHousePassword string `json:"clickhouse_password,omitempty"`
	// PostgresDSN connects to the stack's PostgreSQL database (with the password of a
	// role that is not a superuser).
	PostgresDSN string `json:"postgres_dsn"`
	// KafkaBrokers are the seed brokers.
	KafkaBrokers []string `json:"kafka_brokers"`
	// Token is a project API token the stack accepts.
	Token string `json:"token"`
	// ControlURL, when set, takes fault actions on the stack (POST
	// ControlURL/v1/act/<action> with "Authorization: Bearer ControlToken"),
	// for drills run from another process; only `stack up` serves it.
	ControlURL   string `json:"control_url,omitempty"`
	ControlToken string `json:"control_token,omitempty"`
}

// StateFile is the name of the file WriteState writes inside its directory.
const StateFile = "stack.json"

// WriteState writes e to dir/stack.json with mode 0600 (it holds the token and
// passwords), creating dir with mode 0700 if needed.
func WriteState(dir string, e Endpoints) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state dir %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode stack state: %w", err)
	}
	path := filepath.Join(dir, StateFile)
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a leftover would keep its old mode
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// ReadState reads a stack.json written by WriteState; path may be the file or its directory.
func ReadState(path string) (Endpoints, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, StateFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Endpoints{}, fmt.Errorf("read stack state: %w (start a stack with `shakedown stack up --state DIR`)", err)
	}
	var e Endpoints
	if err := json.Unmarshal(b, &e); err != nil {
		return Endpoints{}, fmt.Errorf("parse stack state %s: %w", path, err)
	}
	return e, nil
}

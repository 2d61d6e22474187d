// Package chconn opens ClickHouse connections for the layers and the CLI: one
// place for the dial and for the ping that proves the server answers.
package chconn

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// PingTimeout bounds Open's ping: a stopped (SIGSTOP) or wedged server
// accepts connections and never answers.
const PingTimeout = 10 * time.Second

// Open connects to the native address addr as user and pings it. The
// handshake is bounded by a 5 s dial timeout and the ping by PingTimeout or
// ctx's deadline, whichever comes first. The caller closes the connection.
func Open(ctx context.Context, addr, user, password string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr},
		Auth: clickhouse.Auth{Username: user, Password: password}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("connect to ClickHouse %s: %w", addr, err)
	}
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ClickHouse %s does not answer: %w", addr, err)
	}
	return conn, nil
}

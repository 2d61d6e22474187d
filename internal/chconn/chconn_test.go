package chconn

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestOpenFailsOnADeadOrSilentServer(t *testing.T) {
	// Nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	if _, err := Open(context.Background(), dead, "default", ""); err == nil || !strings.Contains(err.Error(), dead) {
		t.Errorf("dead server: %v", err)
	}
	// Accepts and never answers, as a paused server does: Open gives up.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	if _, err := Open(ctx, silent.Addr().String(), "default", ""); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("silent server: %v", err)
	}
	if took := time.Since(began); took > 8*time.Second { // the 5 s dial timeout bounds the handshake
		t.Errorf("Open waited %s on a silent server", took)
	}
}

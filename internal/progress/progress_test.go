package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPlainOutputIsLineOriented(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf) // a buffer is never a terminal
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.now = func() time.Time { return clock }
	r.Step("building kube-apiserver")
	clock = clock.Add(1500 * time.Millisecond)
	r.Note("official binaries unavailable; building from source")
	r.Step("starting etcd")
	clock = clock.Add(200 * time.Millisecond)
	r.Fail()
	got := buf.String()
	want := strings.Join([]string{
		"03:04:05 building kube-apiserver ...",
		"03:04:06 building kube-apiserver: done in 1.5s",
		"03:04:06 official binaries unavailable; building from source",
		"03:04:06 starting etcd ...",
		"03:04:06 starting etcd: FAILED in 200ms",
		"",
	}, "\n")
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if strings.ContainsAny(got, "\r\033") {
		t.Fatal("non-terminal output must not contain control characters")
	}
}

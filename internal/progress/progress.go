// Package progress shows what a long operation is doing: an updating status line on a
// terminal, plain timestamped lines elsewhere (CI logs, pipes), so logs stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Reporter prints steps of a long operation. It is safe for concurrent use.
type Reporter struct {
	w           io.Writer
	interactive bool
	now         func() time.Time

	mu      sync.Mutex
	step    string
	started time.Time
	stop    chan struct{}
	stopped chan struct{}
}

// New returns a Reporter writing to w. It animates only when w is a terminal and the
// CI environment variable is unset.
func New(w io.Writer) *Reporter {
	interactive := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") == "" {
		interactive = true
	}
	return &Reporter{w: w, interactive: interactive, now: time.Now}
}

// Step ends the current step (if any) as done and starts a new one.
func (r *Reporter) Step(msg string) {
	r.finish("done")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.step, r.started = msg, r.now()
	if !r.interactive {
		fmt.Fprintf(r.w, "%s %s ...\n", r.now().UTC().Format("15:04:05"), msg)
		return
	}
	r.stop, r.stopped = make(chan struct{}), make(chan struct{})
	go r.animate(r.stop, r.stopped)
}

// Note ends the current step (if any) as done and prints one line that is not a step,
// such as why the next step takes another way.
func (r *Reporter) Note(msg string) {
	r.finish("done")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.interactive {
		fmt.Fprintf(r.w, "! %s\n", msg)
		return
	}
	fmt.Fprintf(r.w, "%s %s\n", r.now().UTC().Format("15:04:05"), msg)
}

// Done ends the current step, reporting how long it took.
func (r *Reporter) Done() { r.finish("done") }

// Fail ends the current step as failed.
func (r *Reporter) Fail() { r.finish("FAILED") }

func (r *Reporter) finish(status string) {
	r.mu.Lock()
	stop, stopped, step, started := r.stop, r.stopped, r.step, r.started
	r.stop, r.stopped, r.step = nil, nil, ""
	r.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	if step == "" {
		return
	}
	if r.interactive {
		mark := "✓"
		if status != "done" {
			mark = "✗"
		}
		fmt.Fprintf(r.w, "\r\033[K%s %s (%s)\n", mark, step, r.since(started))
		return
	}
	fmt.Fprintf(r.w, "%s %s: %s in %s\n", r.now().UTC().Format("15:04:05"), step, status, r.since(started))
}

func (r *Reporter) since(t time.Time) time.Duration {
	return r.now().Sub(t).Round(10 * time.Millisecond)
}

func (r *Reporter) animate(stop, stopped chan struct{}) {
	defer close(stopped)
	frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		r.mu.Lock()
		fmt.Fprintf(r.w, "\r\033[K%c %s (%s)", frames[i%len(frames)], r.step, r.since(r.started).Round(time.Second))
		r.mu.Unlock()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

package distributed

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/shakedown-dev/shakedown/loadgen"
	"github.com/shakedown-dev/shakedown/loadgen/record"
)

func TestJobSpec(t *testing.T) {
	job, err := Job(Spec{Name: "load-eu", Namespace: "bench", Image: "registry.example.test/x/shakedown:1", Workers: 4, Rate: 1000,
		Args: []string{"--target", "http://capture:8010", "--token", "phc_x", "--duration", "30s"}, Deadline: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Namespace != "bench" || job.Name != "load-eu" {
		t.Errorf("job meta: %+v %+v", job.TypeMeta, job.ObjectMeta)
	}
	s := job.Spec
	if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 4 || *s.Parallelism != 4 || *s.BackoffLimit != 0 || *s.ActiveDeadlineSeconds != 300 {
		t.Errorf("job spec: mode %v completions %d parallelism %d", *s.CompletionMode, *s.Completions, *s.Parallelism)
	}
	c := s.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	want := "load --target http://capture:8010 --token phc_x --duration 30s --rate 250 --worker-index $(JOB_COMPLETION_INDEX) --result-out -"
	if args != want || c.Command[0] != "shakedown" || s.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("container: %v %q, want args %q", c.Command, args, want)
	}
	if s.Template.Labels["app.kubernetes.io/instance"] != "load-eu" {
		t.Errorf("pod labels %v", s.Template.Labels)
	}
	if _, err := yaml.Marshal(job); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Spec{
		{Image: "i", Workers: 0, Rate: 10},
		{Workers: 2, Rate: 10},
		{Image: "i", Workers: 2},
		{Image: "i", Workers: 2, Rate: 10, Args: []string{"--rate=5"}},
	} {
		if _, err := Job(bad); err == nil {
			t.Errorf("Job(%+v) accepted a bad spec", bad)
		}
	}
}

// TestMergeOfInProcessWorkers runs three workers at a third of the rate each, passes
// their results through the log-line format, and merges them.
func TestMergeOfInProcessWorkers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	const workers, rate = 3, 300
	logs := make([]bytes.Buffer, workers)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := loadgen.Run(context.Background(), loadgen.Attack{
				Targeter: vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: srv.URL}),
				Pacer:    vegeta.ConstantPacer{Freq: rate / workers, Per: time.Second}, Duration: time.Second,
			})
			if err != nil {
				t.Error(err)
				return
			}
			logs[i].WriteString("12:00:00 attack done\n")
			if err := WriteResult(&logs[i], rec); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var recs []*record.Recorder
	for i := range logs {
		rec, err := ReadResult(&logs[i])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	total, err := Merge(recs...)
	if err != nil {
		t.Fatal(err)
	}
	s := total.Summary()
	if s.Workers != workers || s.Requests < 290 || s.Requested != 300 || s.Success != s.Requests {
		t.Errorf("merged: workers %d requests %d of %d success %d", s.Workers, s.Requests, s.Requested, s.Success)
	}
	if s.Rate < 270 || s.Rate > 310 || s.Intended.Count != s.Requests {
		t.Errorf("merged rate %.1f/s (want ≈300), intended count %d", s.Rate, s.Intended.Count)
	}
	if _, err := ReadResult(strings.NewReader("nothing here\n")); err == nil || !strings.Contains(err.Error(), "SHAKEDOWN_RESULT") {
		t.Errorf("ReadResult without a result line: %v", err)
	}
}

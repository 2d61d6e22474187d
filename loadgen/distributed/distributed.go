// Package distributed spreads a load attack over N generator pods: an indexed
// Kubernetes Job (batch/v1, completionMode Indexed) whose pods each run
// `shakedown load --worker-index $(JOB_COMPLETION_INDEX) --result-out -` at 1/N of
// the rate and print their serialized Recorder as one log line; the lead reads the
// pods' logs and merges the recorders into one report.
package distributed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// ResultPrefix starts the log line carrying a worker's serialized Recorder.
const ResultPrefix = "SHAKEDOWN_RESULT "

// Spec describes the Job of load workers.
type Spec struct {
	// Name of the Job (default "shakedown-load").
	Name string
	// Namespace (default "default").
	Namespace string
	// Image runs shakedown; its entrypoint may be anything, Command is set.
	Image string
	// Workers is the number of pods (completions and parallelism).
	Workers int
	// Rate is the total rate; each worker attacks at Rate/Workers.
	Rate float64
	// Args are the `shakedown load` flags every worker gets, except --rate,
	// --worker-index and --result-out, which Job adds. Job scales only --rate:
	// any other rate in Args (--steps, --ramp-from, --sine-amplitude) must
	// already be one worker's share (see pace.Spec.Scale).
	Args []string
	// Binary is the shakedown path in the image (default "shakedown").
	Binary string
	// Deadline bounds the Job (activeDeadlineSeconds; default none).
	Deadline time.Duration
}

func (s Spec) withDefaults() Spec {
	if s.Name == "" {
		s.Name = "shakedown-load"
	}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	if s.Binary == "" {
		s.Binary = "shakedown"
	}
	return s
}

// Job returns the indexed Job that runs spec's workers.
func Job(spec Spec) (*batchv1.Job, error) {
	spec = spec.withDefaults()
	if spec.Workers < 1 {
		return nil, fmt.Errorf("distributed load: %d workers: need at least 1", spec.Workers)
	}
	if spec.Image == "" {
		return nil, fmt.Errorf("distributed load: no image: pass an image that contains shakedown (--worker-image)")
	}
	if spec.Rate <= 0 {
		return nil, fmt.Errorf("distributed load: rate %v: need a positive total rate", spec.Rate)
	}
	for _, a := range spec.Args {
		for _, own := range []string{"--rate", "--worker-index", "--result-out", "--workers", "--kubeconfig"} {
			if a == own || strings.HasPrefix(a, own+"=") {
				return nil, fmt.Errorf("distributed load: worker argument %q is set per worker; leave it out", a)
			}
		}
	}
	n := int32(spec.Workers)
	mode := batchv1.IndexedCompletion
	backoff := int32(0)
	args := append([]string{"load"}, spec.Args...)
	args = append(args,
		"--rate", strconv.FormatFloat(spec.Rate/float64(spec.Workers), 'f', -1, 64),
		"--worker-index", "$(JOB_COMPLETION_INDEX)",
		"--result-out", "-",
	)
	labels := map[string]string{"app.kubernetes.io/name": "shakedown-load", "app.kubernetes.io/instance": spec.Name}
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: spec.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			CompletionMode: &mode,
			Completions:    &n,
			Parallelism:    &n,
			BackoffLimit:   &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name:    "load",
						Image:   spec.Image,
						Command: []string{spec.Binary},
						Args:    args,
						Env:     []corev1.EnvVar{{Name: "CI", Value: "true"}}, // quiet, line-oriented output
					}},
				},
			},
		},
	}
	if spec.Deadline > 0 {
		secs := int64(spec.Deadline.Seconds())
		job.Spec.ActiveDeadlineSeconds = &secs
	}
	return job, nil
}

// WriteResult prints rec as one ResultPrefix line to w.
func WriteResult(w io.Writer, rec *record.Recorder) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("serialize worker result: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(ResultPrefix)
	buf.Write(b)
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write worker result: %w", err)
	}
	return nil
}

// ReadResult finds the ResultPrefix line in a worker's output and decodes it.
func ReadResult(r io.Reader) (*record.Recorder, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, ResultPrefix); i >= 0 {
			return record.Decode([]byte(line[i+len(ResultPrefix):]))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read worker output: %w", err)
	}
	return nil, fmt.Errorf("no %q line in the worker's output: did it run `shakedown load --result-out -` to the end?", strings.TrimSpace(ResultPrefix))
}

// Merge combines workers' recorders into one.
func Merge(recs ...*record.Recorder) (*record.Recorder, error) {
	total := record.New(record.Options{})
	for i, r := range recs {
		if err := total.Merge(r); err != nil {
			return nil, fmt.Errorf("merge worker %d: %w", i, err)
		}
	}
	return total, nil
}

// Run creates the Job, waits for it to finish (or ctx to end), reads every pod's
// result line from its log and returns the merged recorder. The Job is deleted
// afterwards unless keep is set.
func Run(ctx context.Context, cs kubernetes.Interface, spec Spec, keep bool, progress func(string)) (*record.Recorder, error) {
	spec = spec.withDefaults()
	job, err := Job(spec)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	jobs := cs.BatchV1().Jobs(spec.Namespace)
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create job %s/%s: %w (delete it, or pick another name)", spec.Namespace, spec.Name, err)
		}
		return nil, fmt.Errorf("create job %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	if !keep {
		defer func() {
			bg := metav1.DeletePropagationBackground
			_ = jobs.Delete(context.WithoutCancel(ctx), spec.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
		}()
	}
	progress(fmt.Sprintf("job %s/%s: %d workers started", spec.Namespace, spec.Name, spec.Workers))
	for {
		j, err := jobs.Get(ctx, spec.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("watch job %s/%s: %w", spec.Namespace, spec.Name, err)
		}
		if done, failed := finished(j); done {
			if failed != "" {
				progress("job failed: " + failed + "; collecting what the workers wrote")
			}
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for job %s/%s: %w", spec.Namespace, spec.Name, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
	pods, err := cs.CoreV1().Pods(spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + spec.Name})
	if err != nil {
		return nil, fmt.Errorf("list worker pods of job %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	var recs []*record.Recorder
	var errs []string
	for _, p := range pods.Items {
		stream, err := cs.CoreV1().Pods(spec.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: "load"}).Stream(ctx)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: logs: %v", p.Name, err))
			continue
		}
		rec, err := ReadResult(stream)
		stream.Close()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no worker of job %s/%s reported a result: %s", spec.Namespace, spec.Name, strings.Join(errs, "; "))
	}
	if len(errs) > 0 {
		progress(fmt.Sprintf("%d of %d workers reported no result: %s", len(errs), len(pods.Items), strings.Join(errs, "; ")))
	}
	return Merge(recs...)
}

func finished(j *batchv1.Job) (bool, string) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, ""
		case batchv1.JobFailed:
			return true, c.Reason + ": " + c.Message
		}
	}
	return false, ""
}

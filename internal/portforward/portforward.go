// Package portforward forwards a port of 127.0.0.1 to a pod through the API server,
// as `kubectl port-forward` does, so tests reach in-cluster Services without exposing
// anything beyond this machine's loopback.
package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward is one running port-forward. Close it when done.
type Forward struct {
	// Addr is the local end, "127.0.0.1:PORT".
	Addr string
	// Pod is the pod forwarded to, and PodPort its port.
	Pod     string
	PodPort int
	stop    chan struct{}
	done    chan error
	once    sync.Once
}

// Close stops forwarding and waits for the forwarder to end. Safe to call more than once.
func (f *Forward) Close() {
	f.once.Do(func() {
		close(f.stop)
		<-f.done
	})
}

// ToPod forwards a free port of 127.0.0.1 to port of pod in namespace.
func ToPod(ctx context.Context, cfg *rest.Config, namespace, pod string, port int) (*Forward, error) {
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	host, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("port-forward: API server URL %q: %w", cfg.Host, err)
	}
	host.Path = strings.TrimSuffix(host.Path, "/") + fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/portforward", namespace, pod)
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, host)
	f := &Forward{Pod: pod, PodPort: port, stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, pod, port, err)
	}
	go func() { f.done <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-f.done:
		f.once.Do(func() {}) // the forwarder has ended: nothing for Close to do
		if err == nil {
			err = errors.New("ended before it was ready")
		}
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, pod, port, err)
	case <-ctx.Done():
		f.Close()
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, pod, port, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		f.Close()
		return nil, fmt.Errorf("port-forward to %s/%s:%d: no local port: %v", namespace, pod, port, err)
	}
	f.Addr = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	return f, nil
}

// ToService forwards a free port of 127.0.0.1 to a Ready pod behind Service svc's port
// servicePort (its targetPort, by number or by the pod's port name), as
// `kubectl port-forward svc/NAME` does. It waits up to wait for such a pod.
func ToService(ctx context.Context, cfg *rest.Config, namespace, svc string, servicePort int, wait time.Duration) (*Forward, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var last error
	deadline := time.Now().Add(wait)
	for {
		pod, port, err := servicePod(ctx, kube, namespace, svc, servicePort)
		if err == nil {
			return ToPod(ctx, cfg, namespace, pod, port)
		}
		last = err
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("port-forward to service %s/%s: %w", namespace, svc, last)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("port-forward to service %s/%s: %w (last: %v)", namespace, svc, ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}

// servicePod picks a Ready pod selected by svc and the pod port servicePort maps to.
func servicePod(ctx context.Context, kube kubernetes.Interface, namespace, svc string, servicePort int) (string, int, error) {
	s, err := kube.CoreV1().Services(namespace).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		return "", 0, err
	}
	var target *intstr.IntOrString
	for _, p := range s.Spec.Ports {
		if int(p.Port) == servicePort {
			t := p.TargetPort
			target = &t
		}
	}
	if target == nil {
		return "", 0, fmt.Errorf("service has no port %d", servicePort)
	}
	if len(s.Spec.Selector) == 0 {
		return "", 0, errors.New("service has no selector")
	}
	pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(s.Spec.Selector).String()})
	if err != nil {
		return "", 0, err
	}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil || !podReady(&pod) {
			continue
		}
		if port, ok := containerPort(&pod, *target, servicePort); ok {
			return pod.Name, port, nil
		}
	}
	return "", 0, fmt.Errorf("no Ready pod behind it (%d selected)", len(pods.Items))
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPort resolves a Service's targetPort on pod: a number is itself, a name is
// looked up among the containers' ports; an unset targetPort is the Service's port.
func containerPort(pod *corev1.Pod, target intstr.IntOrString, servicePort int) (int, bool) {
	if target.Type == intstr.Int {
		if target.IntVal == 0 {
			return servicePort, true
		}
		return int(target.IntVal), true
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == target.StrVal {
				return int(p.ContainerPort), true
			}
		}
	}
	return 0, false
}

package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/shakedown-dev/shakedown/suites/integration"
)

// TestFullFlowOnKubernetes1344 drives the library verbs one by one on a real
// 1.34.4 control plane: dry run, install of a previous release, assertions,
// upgrade to the working tree, rollback, uninstall leaving nothing.
func TestFullFlowOnKubernetes1344(t *testing.T) {
	ctx := context.Background()
	cl := startLocal(t, "1.34.4")
	target := newNamespace(t, cl, "flow-aws")
	kube, err := target.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := target.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	prev, err := integration.LoadChart(ctx, previousRelease(t), referenceChart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	prevVals, err := integration.ChartValues(prev, "aws", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	work, err := integration.LoadChart(ctx, referenceChart, referenceChart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	workVals, err := integration.ChartValues(work, "aws", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const name = "rs"

	dry, err := (&integration.Install{Target: target, ReleaseName: name, Chart: work, Values: workVals, DryRun: true}).Run(ctx)
	if err != nil {
		t.Fatalf("dry-run install: %v", err)
	}
	if err := integration.ServerSideDryRun(ctx, kube, dyn, target.Namespace, dry.Manifest); err != nil {
		t.Fatalf("server-side dry run: %v", err)
	}

	rel, err := (&integration.Install{Target: target, ReleaseName: name, Chart: prev, Values: prevVals, Timeout: 3 * time.Minute}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, rel, 1, "0.0.9")
	wantImageTag(t, kube, target.Namespace, "rs-reference-stack-capture", "0.0.9")
	assertAll(t, kube, target.Namespace)

	rel, err = (&integration.Upgrade{Target: target, ReleaseName: name, Chart: work, Values: workVals, Timeout: 3 * time.Minute}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, rel, 2, "0.1.0")
	wantImageTag(t, kube, target.Namespace, "rs-reference-stack-capture", "0.1.0")
	settled(t, kube, target.Namespace)

	rel, err = (&integration.Rollback{Target: target, ReleaseName: name, Revision: 1, Timeout: 3 * time.Minute}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, rel, 3, "0.0.9")
	wantImageTag(t, kube, target.Namespace, "rs-reference-stack-capture", "0.0.9")
	settled(t, kube, target.Namespace)

	if err := (&integration.Uninstall{Target: target, ReleaseName: name, Timeout: time.Minute}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := integration.Leftovers(ctx, target, rel.Manifest)
	if err != nil || len(left) != 0 {
		t.Fatalf("after uninstall: leftovers %v, err %v", left, err)
	}

	// The leftover check can fail: a stray object is named.
	_, err = kube.CoreV1().ConfigMaps(target.Namespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stray"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := integration.NoLeftovers(ctx, target, ""); err == nil || !strings.Contains(err.Error(), "ConfigMap flow-aws/stray") {
		t.Fatalf("NoLeftovers with a stray ConfigMap = %v, want it named", err)
	}
}

// assertAll runs every assertion once the release is installed.
func assertAll(t *testing.T, kube kubernetes.Interface, ns string) {
	t.Helper()
	checks := map[string]func(context.Context, kubernetes.Interface, string) error{
		"WorkloadsReady":                integration.WorkloadsReady,
		"ServicesHaveEndpoints":         integration.ServicesHaveEndpoints,
		"PVCsBound":                     integration.PVCsBound,
		"PVCsOnEncryptedStorageClass":   integration.PVCsOnEncryptedStorageClass,
		"NetworkPoliciesSelectEveryPod": integration.NetworkPoliciesSelectEveryPod,
		"ServiceAccountsLeastPrivilege": func(ctx context.Context, k kubernetes.Interface, ns string) error {
			return integration.ServiceAccountsLeastPrivilege(ctx, k, ns)
		},
	}
	for name, check := range checks {
		err := integration.Eventually(context.Background(), 30*time.Second, time.Second, func(ctx context.Context) error { return check(ctx, kube, ns) })
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Each assertion can fail on a real cluster too: a bare pod breaks
	// NetworkPolicy coverage once it is labelled outside the release.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "intruder", Labels: map[string]string{"app": "intruder"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
	if _, err := kube.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := integration.NetworkPoliciesSelectEveryPod(context.Background(), kube, ns)
	if err == nil || !strings.Contains(err.Error(), "Pod "+ns+"/intruder") {
		t.Errorf("NetworkPoliciesSelectEveryPod with an uncovered pod = %v, want it named", err)
	}
	zero := int64(0)
	if err := kube.CoreV1().Pods(ns).Delete(context.Background(), "intruder", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}

	// ... and binding the app's ServiceAccount to "edit" is caught by the
	// API server's RBAC authorizer.
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "too-much"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "rs-reference-stack", Namespace: ns}}}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(context.Background(), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "ServiceAccount " + ns + "/rs-reference-stack may get secrets in its namespace"
	err = integration.Eventually(context.Background(), 10*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		if err := integration.ServiceAccountsLeastPrivilege(ctx, kube, ns); err == nil || !strings.Contains(err.Error(), want) {
			return fmt.Errorf("ServiceAccountsLeastPrivilege with an edit RoleBinding = %v, want %q", err, want)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if err := kube.RbacV1().RoleBindings(ns).Delete(context.Background(), "too-much", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// settled waits for every workload to be ready again after a Helm step.
func settled(t *testing.T, kube kubernetes.Interface, ns string) {
	t.Helper()
	err := integration.Eventually(context.Background(), time.Minute, time.Second, func(ctx context.Context) error {
		return integration.WorkloadsReady(ctx, kube, ns)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func wantRelease(t *testing.T, rel *integration.Release, revision int, chartVersion string) {
	t.Helper()
	if rel.Revision != revision || rel.ChartVersion != chartVersion || rel.Status != "deployed" {
		t.Fatalf("release %s: revision %d chart %s status %s, want revision %d chart %s deployed",
			rel.Name, rel.Revision, rel.ChartVersion, rel.Status, revision, chartVersion)
	}
}

// wantImageTag checks the Deployment's image tag and that its rollout finished.
func wantImageTag(t *testing.T, kube kubernetes.Interface, ns, deployment, tag string) {
	t.Helper()
	d, err := kube.AppsV1().Deployments(ns).Get(context.Background(), deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, ":"+tag) {
		t.Fatalf("Deployment %s runs %s, want tag %s", deployment, img, tag)
	}
}

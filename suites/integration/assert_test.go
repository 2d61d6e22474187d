package integration

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func ptr[T any](v T) *T { return &v }

func wantProblems(t *testing.T, err error, check string, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s passed, want a failure naming %v", check, substrings)
	}
	for _, s := range substrings {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s error lacks %q:\n%v", check, s, err)
		}
	}
	if !strings.Contains(err.Error(), "fix:") {
		t.Errorf("%s error gives no fix:\n%v", check, err)
	}
}

func TestWorkloadsReadyNamesUnreadyDeploymentAndRestartingContainer(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "ns", Generation: 1}
	}
	c := fake.NewClientset(
		&appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(2))},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}},
		&appsv1.Deployment{ObjectMeta: meta("ok"), Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(1))},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}},
		&corev1.Pod{ObjectMeta: meta("web-1"), Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 2}}}},
	)
	err := WorkloadsReady(context.Background(), c, "ns")
	wantProblems(t, err, "WorkloadsReady", "Deployment ns/web: 1/2 replicas ready", "container app restarted 2 times")
	if strings.Contains(err.Error(), "ns/ok") {
		t.Errorf("ready Deployment reported: %v", err)
	}
}

func TestServicesHaveEndpointsNeedsAReadyEndpoint(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "web-x", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}}},
	}
	wantProblems(t, ServicesHaveEndpoints(context.Background(), fake.NewClientset(svc, slice), "ns"), "ServicesHaveEndpoints", "Service ns/web has no ready endpoint")
	slice.Endpoints[0].Conditions.Ready = ptr(true)
	if err := ServicesHaveEndpoints(context.Background(), fake.NewClientset(svc, slice), "ns"); err != nil {
		t.Fatalf("ready endpoint rejected: %v", err)
	}
}

func TestPVCsOnEncryptedStorageClassNeedsEncryptedParameterOnAWS(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr("gp3")}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
	plain := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "gp3"}, Provisioner: "ebs.csi.aws.com", Parameters: map[string]string{"type": "gp3"}}
	c := fake.NewClientset(pvc, plain)
	wantProblems(t, PVCsOnEncryptedStorageClass(context.Background(), c, "ns"), "PVCsOnEncryptedStorageClass", "StorageClass gp3", `parameters.encrypted: "true"`)
	wantProblems(t, PVCsBound(context.Background(), c, "ns"), "PVCsBound", "PersistentVolumeClaim ns/data is Pending")

	plain.Parameters["encrypted"] = "true"
	if err := PVCsOnEncryptedStorageClass(context.Background(), fake.NewClientset(pvc, plain), "ns"); err != nil {
		t.Fatalf("encrypted class rejected: %v", err)
	}
	local := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "gp3"}, Provisioner: "rancher.io/local-path"}
	wantProblems(t, PVCsOnEncryptedStorageClass(context.Background(), fake.NewClientset(pvc, local), "ns"), "PVCsOnEncryptedStorageClass", "rancher.io/local-path is not known to encrypt")
}

func TestNetworkPoliciesSelectEveryPodNeedsIngressAndEgress(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", Labels: map[string]string{"app": "web"}}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	ingressOnly := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "in", Namespace: "ns"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	wantProblems(t, NetworkPoliciesSelectEveryPod(context.Background(), fake.NewClientset(pod, ingressOnly), "ns"), "NetworkPoliciesSelectEveryPod", "Pod ns/web-1", "for Egress")
	both := ingressOnly.DeepCopy()
	both.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	if err := NetworkPoliciesSelectEveryPod(context.Background(), fake.NewClientset(pod, both), "ns"); err != nil {
		t.Fatalf("covered pod rejected: %v", err)
	}
}

func TestServiceAccountsLeastPrivilegeReportsAllowedAccess(t *testing.T) {
	c := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}})
	c.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		r := sar.Spec.ResourceAttributes
		sar.Status.Allowed = r.Verb == "list" && r.Resource == "secrets" && r.Namespace == ""
		return true, sar, nil
	})
	err := ServiceAccountsLeastPrivilege(context.Background(), c, "ns")
	wantProblems(t, err, "ServiceAccountsLeastPrivilege", "ServiceAccount ns/app may list secrets cluster-wide")
	if n := len(err.(*AssertionError).Problems); n != 1 {
		t.Errorf("%d problems, want only the allowed access:\n%v", n, err)
	}
}

func TestPodsReadyExplainsUnschedulablePod(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "ns"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available"}}}}
	wantProblems(t, PodsReady(context.Background(), fake.NewClientset(pod), "ns"), "PodsReady", "Pod ns/db-0 is Pending: PodScheduled=False Unschedulable 0/3 nodes are available")
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.ContainersReady, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := PodsReady(context.Background(), fake.NewClientset(pod), "ns"); err != nil {
		t.Fatalf("ready pod rejected: %v", err)
	}
}

package local

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NodeShape is the size of each fake node.
type NodeShape struct {
	CPU, Memory, EphemeralStorage string
	Pods                          int
	// InstanceType is the node.kubernetes.io/instance-type label.
	InstanceType string
}

// DefaultNodeShape is a typical small cloud worker (4 vCPU, 16 GiB, 110 pods).
func DefaultNodeShape() NodeShape {
	return NodeShape{CPU: "4", Memory: "16Gi", EphemeralStorage: "100Gi", Pods: 110, InstanceType: "m5.xlarge"}
}

// nodeZone spreads the nodes over three zones like a regional cluster.
func nodeZone(i int) string { return [...]string{"zone-a", "zone-b", "zone-c"}[i%3] }

// fakeNode is the Node object of fake node i, reporting kubeletVersion.
func fakeNode(i int, shape NodeShape, kubeletVersion string) (*corev1.Node, error) {
	name := fmt.Sprintf("kwok-node-%d", i)
	zone := nodeZone(i)
	res := corev1.ResourceList{}
	for k, v := range map[corev1.ResourceName]string{
		corev1.ResourceCPU:              shape.CPU,
		corev1.ResourceMemory:           shape.Memory,
		corev1.ResourceEphemeralStorage: shape.EphemeralStorage,
		corev1.ResourcePods:             fmt.Sprint(shape.Pods),
	} {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("node shape %s=%q: %w", k, v, err)
		}
		res[k] = q
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname":           name,
				"kubernetes.io/os":                 "linux",
				"kubernetes.io/arch":               "amd64",
				"node-role.kubernetes.io/worker":   "",
				"node.kubernetes.io/instance-type": shape.InstanceType,
				"topology.kubernetes.io/region":    "local",
				"topology.kubernetes.io/zone":      zone,
				"type":                             "kwok",
			},
		},
		Status: corev1.NodeStatus{
			Allocatable: res,
			Capacity:    res,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.1.0.%d", i+10)},
				{Type: corev1.NodeHostName, Address: name},
			},
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:            "amd64",
				OperatingSystem:         "linux",
				OSImage:                 "kwok fake node",
				KernelVersion:           "kwok",
				ContainerRuntimeVersion: "kwok://" + kubeletVersion,
				KubeletVersion:          kubeletVersion,
			},
		},
	}, nil
}

// createNodes registers n fake nodes (as kubelets do, status included).
func createNodes(ctx context.Context, cs kubernetes.Interface, n int, shape NodeShape, kubeletVersion string) error {
	for i := 0; i < n; i++ {
		node, err := fakeNode(i, shape, kubeletVersion)
		if err != nil {
			return err
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create fake node %s: %w", node.Name, err)
		}
	}
	return nil
}

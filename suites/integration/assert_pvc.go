package integration

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// defaultClassAnnotation marks the cluster's default StorageClass.
const defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"

// PVCsBound checks that every PersistentVolumeClaim in the namespace is Bound.
func PVCsBound(ctx context.Context, c kubernetes.Interface, namespace string) error {
	p := &problems{check: "PVCsBound", namespace: namespace}
	pvcs, err := c.CoreV1().PersistentVolumeClaims(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("PVCsBound: list PersistentVolumeClaims in %s: %w", namespace, err)
	}
	for _, pvc := range pvcs.Items {
		if pvc.Status.Phase != corev1.ClaimBound {
			why := ""
			if ev := lastEvent(ctx, c, namespace, "PersistentVolumeClaim", pvc.Name); ev != "" {
				why = "; last event " + ev
			}
			p.addf("PersistentVolumeClaim %s/%s is %s, not Bound (storage class %q%s) (fix: kubectl -n %s describe pvc %s; check a provisioner serves the class or a matching PersistentVolume exists)",
				namespace, pvc.Name, phaseOr(pvc.Status.Phase), className(pvc), why, namespace, pvc.Name)
		}
	}
	return p.err()
}

// PVCsOnEncryptedStorageClass checks that every PersistentVolumeClaim in the
// namespace uses a StorageClass (its own or the cluster default) whose
// provisioner encrypts at rest with its parameters: aws EBS needs
// encrypted: "true"; GCP PD, Azure Disk/File and DigitalOcean volumes always
// encrypt. Use it for clouds where [CloudHasEncryptedStorage] is true.
func PVCsOnEncryptedStorageClass(ctx context.Context, c kubernetes.Interface, namespace string) error {
	p := &problems{check: "PVCsOnEncryptedStorageClass", namespace: namespace}
	pvcs, err := c.CoreV1().PersistentVolumeClaims(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("PVCsOnEncryptedStorageClass: list PersistentVolumeClaims in %s: %w", namespace, err)
	}
	for _, pvc := range pvcs.Items {
		sc, err := storageClassOf(ctx, c, pvc)
		if err != nil {
			return err
		}
		if sc == nil {
			p.addf("PersistentVolumeClaim %s/%s has no storage class and the cluster has no default one (fix: set storageClassName to an encrypting class)", namespace, pvc.Name)
			continue
		}
		if ok, why := encrypts(sc.Provisioner, sc.Parameters); !ok {
			p.addf("PersistentVolumeClaim %s/%s uses StorageClass %s: %s", namespace, pvc.Name, sc.Name, why)
		}
	}
	return p.err()
}

// storageClassOf returns the PVC's StorageClass, or the cluster default when
// the claim names none; nil when there is none.
func storageClassOf(ctx context.Context, c kubernetes.Interface, pvc corev1.PersistentVolumeClaim) (*storagev1.StorageClass, error) {
	if name := className(pvc); name != "" {
		sc, err := c.StorageV1().StorageClasses().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "<missing StorageClass " + name + ">"}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("PVCsOnEncryptedStorageClass: get StorageClass %s of PersistentVolumeClaim %s/%s: %w", name, pvc.Namespace, pvc.Name, err)
		}
		return sc, nil
	}
	list, err := c.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("PVCsOnEncryptedStorageClass: list StorageClasses: %w", err)
	}
	for i := range list.Items {
		if list.Items[i].Annotations[defaultClassAnnotation] == "true" {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// className is the claim's storageClassName, "" when unset.
func className(pvc corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName == nil {
		return ""
	}
	return *pvc.Spec.StorageClassName
}

func phaseOr(p corev1.PersistentVolumeClaimPhase) string {
	if p == "" {
		return "without phase"
	}
	return string(p)
}

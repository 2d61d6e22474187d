package local

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// StorageClass names created in every local cluster, one per emulated cloud, named as
// the clouds name their defaults.
const (
	// ClassAWS is EKS's EBS CSI gp3, encrypted.
	ClassAWS = "gp3"
	// ClassGCP is GKE's PD CSI balanced disk.
	ClassGCP = "standard-rwo"
	// ClassAzure is AKS's Azure Disk CSI class.
	ClassAzure = "managed-csi"
	// ClassDigitalOcean is DOKS's block storage class.
	ClassDigitalOcean = "do-block-storage"
	// ClassK3s is k3s's local-path class.
	ClassK3s = "local-path"
)

// Provisioner names of the emulated CSI drivers. The in-process provisioner serves
// every StorageClass using one of them, including classes a chart creates itself.
const (
	ProvisionerAWS          = "ebs.csi.aws.com"
	ProvisionerGCP          = "pd.csi.storage.gke.io"
	ProvisionerAzure        = "disk.csi.azure.com"
	ProvisionerDigitalOcean = "dobs.csi.digitalocean.com"
	ProvisionerK3s          = "rancher.io/local-path"
)

// isEmulatedProvisioner reports whether the in-process provisioner serves p.
func isEmulatedProvisioner(p string) bool {
	switch p {
	case ProvisionerAWS, ProvisionerGCP, ProvisionerAzure, ProvisionerDigitalOcean, ProvisionerK3s:
		return true
	}
	return false
}

// storageClasses returns the classes of the emulated clouds, with defaultClass marked
// as the cluster default. Binding modes follow each cloud's own default class.
func storageClasses(defaultClass string) []*storagev1.StorageClass {
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	immediate := storagev1.VolumeBindingImmediate
	del := corev1.PersistentVolumeReclaimDelete
	expand := true
	mk := func(name, provisioner string, mode storagev1.VolumeBindingMode, params map[string]string) *storagev1.StorageClass {
		sc := &storagev1.StorageClass{
			ObjectMeta:           metav1.ObjectMeta{Name: name, Labels: map[string]string{"shakedown.dev/emulated": "true"}},
			Provisioner:          provisioner,
			Parameters:           params,
			ReclaimPolicy:        &del,
			VolumeBindingMode:    &mode,
			AllowVolumeExpansion: &expand,
		}
		if name == defaultClass {
			sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		return sc
	}
	return []*storagev1.StorageClass{
		mk(ClassAWS, ProvisionerAWS, wait, map[string]string{"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"}),
		mk(ClassGCP, ProvisionerGCP, wait, map[string]string{"type": "pd-balanced"}),
		mk(ClassAzure, ProvisionerAzure, wait, map[string]string{"skuName": "StandardSSD_LRS"}),
		mk(ClassDigitalOcean, ProvisionerDigitalOcean, immediate, nil),
		mk(ClassK3s, ProvisionerK3s, wait, nil),
	}
}

// createStorageClasses creates the emulated clouds' classes.
func createStorageClasses(ctx context.Context, cs kubernetes.Interface, defaultClass string) error {
	classes := storageClasses(defaultClass)
	found := false
	for _, sc := range classes {
		found = found || sc.Name == defaultClass
	}
	if !found && defaultClass != "" {
		return fmt.Errorf("default storage class %q: want one of %s, %s, %s, %s, %s", defaultClass,
			ClassAWS, ClassGCP, ClassAzure, ClassDigitalOcean, ClassK3s)
	}
	for _, sc := range classes {
		if _, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create storage class %s: %w", sc.Name, err)
		}
	}
	return nil
}

package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

const (
	annSelectedNode  = "volume.kubernetes.io/selected-node"
	annProvisionedBy = "pv.kubernetes.io/provisioned-by"
)

// provisioner plays the external CSI provisioners of the emulated clouds: for each
// pending claim of a class it serves (once a node is selected, for
// WaitForFirstConsumer classes) it creates a PV pre-bound to the claim, which the PV
// controller then binds; released PVs with reclaim policy Delete are deleted.
type provisioner struct {
	// hostPathRoot, when set, is where local-path volumes really are: the provisioner
	// makes each directory (mode 0777, as local-path-provisioner does, so pods of any
	// uid write to it) for a real node to mount.
	hostPathRoot string
	cs           kubernetes.Interface
	log          *slog.Logger
	classes      cache.Indexer
	nodes        cache.Indexer
}

// runProvisioner starts the provisioner, which runs until ctx ends; it returns once
// its caches are filled, or with an error when waitCtx ends first.
func runProvisioner(ctx, waitCtx context.Context, cs kubernetes.Interface, log *slog.Logger, hostPathRoot string) error {
	f := informers.NewSharedInformerFactory(cs, 2*time.Second) // resync retries failed work
	p := &provisioner{cs: cs, log: log, hostPathRoot: hostPathRoot}
	scInf := f.Storage().V1().StorageClasses().Informer()
	nodeInf := f.Core().V1().Nodes().Informer()
	p.classes, p.nodes = scInf.GetIndexer(), nodeInf.GetIndexer()
	claims := f.Core().V1().PersistentVolumeClaims().Informer()
	if _, err := claims.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.syncClaim(ctx, obj) },
		UpdateFunc: func(_, obj any) { p.syncClaim(ctx, obj) },
	}); err != nil {
		return fmt.Errorf("provisioner: watch claims: %w", err)
	}
	volumes := f.Core().V1().PersistentVolumes().Informer()
	if _, err := volumes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.syncVolume(ctx, obj) },
		UpdateFunc: func(_, obj any) { p.syncVolume(ctx, obj) },
	}); err != nil {
		return fmt.Errorf("provisioner: watch volumes: %w", err)
	}
	f.Start(ctx.Done())
	go func() { <-ctx.Done(); f.Shutdown() }()
	for typ, ok := range f.WaitForCacheSync(waitCtx.Done()) {
		if !ok {
			return fmt.Errorf("provisioner: cache of %v did not sync: %w", typ, waitCtx.Err())
		}
	}
	return nil
}

func (p *provisioner) syncClaim(ctx context.Context, obj any) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok || pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending ||
		pvc.DeletionTimestamp != nil || pvc.Spec.StorageClassName == nil {
		return
	}
	item, exists, _ := p.classes.GetByKey(*pvc.Spec.StorageClassName)
	if !exists {
		return
	}
	sc := item.(*storagev1.StorageClass)
	if !isEmulatedProvisioner(sc.Provisioner) {
		return
	}
	node := pvc.Annotations[annSelectedNode]
	if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer && node == "" {
		return // the scheduler picks the node first
	}
	pv := p.volumeFor(pvc, sc, node)
	if hp := pv.Spec.HostPath; hp != nil && p.hostPathRoot != "" {
		if err := os.MkdirAll(hp.Path, 0o755); err != nil {
			p.log.Warn("provision volume directory (retrying)", "claim", pvc.Namespace+"/"+pvc.Name, "err", err)
			return
		}
		if err := os.Chmod(hp.Path, 0o777); err != nil { // not subject to the umask
			p.log.Warn("provision volume directory (retrying)", "claim", pvc.Namespace+"/"+pvc.Name, "err", err)
			return
		}
	}
	if _, err := p.cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
		p.log.Warn("provision volume (retrying)", "claim", pvc.Namespace+"/"+pvc.Name, "err", err)
	}
}

// volumeFor builds the PV a CSI driver would: same capacity, modes and class, the
// class parameters as volume attributes, and topology of the selected node.
func (p *provisioner) volumeFor(pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass, node string) *corev1.PersistentVolume {
	reclaim := corev1.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	attrs := map[string]string{"storage.kubernetes.io/csiProvisionerIdentity": "shakedown-local"}
	for k, v := range sc.Parameters {
		attrs[k] = v
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "pvc-" + string(pvc.UID),
			Annotations: map[string]string{annProvisionedBy: sc.Provisioner},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			VolumeMode:                    pvc.Spec.VolumeMode,
			StorageClassName:              sc.Name,
			PersistentVolumeReclaimPolicy: reclaim,
			MountOptions:                  sc.MountOptions,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion,
			},
			PersistentVolumeSource: volumeSource(sc.Provisioner, pvc, attrs, p.hostPathRoot),
		},
	}
	if node != "" {
		pv.Spec.NodeAffinity = p.affinity(sc.Provisioner, node)
	}
	return pv
}

// volumeSource is what the emulated provisioner would make: a hostPath directory for
// k3s's local-path provisioner (not a CSI driver; its name is not even a valid CSI
// driver name), a CSI volume carrying the class parameters for the cloud drivers.
func volumeSource(provisioner string, pvc *corev1.PersistentVolumeClaim, attrs map[string]string, hostPathRoot string) corev1.PersistentVolumeSource {
	if provisioner == ProvisionerK3s {
		dirOrCreate := corev1.HostPathDirectoryOrCreate
		root := hostPathRoot
		if root == "" {
			root = "/var/lib/rancher/k3s/storage"
		}
		return corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: filepath.Join(root, "pvc-"+string(pvc.UID)+"_"+pvc.Namespace+"_"+pvc.Name),
			Type: &dirOrCreate,
		}}
	}
	return corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
		Driver:           provisioner,
		VolumeHandle:     "shakedown-" + string(pvc.UID),
		FSType:           "ext4",
		VolumeAttributes: attrs,
	}}
}

// affinity pins a volume where its cloud would: local-path to the node, disks to the
// node's zone.
func (p *provisioner) affinity(provisioner, node string) *corev1.VolumeNodeAffinity {
	key, value := "kubernetes.io/hostname", node
	if provisioner != ProvisionerK3s {
		item, exists, _ := p.nodes.GetByKey(node)
		if !exists {
			return nil
		}
		zone := item.(*corev1.Node).Labels["topology.kubernetes.io/zone"]
		if zone == "" {
			return nil
		}
		key, value = "topology.kubernetes.io/zone", zone
	}
	return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}},
	}}}}
}

// syncVolume deletes released volumes this provisioner made, as the CSI drivers do
// for reclaim policy Delete.
func (p *provisioner) syncVolume(ctx context.Context, obj any) {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok || pv.Status.Phase != corev1.VolumeReleased || pv.DeletionTimestamp != nil ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		!isEmulatedProvisioner(pv.Annotations[annProvisionedBy]) {
		return
	}
	err := p.cs.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		p.log.Warn("delete released volume (retrying)", "volume", pv.Name, "err", err)
	}
}

package integration

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/restmapper"
)

// everyNamespaceHas is what Kubernetes itself keeps in every namespace.
func everyNamespaceHas(gvr schema.GroupVersionResource, name string) bool {
	switch {
	case gvr.Group == "" && gvr.Resource == "serviceaccounts" && name == "default":
		return true
	case gvr.Group == "" && gvr.Resource == "configmaps" && name == "kube-root-ca.crt":
		return true
	}
	return false
}

// ignoredResource is never counted as left behind: events age out on their
// own; v1 Endpoints mirror the EndpointSlices, which are checked.
func ignoredResource(gvr schema.GroupVersionResource) bool {
	switch {
	case gvr.Resource == "events" && (gvr.Group == "" || gvr.Group == "events.k8s.io"):
		return true
	case gvr.Resource == "endpoints" && gvr.Group == "":
		return true
	}
	return false
}

// Leftovers lists what remains of a release after uninstall: every object in
// the target's namespace except what Kubernetes keeps in each namespace (the
// default ServiceAccount, kube-root-ca.crt) and events; the cluster-scoped
// objects of manifest that still exist; and PersistentVolumes still claimed
// from the namespace. Each is named as "Kind namespace/name".
func Leftovers(ctx context.Context, t Target, manifest string) ([]string, error) {
	kube, err := t.Clientset()
	if err != nil {
		return nil, err
	}
	dyn, err := t.Dynamic()
	if err != nil {
		return nil, err
	}
	lists, err := kube.Discovery().ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("integration: discover namespaced resources: %w", err)
	}
	var left []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if !slices.Contains(r.Verbs, "list") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			if ignoredResource(gvr) {
				continue
			}
			objs, err := dyn.Resource(gvr).Namespace(t.Namespace).List(ctx, metav1.ListOptions{})
			if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("integration: list %s in %s: %w", gvr, t.Namespace, err)
			}
			for _, o := range objs.Items {
				if !everyNamespaceHas(gvr, o.GetName()) {
					left = append(left, fmt.Sprintf("%s %s/%s", r.Kind, t.Namespace, o.GetName()))
				}
			}
		}
	}
	cluster, err := clusterScopedLeftovers(ctx, t, manifest)
	if err != nil {
		return nil, err
	}
	return append(left, cluster...), nil
}

// clusterScopedLeftovers lists the manifest's cluster-scoped objects that
// still exist and the PersistentVolumes still claimed from the namespace.
func clusterScopedLeftovers(ctx context.Context, t Target, manifest string) ([]string, error) {
	kube, err := t.Clientset()
	if err != nil {
		return nil, err
	}
	dyn, err := t.Dynamic()
	if err != nil {
		return nil, err
	}
	var left []string
	objs, err := ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	if len(objs) > 0 {
		groups, err := restmapper.GetAPIGroupResources(kube.Discovery())
		if err != nil {
			return nil, fmt.Errorf("integration: discover the API server's resources: %w", err)
		}
		mapper := restmapper.NewDiscoveryRESTMapper(groups)
		for _, o := range objs {
			gvk := o.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil || m.Scope.Name() != meta.RESTScopeNameRoot {
				continue
			}
			_, err = dyn.Resource(m.Resource).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err == nil {
				left = append(left, fmt.Sprintf("%s %s (cluster-scoped)", gvk.Kind, o.GetName()))
			} else if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("integration: get %s: %w", describe(o), err)
			}
		}
	}
	pvs, err := kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("integration: list PersistentVolumes: %w", err)
	}
	for _, pv := range pvs.Items {
		if ref := pv.Spec.ClaimRef; ref != nil && ref.Namespace == t.Namespace {
			left = append(left, fmt.Sprintf("PersistentVolume %s (claimed by %s/%s, %s)", pv.Name, ref.Namespace, ref.Name, pv.Status.Phase))
		}
	}
	return left, nil
}

// NoLeftovers fails when Leftovers finds anything, naming each object.
func NoLeftovers(ctx context.Context, t Target, manifest string) error {
	left, err := Leftovers(ctx, t, manifest)
	if err != nil {
		return err
	}
	if len(left) == 0 {
		return nil
	}
	p := &problems{check: "NoLeftovers", namespace: t.Namespace}
	for _, l := range left {
		p.addf("%s left behind after uninstall (fix: let Helm own it, add an ownerReference, or for StatefulSet PVCs set persistentVolumeClaimRetentionPolicy.whenDeleted: Delete)", l)
	}
	return p.err()
}

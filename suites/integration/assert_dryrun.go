package integration

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
)

// ServerSideDryRun sends every object of a rendered manifest to the API
// server as a server-side apply with dryRun=All, so admission, validation
// and the served API versions are checked without changing anything.
// Namespaced objects without a namespace go to namespace.
func ServerSideDryRun(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface, namespace, manifest string) error {
	p := &problems{check: "ServerSideDryRun", namespace: namespace}
	objs, err := ParseManifest(manifest)
	if err != nil {
		return err
	}
	groups, err := restmapper.GetAPIGroupResources(kube.Discovery())
	if err != nil {
		return fmt.Errorf("ServerSideDryRun: discover the API server's resources: %w", err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	server := "the server"
	if v, err := kube.Discovery().ServerVersion(); err == nil {
		server = "Kubernetes " + v.GitVersion
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			p.addf("%s: apiVersion %s kind %s is not served by %s (fix: move to an apiVersion the server serves, e.g. check kubectl api-resources; removed APIs are listed in the Kubernetes deprecation guide)",
				describe(o), gvk.GroupVersion(), gvk.Kind, server)
			continue
		}
		if err != nil {
			return fmt.Errorf("ServerSideDryRun: map %s: %w", describe(o), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				o.SetNamespace(namespace)
			}
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		_, err = ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "shakedown-dry-run", Force: true, DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			p.addf("%s: server-side dry run rejected it: %v (fix: correct the template so %s accepts the object)", describe(o), err, server)
		}
	}
	return p.err()
}

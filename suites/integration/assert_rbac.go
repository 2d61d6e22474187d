package integration

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Access is one API action a ServiceAccount might be allowed.
type Access struct {
	Verb        string
	Group       string // "" for the core group
	Resource    string
	Subresource string
	// ClusterWide asks about every namespace instead of the SA's own.
	ClusterWide bool
}

func (a Access) String() string {
	res := a.Resource
	if a.Group != "" {
		res += "." + a.Group
	}
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	where := "in its namespace"
	if a.ClusterWide {
		where = "cluster-wide"
	}
	return fmt.Sprintf("%s %s %s", a.Verb, res, where)
}

// ForbiddenAccess is what no workload ServiceAccount of the stack needs:
// reading secrets beyond what its pods mount, starting or exec-ing into pods,
// granting itself more rights, impersonating, or anything on everything.
func ForbiddenAccess() []Access {
	return []Access{
		{Verb: "list", Resource: "secrets", ClusterWide: true},
		{Verb: "list", Resource: "secrets"},
		{Verb: "get", Resource: "secrets"},
		{Verb: "create", Resource: "pods"},
		{Verb: "create", Resource: "pods", Subresource: "exec"},
		{Verb: "create", Group: "apps", Resource: "deployments"},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "rolebindings"},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", ClusterWide: true},
		{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "roles"},
		{Verb: "impersonate", Resource: "users", ClusterWide: true},
		{Verb: "delete", Resource: "namespaces", ClusterWide: true},
		{Verb: "*", Group: "*", Resource: "*", ClusterWide: true},
	}
}

// ServiceAccountsLeastPrivilege checks, with SubjectAccessReviews, that no
// ServiceAccount in the namespace is allowed any of ForbiddenAccess() nor
// the extra accesses given. It needs an API server authorizing with RBAC (or
// another real authorizer); under AlwaysAllow every check fails.
func ServiceAccountsLeastPrivilege(ctx context.Context, c kubernetes.Interface, namespace string, extra ...Access) error {
	p := &problems{check: "ServiceAccountsLeastPrivilege", namespace: namespace}
	sas, err := c.CoreV1().ServiceAccounts(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("ServiceAccountsLeastPrivilege: list ServiceAccounts in %s: %w", namespace, err)
	}
	checks := append(ForbiddenAccess(), extra...)
	for _, sa := range sas.Items {
		user := "system:serviceaccount:" + namespace + ":" + sa.Name
		for _, a := range checks {
			allowed, reason, err := canI(ctx, c, user, namespace, a)
			if err != nil {
				return fmt.Errorf("ServiceAccountsLeastPrivilege: SubjectAccessReview for ServiceAccount %s/%s (%s): %w", namespace, sa.Name, a, err)
			}
			if allowed {
				p.addf("ServiceAccount %s/%s may %s (%s) (fix: remove the Role/ClusterRole rule or binding granting it; kubectl auth can-i %s %s --as %s -n %s)",
					namespace, sa.Name, a, reasonOr(reason), a.Verb, a.Resource, user, namespace)
			}
		}
	}
	return p.err()
}

// canI asks the API server whether user may perform a.
func canI(ctx context.Context, c kubernetes.Interface, user, namespace string, a Access) (bool, string, error) {
	ns := namespace
	if a.ClusterWide {
		ns = ""
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: a.Verb, Group: a.Group, Resource: a.Resource, Subresource: a.Subresource,
		},
	}}
	res, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, "", err
	}
	return res.Status.Allowed, res.Status.Reason, nil
}

func reasonOr(r string) string {
	if r == "" {
		return "no reason given"
	}
	return r
}

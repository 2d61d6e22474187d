package integration

import (
	"context"
	"strings"
	"time"
)

// diagnose explains a failed wait: which workloads and pods are not ready
// and why, which claims are not bound and why, as a suffix for an error
// message ("" when all is well or the cluster cannot be asked).
func diagnose(ctx context.Context, t Target) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	c, err := t.Clientset()
	if err != nil {
		return ""
	}
	var parts []string
	for _, check := range []func(context.Context) error{
		func(ctx context.Context) error { return WorkloadsReady(ctx, c, t.Namespace) },
		func(ctx context.Context) error { return PodsReady(ctx, c, t.Namespace) },
		func(ctx context.Context) error { return PVCsBound(ctx, c, t.Namespace) },
	} {
		if err := check(ctx); err != nil {
			parts = append(parts, err.Error())
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n" + strings.Join(parts, "\n")
}

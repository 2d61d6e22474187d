// Package integration is shakedown's cluster layer for a Helm chart: it installs,
// upgrades, rolls back and uninstalls a chart on real Kubernetes control planes
// in-process with the Helm v4 SDK, and checks the cluster after every step.
//
// It has three parts, usable on their own:
//
//   - Helm actions in the style of helm's pkg/action, one struct per action with
//     explicit options and a Run: [Install], [Upgrade], [Rollback], [Uninstall].
//     Each waits for its resources; [Uninstall] also fails when objects remain
//     in the namespace ([Leftovers]).
//   - Assertions in the style of terratest: small verbs taking a context, a
//     client and a namespace, returning an error that names the object and the
//     fix: [WorkloadsReady], [PodsReady], [ServicesHaveEndpoints], [PVCsBound],
//     [PVCsOnEncryptedStorageClass], [NetworkPoliciesSelectEveryPod],
//     [ServiceAccountsLeastPrivilege], [ServerSideDryRun]. [Eventually] retries
//     any of them until it passes.
//   - [Run], a runner over Kubernetes version × cloud overlay × step, whose [Report]
//     is written as text, JSON or JUnit XML by the encoders in encode_*.go.
//
// The layer talks to a cluster through a [Target] (a *rest.Config and a
// namespace), so it works with any cluster provider.
package integration

// Package lint is shakedown's static layer for a Helm chart.
//
// [Run] lints a chart for every cloud overlay × Kubernetes version of the
// matrix, in-process with the Helm v4 SDK:
//
//   - strict `helm lint` (warnings count as errors), rule SD100;
//   - a render per cell with .Capabilities.KubeVersion and
//     .Capabilities.APIVersions of that version, every rendered object decoded
//     strictly into its typed Kubernetes kind: unknown fields, wrong types and
//     duplicate keys are errors (SD101-SD103), kinds without a known schema are
//     notices (SD104);
//   - per-version API availability from the table in data/apis.yaml: removed,
//     deprecated and not-yet-served apiVersions (SD110-SD112);
//   - policy rules SD001-SD010 (resources, probes, security context, pinned
//     images, PodDisruptionBudgets, NetworkPolicy coverage, encrypted storage,
//     host access).
//
// An object opts out of policy rules with the annotation
// `shakedown.dev/waive: "SD004,SD006"` (and optionally
// `shakedown.dev/waive-reason`); waived findings stay in the [Report], marked
// waived. Reports are written by the encoders in encode_*.go, separately from
// running.
package lint

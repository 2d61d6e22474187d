// Package kubeschema validates rendered Kubernetes objects against the
// OpenAPI schema of one Kubernetes version, and custom resources against the
// schema of their CustomResourceDefinition.
//
// A [Source] finds the spec of a version in the k8s.io/kubernetes Go module
// (api/openapi-spec/v3/*.json, one file per group-version; versions before
// 1.24 only ship the OpenAPI v2 api/openapi-spec/swagger.json, which is used
// instead), fetched with `go mod download`. A [Spec] parses the file of a
// group-version only when an object of that group-version is validated, and
// keeps one copy of each definition shared by its files.
//
// [Spec.Validate] reports [Problem]s with Kubernetes field paths
// (spec.ports[0].port, metadata.labels[app]): missing required fields, wrong
// types, base64 (format byte) and RFC 3339 (format date-time) strings,
// int32/int64 ranges, quantities, enum values, and fields the schema does
// not declare (a field of a newer Kubernetes used on an older one). The
// published specs carry no enums; they are read from the same module's
// generated Go definitions (pkg/generated/openapi, 1.24 and newer).
// Kubernetes' own JSON types are honoured: IntOrString, Quantity (string or
// number), Time, RawExtension and x-kubernetes-preserve-unknown-fields.
// JSON nulls are dropped before validating, as the API server decodes them to
// zero values, so a null optional field passes and a null required field is
// reported as required.
//
// A [CRDValidator] checks custom resources the way the API server does, with
// k8s.io/apiextensions-apiserver: defaulting, pruning (reported as unknown
// fields), ObjectMeta coercion and the OpenAPI schema validation.
// x-kubernetes-validations (CEL) rules are not evaluated.
package kubeschema

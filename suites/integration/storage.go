package integration

import "fmt"

// provisionerCrypto says when a provisioner's volumes are encrypted at rest:
// always, or when parameters[parameter] == value.
type provisionerCrypto struct {
	always           bool
	parameter, value string
}

// encryptingProvisioners is what shakedown knows about encryption at rest per
// CSI/in-tree provisioner (the same facts as the lint layer's storage table).
func encryptingProvisioners() map[string]provisionerCrypto {
	return map[string]provisionerCrypto{
		"ebs.csi.aws.com":           {parameter: "encrypted", value: "true"},
		"kubernetes.io/aws-ebs":     {parameter: "encrypted", value: "true"},
		"pd.csi.storage.gke.io":     {always: true},
		"kubernetes.io/gce-pd":      {always: true},
		"disk.csi.azure.com":        {always: true},
		"kubernetes.io/azure-disk":  {always: true},
		"file.csi.azure.com":        {always: true},
		"kubernetes.io/azure-file":  {always: true},
		"dobs.csi.digitalocean.com": {always: true},
	}
}

// CloudHasEncryptedStorage tells whether a cloud overlay's volumes can be
// encrypted at rest, i.e. whether [PVCsOnEncryptedStorageClass] applies to it
// (k3s' local-path volumes cannot).
func CloudHasEncryptedStorage(cloud string) bool {
	switch cloud {
	case "aws", "gcp", "azure", "digitalocean":
		return true
	}
	return false
}

// encrypts tells whether a provisioner with parameters encrypts at rest, and
// if not, why and how to fix it.
func encrypts(provisioner string, params map[string]string) (bool, string) {
	p, ok := encryptingProvisioners()[provisioner]
	switch {
	case !ok:
		return false, fmt.Sprintf("provisioner %s is not known to encrypt at rest (fix: use an encrypting CSI driver such as ebs.csi.aws.com with encrypted: \"true\", pd.csi.storage.gke.io, disk.csi.azure.com or dobs.csi.digitalocean.com)", provisioner)
	case p.always || params[p.parameter] == p.value:
		return true, ""
	default:
		return false, fmt.Sprintf("provisioner %s encrypts only with parameters.%s: %q (fix: set it in the StorageClass)", provisioner, p.parameter, p.value)
	}
}

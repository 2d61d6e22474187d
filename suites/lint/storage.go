package lint

import (
	_ "embed"
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"
)

//go:embed data/storage.yaml
var storageYAML []byte

// storageTable is data/storage.yaml: what SD009 knows about encryption at rest.
type storageTable struct {
	Clouds       map[string]cloudStorage      `json:"clouds"`
	Provisioners map[string]provisionerCrypto `json:"provisioners"`
}

// cloudStorage is one cloud's default and encrypting built-in storage classes.
type cloudStorage struct {
	Default   string   `json:"default"`
	Encrypted []string `json:"encrypted"`
}

// provisionerCrypto tells whether a provisioner's volumes are encrypted.
type provisionerCrypto struct {
	Always    bool   `json:"always,omitempty"`
	Parameter string `json:"parameter,omitempty"`
	Value     string `json:"value,omitempty"`
}

// loadStorageTable parses the embedded data/storage.yaml.
func loadStorageTable() (storageTable, error) {
	var t storageTable
	if err := yaml.UnmarshalStrict(storageYAML, &t); err != nil {
		return t, fmt.Errorf("lint: data/storage.yaml: %w", err)
	}
	return t, nil
}

// encrypts says whether a provisioner with parameters encrypts at rest, and
// if not, why.
func (t storageTable) encrypts(provisioner string, params map[string]string) (bool, string) {
	p, ok := t.Provisioners[provisioner]
	switch {
	case !ok:
		return false, fmt.Sprintf("provisioner %s is unknown to shakedown, so encryption at rest cannot be confirmed", provisioner)
	case p.Always:
		return true, ""
	case params[p.Parameter] == p.Value:
		return true, ""
	default:
		return false, fmt.Sprintf("provisioner %s encrypts only with parameters.%s: %q", provisioner, p.Parameter, p.Value)
	}
}

// builtinEncrypted reports whether a cloud's built-in class encrypts at rest.
func (cs cloudStorage) builtinEncrypted(class string) bool {
	return slices.Contains(cs.Encrypted, class)
}

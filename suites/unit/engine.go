package unit

import (
	"sync"
	_ "unsafe" // go:linkname, for the engine's version below

	v3util "helm.sh/helm/v3/pkg/chartutil"
)

// engineMu serializes the engine's work in this process. Each case the engine
// renders writes its Kubernetes and API versions into Helm's package variable
// chartutil.DefaultCapabilities and renders through it, so two suites must not
// render at once in one process, even from two concurrent Run calls.
var engineMu sync.Mutex

// defaultKubeVersion is Helm's default .Capabilities.KubeVersion, saved before
// any render. The engine leaves the last case's version in the package
// variable, where every later case that sets none would inherit it; each suite
// starts again from this default, so a verdict does not depend on which suites
// ran before it in the same process.
var defaultKubeVersion = v3util.DefaultCapabilities.KubeVersion

// EngineVersion is the version of helm-unittest's module this package is
// built with (go.mod); a test holds the two together.
const EngineVersion = "v1.1.2"

// engineVersion is the engine's idea of its own version, which suites compare
// with `skip.minimumVersion`. helm-unittest's release builds set it with the
// linker; a program that imports the engine would report the placeholder
// "0.1.0" and skip suites that helm-unittest runs, so it is set here.
//
//go:linkname engineVersion github.com/helm-unittest/helm-unittest/internal/build.version
var engineVersion string

func init() { engineVersion = EngineVersion }

// withEngine runs f holding the engine to this goroutine, from Helm's default
// Kubernetes version.
func withEngine(f func()) {
	engineMu.Lock()
	defer engineMu.Unlock()
	v3util.DefaultCapabilities.KubeVersion = defaultKubeVersion
	f()
}

package kubebin

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// kubeModFacts are the parts of k8s.io/kubernetes's own go.mod a throwaway build module
// must repeat.
type kubeModFacts struct {
	// GoVersion is the go directive.
	GoVersion string
	// Godebug lines (without the keyword), e.g. "default=go1.24".
	Godebug []string
	// Staging lists the modules replaced by ./staging/src/... directories. A module
	// depending on k8s.io/kubernetes must replace each with its published v0.Y.Z.
	Staging []string
}

// parseKubeGoMod reads the facts from the text of k8s.io/kubernetes's go.mod.
func parseKubeGoMod(data []byte) (kubeModFacts, error) {
	var f kubeModFacts
	block := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		if block != "" {
			if line == ")" {
				block = ""
				continue
			}
			f.add(block, line)
			continue
		}
		kw, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		if rest == "(" {
			block = kw
			continue
		}
		f.add(kw, rest)
	}
	if err := sc.Err(); err != nil {
		return f, err
	}
	if f.GoVersion == "" || len(f.Staging) == 0 {
		return f, fmt.Errorf("no go directive or no ./staging replacements found: not the go.mod of k8s.io/kubernetes?")
	}
	sort.Strings(f.Staging)
	return f, nil
}

func (f *kubeModFacts) add(kw, rest string) {
	switch kw {
	case "go":
		f.GoVersion = rest
	case "godebug":
		f.Godebug = append(f.Godebug, rest)
	case "replace":
		from, to, ok := strings.Cut(rest, "=>")
		if !ok {
			return
		}
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if strings.HasPrefix(to, "./staging/") && !strings.Contains(from, " ") {
			f.Staging = append(f.Staging, from)
		}
	}
}

// kubeBuildGoMod is the go.mod of the throwaway module building Kubernetes version
// ("1.34.4"): it requires k8s.io/kubernetes v1.34.4 and pins each staging module to
// v0.34.4.
func kubeBuildGoMod(version string, f kubeModFacts) string {
	_, minorPatch, _ := strings.Cut(version, ".")
	var b strings.Builder
	fmt.Fprintf(&b, "module shakedown.local/kubebuild\n\ngo %s\n\n", f.GoVersion)
	for _, g := range f.Godebug {
		fmt.Fprintf(&b, "godebug %s\n", g)
	}
	if len(f.Godebug) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "require k8s.io/kubernetes v%s\n\nreplace (\n", version)
	for _, m := range f.Staging {
		fmt.Fprintf(&b, "\t%s => %s v0.%s\n", m, m, minorPatch)
	}
	b.WriteString(")\n")
	return b.String()
}

// goDirective returns the go directive of a go.mod text, or "" when there is none.
func goDirective(data []byte) string {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

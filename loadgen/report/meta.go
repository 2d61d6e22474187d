package report

import (
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

// vegetaModule is the module whose version Versions.Vegeta reports.
const vegetaModule = "github.com/tsenart/vegeta/v12"

// Versions are the versions of what ran the attack.
type Versions struct {
	// Shakedown is the main module's version, with its VCS revision when the
	// binary was built from a checkout ("(devel)" for go run and tests).
	Shakedown string `json:"shakedown"`
	Go        string `json:"go"`
	Vegeta    string `json:"vegeta"`
}

// ReadVersions reads the versions of this binary from its build information
// (test binaries carry no dependency versions: Vegeta is then empty).
func ReadVersions() Versions {
	v := Versions{Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Shakedown = bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v.Shakedown = strings.TrimSpace(v.Shakedown + " (" + rev + dirty + ")")
	}
	for _, d := range bi.Deps {
		if d.Path == vegetaModule {
			v.Vegeta = d.Version
			if d.Replace != nil {
				v.Vegeta += " => " + d.Replace.Path + " " + d.Replace.Version
			}
		}
	}
	return v
}

func (v Versions) String() string {
	var parts []string
	for _, p := range [][2]string{{"shakedown", v.Shakedown}, {"Go", v.Go}, {"vegeta", v.Vegeta}} {
		if p[1] != "" {
			parts = append(parts, p[0]+" "+p[1])
		}
	}
	return strings.Join(parts, ", ")
}

// secretFlags are the flags whose values CommandLine hides.
var secretFlags = []string{"password", "secret"}

// CommandLine renders args (usually os.Args) as a shell command line for the
// report: the program by its base name, arguments quoted where the shell needs
// it, and the values of password or secret flags replaced by "***".
func CommandLine(args []string) string {
	if len(args) == 0 {
		return ""
	}
	const hidden = "***"
	out := []string{filepath.Base(args[0])}
	hideNext := false
	for _, a := range args[1:] {
		switch {
		case hideNext:
			a, hideNext = hidden, false
		case strings.HasPrefix(a, "-") && isSecret(a):
			if i := strings.IndexByte(a, '='); i >= 0 {
				a = shellQuote(a[:i+1]) + hidden
			} else {
				a, hideNext = shellQuote(a), true
			}
		default:
			a = shellQuote(a)
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

func isSecret(flag string) bool {
	name := strings.ToLower(strings.TrimLeft(flag, "-"))
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	for _, s := range secretFlags {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// shellQuote single-quotes s unless it holds only characters the shell leaves alone.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=,@%+", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

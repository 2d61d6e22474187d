package images

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed entrypoints/clickhouse.sh
var clickhouseEntrypoint string

//go:embed entrypoints/postgres.sh
var postgresEntrypoint string

// debianImage is an image made of a minbase Debian root with packages and an entrypoint.
type debianImage struct {
	name       string
	packages   []string
	entrypoint string
	// prune runs in the chroot after the packages are installed.
	prune  string
	expose []string
}

func clickhouseRecipe(opts Options) recipe {
	return debianRecipe(opts, debianImage{
		name: ClickHouse, packages: []string{"clickhouse-server", "clickhouse-client"},
		entrypoint: clickhouseEntrypoint, expose: []string{"8123", "9000"},
	})
}

func postgresRecipe(opts Options) recipe {
	return debianRecipe(opts, debianImage{
		name: Postgres, packages: []string{"postgresql-15"},
		entrypoint: postgresEntrypoint, expose: []string{"5432"},
		// The package creates a cluster of its own; the entrypoint makes one in PGDATA.
		prune: "rm -rf /var/lib/postgresql/15 /etc/postgresql/15",
	})
}

// debianRecipe keys the image by its packages, entrypoint, suite and recipe version
// (not by the mirror's current package versions: `--force` rebuilds).
func debianRecipe(opts Options, d debianImage) recipe {
	key := keyOf(recipeVersion, d.name, opts.Suite, strings.Join(sortedCopy(d.packages), ","), d.entrypoint, d.prune)
	return recipe{key: key, build: func(ctx context.Context, opts Options, img *Image) error {
		return buildDebian(ctx, opts, d, key, img)
	}}
}

func buildDebian(ctx context.Context, opts Options, d debianImage, key string, img *Image) error {
	if os.Geteuid() != 0 {
		return errors.New("debootstrap and chroot need root: run `shakedown images build` as root once (CI runs as root); the images then serve every user of this engine")
	}
	debootstrap, err := lookTool("debootstrap", "/usr/sbin/debootstrap")
	if err != nil {
		return err
	}
	mirror := opts.Mirror
	if mirror == "" {
		if mirror, err = AptMirror(); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp(opts.WorkDir, "shakedown-image-"+d.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")
	opts.Step(fmt.Sprintf("debootstrap --variant=minbase %s (about 30 s)", opts.Suite))
	if err := run(ctx, opts.Log, "", nil, debootstrap, "--variant=minbase", opts.Suite, root, mirror); err != nil {
		return err
	}
	// No service may start inside the chroot while packages install.
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return err
	}
	opts.Step("installing " + strings.Join(d.packages, ", ") + " in the chroot")
	install := "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends " +
		strings.Join(d.packages, " ") + " && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/sbin/policy-rc.d"
	if d.prune != "" {
		install += " && " + d.prune
	}
	if err := run(ctx, opts.Log, "", []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "chroot", root, "/bin/sh", "-c", install); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "usr/local/bin/docker-entrypoint.sh"), []byte(d.entrypoint), 0o755); err != nil {
		return err
	}
	opts.Step("importing " + opts.Tag)
	stream, wait, err := tarDir(ctx, root, opts.Log)
	if err != nil {
		return err
	}
	changes := []string{
		`ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]`,
		"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LABEL " + KeyLabel + "=" + key,
	}
	for _, p := range d.expose {
		changes = append(changes, "EXPOSE "+p)
	}
	ierr := importRoot(ctx, opts, opts.Tag, stream, changes, img)
	stream.Close()
	werr := wait()
	if ierr != nil {
		return ierr
	}
	if werr != nil {
		return fmt.Errorf("tar %s: %w", root, werr)
	}
	return nil
}

func lookTool(name, fallback string) (string, error) {
	if _, err := os.Stat(fallback); err == nil {
		return fallback, nil
	}
	return "", fmt.Errorf("%s is not installed: install Debian's %s package (`make deps` does, as root)", name, name)
}

// AptMirror returns the first Debian mirror of this machine's apt sources
// (/etc/apt/sources.list, then the deb822 files in /etc/apt/sources.list.d), so image
// builds use the mirror apt already uses.
func AptMirror() (string, error) {
	files := []string{"/etc/apt/sources.list"}
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	more2, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(files, append(more, more2...)...)
	for _, f := range files {
		if m := mirrorIn(f); m != "" {
			return m, nil
		}
	}
	return "", errors.New("no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d: pass --mirror URL")
}

// mirrorIn reads the first URI of a "deb" source for the main Debian archive (not the
// security archive) from a one-line-style or deb822 apt source file.
func mirrorIn(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var uri string
		if rest, ok := strings.CutPrefix(line, "deb "); ok {
			fields := strings.Fields(rest)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "[") { // [arch=... signed-by=...]
				for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
					fields = fields[1:]
				}
				if len(fields) > 0 {
					fields = fields[1:]
				}
			}
			if len(fields) > 0 {
				uri = fields[0]
			}
		} else if rest, ok := strings.CutPrefix(line, "URIs:"); ok {
			if fields := strings.Fields(rest); len(fields) > 0 {
				uri = fields[0]
			}
		}
		if uri != "" && !strings.Contains(uri, "security") && (strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://")) {
			return strings.TrimRight(uri, "/")
		}
	}
	return ""
}

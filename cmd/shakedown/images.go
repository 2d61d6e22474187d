package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/images"
	"github.com/shakedown-dev/shakedown/internal/progress"
)

func newImagesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build the stack's container images locally, without a registry",
	}
	cmd.AddCommand(newImagesBuildCmd())
	return cmd
}

type imagesBuildFlags struct {
	tag     string
	arch    string
	mirror  string
	force   bool
	verbose bool
}

func newImagesBuildCmd() *cobra.Command {
	var f imagesBuildFlags
	cmd := &cobra.Command{
		Use:   "build [reference|clickhouse|postgres|pause|all]...",
		Short: "Build images into the local Docker engine (starting dockerd when none answers, as root)",
		Long: `Builds the reference stack's images into the local Docker engine, with no registry:

  reference   the static shakedown binary on an empty root (` + images.DefaultReferenceTag + `);
              the chart's capture, worker and decide, and the docker provider's Kafka broker
  clickhouse  Debian's clickhouse-server on a debootstrap minbase root (` + images.DefaultClickHouseTag + `)
  postgres    Debian's postgresql-15 the same way (` + images.DefaultPostgresTag + `)
  pause       the sandbox process of pods on a real node (` + images.DefaultPauseTag + `)

The Debian images honour the official images' environment (CLICKHOUSE_USER,
CLICKHOUSE_PASSWORD; POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA). An image whose
inputs did not change is not built again. Debian images need root and debootstrap; the
mirror is read from this machine's apt sources.`,
		Args:      cobra.ArbitraryArgs,
		ValidArgs: append(slices.Clone(images.Names), "all"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImagesBuild(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	cmd.Flags().StringVar(&f.tag, "tag", "", "tag of the image (one image only; default: its local tag)")
	cmd.Flags().StringVar(&f.arch, "arch", "", "GOARCH of the reference image, e.g. arm64 (default: this machine's)")
	cmd.Flags().StringVar(&f.mirror, "mirror", "", "Debian mirror for debootstrap (default: this machine's apt sources)")
	cmd.Flags().BoolVar(&f.force, "force", false, "rebuild even when an image with the same inputs exists")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "print the build tools' output")
	return cmd
}

func runImagesBuild(ctx context.Context, stdout, stderr io.Writer, args []string, f imagesBuildFlags) error {
	names, err := imageNames(args)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	if f.tag != "" && len(names) != 1 {
		return &exitError{code: exitUsage, msg: "--tag names one image: pass exactly one of " + strings.Join(images.Names, ", ")}
	}
	if f.arch != "" && (len(names) != 1 || names[0] != images.Reference) {
		return &exitError{code: exitUsage, msg: "--arch applies to the reference image only: `shakedown images build reference --arch arm64`"}
	}
	docker, release, err := openEngine(ctx, stderr)
	if err != nil {
		return err
	}
	defer release()
	p := progress.New(stderr)
	var log io.Writer = io.Discard
	if f.verbose {
		log = stderr
	}
	for _, name := range names {
		img, err := images.Ensure(ctx, name, images.Options{Docker: docker, Tag: f.tag, Arch: f.arch, Mirror: f.mirror,
			Force: f.force, Step: p.Step, Log: log})
		if err != nil {
			p.Fail()
			return err
		}
		p.Done()
		state := "up to date"
		if img.Built {
			state = "built"
		}
		fmt.Fprintf(stdout, "%-10s %s  %s (%s)\n", name, img.Ref, shortID(img.ID), state)
	}
	return nil
}

// imageNames expands "all" (or nothing) and refuses unknown names.
func imageNames(args []string) ([]string, error) {
	if len(args) == 0 || slices.Contains(args, "all") {
		return images.Names, nil
	}
	var names []string
	for _, a := range args {
		if !slices.Contains(images.Names, a) {
			return nil, fmt.Errorf("image %q: want %s or all", a, strings.Join(images.Names, ", "))
		}
		if !slices.Contains(names, a) {
			names = append(names, a)
		}
	}
	return names, nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

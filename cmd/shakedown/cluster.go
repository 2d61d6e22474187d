package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
	"github.com/shakedown-dev/shakedown/internal/cluster/local"
	"github.com/shakedown-dev/shakedown/internal/cluster/realnode"
	"github.com/shakedown-dev/shakedown/internal/progress"
)

// newClusterCmd groups the local Kubernetes control-plane commands.
func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Build and run local Kubernetes control planes (etcd, kube-apiserver, controllers; kwok nodes, or one real node)",
	}
	cmd.AddCommand(newClusterBuildCmd(), newClusterUpCmd())
	return cmd
}

func newClusterBuildCmd() *cobra.Command {
	var versions []string
	var cacheDir, releaseURL, nodes string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Download (or build from source, 8-14 min per version on 2 cores) and cache the control-plane binaries of Kubernetes versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := parseNodeMode(nodes)
			if err != nil {
				return err
			}
			return runClusterBuild(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), cacheDir, releaseURL, versions, mode.real)
		},
	}
	cmd.Flags().StringSliceVar(&versions, "kubernetes", []string{"1.34.4"}, "Kubernetes versions to build, comma-separated")
	cmd.Flags().StringVar(&nodes, "nodes", "kwok", "kwok: the control plane only; real: also kubelet, kube-proxy and CoreDNS for a real node")
	cmd.Flags().StringVar(&cacheDir, "cache-dir", "", "cache root (default: the user cache directory + /shakedown)")
	addReleaseURLFlag(cmd, &releaseURL)
	return cmd
}

// addReleaseURLFlag adds --release-url, where the official Kubernetes binaries come from.
func addReleaseURLFlag(cmd *cobra.Command, releaseURL *string) {
	cmd.Flags().StringVar(releaseURL, "release-url", kubebin.DefaultReleaseURL,
		"base URL of the official Kubernetes release binaries (<url>/v<version>/kubernetes-server-linux-<arch>.tar.gz, verified against its .sha512); "+
			"when unreachable they are built from source, and \"off\" always builds from source")
}

func runClusterBuild(ctx context.Context, stdout, stderr io.Writer, cacheDir, releaseURL string, versions []string, realNodes bool) error {
	cache, err := kubebin.New(kubebin.Options{Dir: cacheDir, ReleaseURL: releaseURL, Progress: progress.New(stderr)})
	if err != nil {
		return err
	}
	for _, v := range versions {
		started := time.Now()
		bins, err := cache.Ensure(ctx, v)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "kubernetes %s ready in %s: %s\n", bins.Version, time.Since(started).Round(time.Second), filepath.Dir(bins.APIServer))
		if realNodes {
			started = time.Now()
			nb, err := cache.Node(ctx, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "kubernetes %s node binaries ready in %s: %s, %s, %s\n", nb.Version, time.Since(started).Round(time.Second), nb.Kubelet, nb.KubeProxy, nb.CoreDNS)
		}
	}
	return nil
}

type clusterUpFlags struct {
	version, kubeconfigOut, defaultClass, cacheDir, releaseURL string
	nodes                                                      string
	keep, defaultClassSet                                      bool
}

func newClusterUpCmd() *cobra.Command {
	var f clusterUpFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local control plane of one Kubernetes version until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.defaultClassSet = cmd.Flags().Changed("default-storage-class")
			return runClusterUp(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	cmd.Flags().StringVar(&f.version, "kubernetes", "1.34.4", "Kubernetes version")
	cmd.Flags().StringVar(&f.kubeconfigOut, "kubeconfig-out", "", "also write the admin kubeconfig to this file (removed on exit)")
	cmd.Flags().StringVar(&f.defaultClass, "default-storage-class", local.ClassAWS,
		strings.Join([]string{"default StorageClass:", local.ClassAWS, local.ClassGCP, local.ClassAzure, local.ClassDigitalOcean, local.ClassK3s}, " "))
	cmd.Flags().StringVar(&f.nodes, "nodes", "kwok", "kwok (3 fake nodes), a number of fake nodes, or real: one real node "+
		"(kubelet, containerd, CNI bridge, kube-proxy, CoreDNS; root; images built locally and imported)")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "keep the cluster directory (logs, certificates, etcd data) on exit")
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "binary cache root (default: the user cache directory + /shakedown)")
	addReleaseURLFlag(cmd, &f.releaseURL)
	return cmd
}

func runClusterUp(ctx context.Context, stdout, stderr io.Writer, f clusterUpFlags) error {
	mode, err := parseNodeMode(f.nodes)
	if err != nil {
		return err
	}
	p := progress.New(stderr)
	cache, err := kubebin.New(kubebin.Options{Dir: f.cacheDir, ReleaseURL: f.releaseURL, Progress: p})
	if err != nil {
		return err
	}
	started := time.Now()
	opts := local.Options{
		Version:             f.version,
		Binaries:            cache,
		Nodes:               mode.kwok,
		DefaultStorageClass: f.defaultClass,
		Progress:            p,
		KeepDir:             f.keep,
	}
	if mode.real && f.defaultClassSet {
		return &exitError{code: exitUsage, msg: "--default-storage-class: a real node's volumes are local-path directories on this machine, its only class that mounts; drop the flag"}
	}
	if mode.real {
		rn, release, err := realnode.Prepare(ctx, f.version, realnode.Options{Binaries: cache, Log: stderr, Step: p.Step})
		if err != nil {
			return err
		}
		defer release()
		opts.RealNode = rn
	}
	c, err := local.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stderr, "stopping the cluster ...")
		if err := c.Stop(); err != nil {
			fmt.Fprintln(stderr, "shakedown: stop:", err)
		}
	}()
	kubeconfig := c.Kubeconfig()
	if f.kubeconfigOut != "" {
		data, err := os.ReadFile(kubeconfig)
		if err != nil {
			return fmt.Errorf("read kubeconfig: %w", err)
		}
		if err := os.WriteFile(f.kubeconfigOut, data, 0o600); err != nil {
			return fmt.Errorf("--kubeconfig-out %s: %w", f.kubeconfigOut, err)
		}
		defer os.Remove(f.kubeconfigOut)
		kubeconfig = f.kubeconfigOut
	}
	fmt.Fprintf(stdout, "kubernetes %s up in %s\n", c.Version(), time.Since(started).Round(10*time.Millisecond))
	fmt.Fprintf(stdout, "  server      %s\n", c.Server())
	fmt.Fprintf(stdout, "  kubeconfig  %s\n", kubeconfig)
	fmt.Fprintf(stdout, "  logs        %s\n", c.Dir())
	fmt.Fprintf(stdout, "try:\n  KUBECONFIG=%s kubectl get nodes,storageclasses\n", kubeconfig)
	if f.keep {
		fmt.Fprintln(stdout, "Ctrl-C stops the cluster; its directory stays (--keep).")
	} else {
		fmt.Fprintln(stdout, "Ctrl-C stops the cluster and removes its data.")
	}
	<-ctx.Done()
	return nil
}

// nodeMode is what --nodes asks for: kwok's fake nodes (how many), or one real node.
type nodeMode struct {
	real bool
	kwok int
}

// parseNodeMode reads --nodes: "kwok" (3 fake nodes), a number of fake nodes, or "real"
// (one real node: kubelet, containerd, CNI, kube-proxy and CoreDNS on this machine).
func parseNodeMode(s string) (nodeMode, error) {
	switch t := strings.ToLower(strings.TrimSpace(s)); t {
	case "real":
		return nodeMode{real: true}, nil
	case "kwok", "":
		return nodeMode{kwok: 3}, nil
	default:
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 100 {
			return nodeMode{}, &exitError{code: exitUsage, msg: fmt.Sprintf("--nodes %q: want kwok, a number of kwok nodes from 1 to 100, or real", s)}
		}
		return nodeMode{kwok: n}, nil
	}
}

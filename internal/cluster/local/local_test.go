package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/internal/progress"
)

// startCluster starts a cluster of version for the test (building the binaries if
// they are not cached: allow for a cold build in the test timeout) and stops it at
// cleanup.
func startCluster(t *testing.T, version string) (*Cluster, kubernetes.Interface) {
	t.Helper()
	cache, err := kubebin.New(kubebin.Options{Progress: progress.New(os.Stderr)})
	if err != nil {
		t.Fatal(err)
	}
	// Building is not part of the start-up budget.
	if _, err := cache.Ensure(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	c, err := Start(context.Background(), Options{Version: version, Binaries: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Kubernetes %s started to ready in %s (dir %s)", version, time.Since(started).Round(10*time.Millisecond), c.Dir())
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c, cs
}

// eventually polls cond every 200 ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if last = cond(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s: %v", what, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestControlPlane134(t *testing.T) {
	c, cs := startCluster(t, "1.34.4")
	ctx := context.Background()

	t.Run("reports its version", func(t *testing.T) {
		info, err := cs.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if info.GitVersion != "v1.34.4" || info.Major != "1" || info.Minor != "34" || c.Version() != "v1.34.4" {
			t.Fatalf("server reports %s (major %q minor %q), Version() %q; want v1.34.4", info.GitVersion, info.Major, info.Minor, c.Version())
		}
	})

	t.Run("kubernetes service has endpoints", func(t *testing.T) {
		eventually(t, 15*time.Second, "kubernetes endpoints", func(ctx context.Context) error {
			slice, err := cs.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(slice.Endpoints) == 0 || len(slice.Endpoints[0].Addresses) == 0 || slice.Endpoints[0].Addresses[0] != advertiseAddress {
				return fmt.Errorf("endpoints %+v, want %s", slice.Endpoints, advertiseAddress)
			}
			return nil
		})
	})

	t.Run("kubeconfig file works", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
		if err != nil {
			t.Fatal(err)
		}
		kcs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kcs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("three zoned Ready nodes", func(t *testing.T) {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		zones := map[string]bool{}
		for _, n := range nodes.Items {
			zones[n.Labels["topology.kubernetes.io/zone"]] = true
			if cpu := n.Status.Allocatable[corev1.ResourceCPU]; cpu.String() != "4" {
				t.Errorf("node %s allocatable cpu %s, want 4", n.Name, cpu.String())
			}
			if n.Status.NodeInfo.KubeletVersion != "v1.34.4" {
				t.Errorf("node %s kubelet version %q", n.Name, n.Status.NodeInfo.KubeletVersion)
			}
		}
		if len(nodes.Items) != 3 || len(zones) != 3 {
			t.Fatalf("%d nodes in zones %v, want 3 nodes in 3 zones", len(nodes.Items), zones)
		}
	})

	t.Run("storage classes with one default", func(t *testing.T) {
		list, err := cs.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defaults := 0
		byName := map[string]string{}
		for _, sc := range list.Items {
			byName[sc.Name] = sc.Provisioner
			if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
				defaults++
			}
			if sc.Name == ClassAWS && sc.Parameters["encrypted"] != "true" {
				t.Errorf("class %s parameters %v, want encrypted=true", sc.Name, sc.Parameters)
			}
		}
		want := map[string]string{ClassAWS: ProvisionerAWS, ClassGCP: ProvisionerGCP, ClassAzure: ProvisionerAzure,
			ClassDigitalOcean: ProvisionerDigitalOcean, ClassK3s: ProvisionerK3s}
		for name, prov := range want {
			if byName[name] != prov {
				t.Errorf("class %s has provisioner %q, want %q", name, byName[name], prov)
			}
		}
		if defaults != 1 {
			t.Errorf("%d default classes, want 1", defaults)
		}
	})

	t.Run("deployment pods run on kwok nodes", func(t *testing.T) {
		ns := newNamespace(t, cs, "deploy")
		d := deployment("web", 3)
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "deployment available", func(ctx context.Context) error {
			got, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.Status.AvailableReplicas != 3 {
				return fmt.Errorf("%d of 3 replicas available", got.Status.AvailableReplicas)
			}
			return nil
		})
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || !strings.HasPrefix(p.Spec.NodeName, "kwok-node-") || p.Status.PodIP == "" {
				t.Errorf("pod %s: phase %s node %q ip %q", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.PodIP)
			}
		}
	})

	t.Run("aws claim binds encrypted volume for its pod", func(t *testing.T) {
		ns := newNamespace(t, cs, "pvc")
		pv := volumeForPod(t, cs, ns, ClassAWS)
		if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != ProvisionerAWS || pv.Spec.CSI.VolumeAttributes["encrypted"] != "true" {
			t.Fatalf("volume %s source %+v, want CSI %s encrypted", pv.Name, pv.Spec.CSI, ProvisionerAWS)
		}
		if pv.Spec.NodeAffinity == nil {
			t.Errorf("volume %s has no zone affinity", pv.Name)
		}
		eventually(t, 30*time.Second, "pod with volume running", func(ctx context.Context) error {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, "user", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("phase %s", p.Status.Phase)
			}
			return nil
		})
	})

	t.Run("k3s local-path claim binds a hostPath volume on the pod's node", func(t *testing.T) {
		ns := newNamespace(t, cs, "localpath")
		pv := volumeForPod(t, cs, ns, ClassK3s)
		if pv.Spec.HostPath == nil || pv.Spec.CSI != nil {
			t.Fatalf("volume %s: want a hostPath volume as local-path makes, got %+v", pv.Name, pv.Spec.PersistentVolumeSource)
		}
		aff := pv.Spec.NodeAffinity
		if aff == nil || aff.Required == nil || aff.Required.NodeSelectorTerms[0].MatchExpressions[0].Key != "kubernetes.io/hostname" {
			t.Errorf("volume %s is not pinned to a node: %+v", pv.Name, aff)
		}
	})

	t.Run("immediate class binds without a pod", func(t *testing.T) {
		ns := newNamespace(t, cs, "immediate")
		if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim("data", ClassDigitalOcean), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitBound(t, cs, ns, "data")
	})

	t.Run("released volume is deleted", func(t *testing.T) {
		ns := newNamespace(t, cs, "release")
		if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim("data", ClassDigitalOcean), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitBound(t, cs, ns, "data")
		got, _ := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		if err := cs.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "volume deleted", func(ctx context.Context) error {
			_, err := cs.CoreV1().PersistentVolumes().Get(ctx, got.Spec.VolumeName, metav1.GetOptions{})
			if err == nil {
				return errors.New("still there")
			}
			return nil
		})
	})

	t.Run("statefulset with volume claim templates becomes ready", func(t *testing.T) {
		ns := newNamespace(t, cs, "sts")
		ss := statefulSet("db", 2, ClassAWS)
		if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, ss, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 90*time.Second, "statefulset ready", func(ctx context.Context) error {
			got, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.Status.ReadyReplicas != 2 {
				return fmt.Errorf("%d of 2 replicas ready", got.Status.ReadyReplicas)
			}
			return nil
		})
		for i := 0; i < 2; i++ {
			name := fmt.Sprintf("data-db-%d", i)
			pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if pvc.Status.Phase != corev1.ClaimBound {
				t.Errorf("claim %s is %s", name, pvc.Status.Phase)
			}
		}
	})

	t.Run("job completes", func(t *testing.T) {
		ns := newNamespace(t, cs, "job")
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "migrate", Image: "busybox"}},
			}}},
		}
		if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "job succeeded", func(ctx context.Context) error {
			got, err := cs.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.Status.Succeeded != 1 {
				return fmt.Errorf("succeeded %d, active %d, failed %d", got.Status.Succeeded, got.Status.Active, got.Status.Failed)
			}
			return nil
		})
	})

	t.Run("stop frees everything", func(t *testing.T) {
		port := strings.TrimPrefix(c.Server(), "https://")
		dir := c.Dir()
		procs := append([]*procs.Process(nil), c.procs...)
		if len(procs) != 5 {
			t.Errorf("%d child processes, want 5 (etcd, apiserver, controller-manager, scheduler, kwok)", len(procs))
		}
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			if err := syscall.Kill(p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s (pid %d) still exists after Stop: %v", p.Name, p.Pid(), err)
			}
		}
		l, err := net.Listen("tcp", port)
		if err != nil {
			t.Errorf("API server port %s not free after Stop: %v", port, err)
		} else {
			l.Close()
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("directory %s not removed: %v", dir, err)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}

func newNamespace(t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pods cannot be created before the namespace's default service account exists.
	eventually(t, 30*time.Second, "default service account in "+name, func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	return name
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "nginx",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}},
				}}},
			},
		},
	}
}

func claim(name, class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}
}

func statefulSet(name string, replicas int32, class string) *appsv1.StatefulSet {
	labels := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "db", Image: "postgres", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/postgresql"}},
				}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{*claim("data", class)},
		},
	}
}

func waitBound(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	eventually(t, 60*time.Second, "claim "+ns+"/"+name+" bound", func(ctx context.Context) error {
		pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pvc.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("phase %s", pvc.Status.Phase)
		}
		return nil
	})
}

// TestVersionsSideBySide runs two versions at once (distinct ports and directories)
// and checks each serves its own API surface: flowcontrol v1beta2 exists in 1.28 and
// was removed in 1.29, so a chart using it installs on one and fails on the other.
func TestVersionsSideBySide(t *testing.T) {
	versions := []string{"1.28.15", "1.34.4"}
	cache, err := kubebin.New(kubebin.Options{Progress: progress.New(os.Stderr)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions { // one cold build at a time: CPU is scarce
		if _, err := cache.Ensure(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		c   *Cluster
		err error
	}
	results := make([]chan result, len(versions))
	started := time.Now()
	for i, v := range versions {
		results[i] = make(chan result, 1)
		go func() {
			c, err := Start(context.Background(), Options{Version: v, Binaries: cache})
			results[i] <- result{c, err}
		}()
	}
	clusters := make([]*Cluster, len(versions))
	for i := range versions {
		r := <-results[i]
		if r.err != nil {
			t.Error(r.err)
			continue
		}
		clusters[i] = r.c
		t.Cleanup(func() { _ = r.c.Stop() })
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%v started side by side in %s", versions, time.Since(started).Round(10*time.Millisecond))
	if clusters[0].Server() == clusters[1].Server() || clusters[0].Dir() == clusters[1].Dir() {
		t.Fatalf("clusters share server %s or directory %s", clusters[0].Server(), clusters[0].Dir())
	}
	for i, c := range clusters {
		cs, err := kubernetes.NewForConfig(c.RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		if want := "v" + versions[i]; c.Version() != want {
			t.Errorf("cluster %d reports %s, want %s", i, c.Version(), want)
		}
		_, err = cs.Discovery().ServerResourcesForGroupVersion("flowcontrol.apiserver.k8s.io/v1beta2")
		served := err == nil
		if wantServed := versions[i] == "1.28.15"; served != wantServed {
			t.Errorf("%s serves flowcontrol.apiserver.k8s.io/v1beta2: %v, want %v (err %v)", versions[i], served, wantServed, err)
		}
		// Pods schedule and run on the older version too.
		ns := newNamespace(t, cs, "side")
		if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), deployment("web", 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, versions[i]+" deployment available", func(ctx context.Context) error {
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if d.Status.AvailableReplicas != 2 {
				return fmt.Errorf("%d of 2 available", d.Status.AvailableReplicas)
			}
			return nil
		})
	}
}

// volumeForPod creates a claim "data" of class and a pod "user" mounting it, waits for
// the claim to bind, and returns its volume.
func volumeForPod(t *testing.T, cs kubernetes.Interface, ns, class string) *corev1.PersistentVolume {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim("data", class), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "user"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitBound(t, cs, ns, "data")
	got, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, got.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

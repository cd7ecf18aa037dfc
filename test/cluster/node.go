package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// RealNodeTools are the binaries a real node runs besides the control plane (runc, the CNI plugins and iptables
// come from Debian's packages: see [CheckHostPackages]).
var RealNodeTools = []string{"kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "ctr"}

// hostPackages are the files the real node needs from Debian's packages, by package.
var hostPackages = map[string]string{
	"runc":                        "/usr/sbin/runc",
	"containernetworking-plugins": "/usr/lib/cni/bridge",
	"iptables":                    "/usr/sbin/iptables",
	"conntrack":                   "/usr/sbin/conntrack",
}

// Fixed parts of the real node.
const (
	// RealNodeName is the real node's name (and kubernetes.io/hostname).
	RealNodeName = "real-node"
	// RealNodeZone is its topology.kubernetes.io/zone.
	RealNodeZone = "zone-a"
	// LocalStorageClass is the default StorageClass of a cluster with a real node: local volumes under
	// nodeRoot, bound when a pod that uses the claim is scheduled.
	LocalStorageClass = "real-local"
	// localVolumes is how many local volumes the real node offers.
	localVolumes    = 12
	containerdNS    = "k8s.io"
	nodeTimeoutReal = 90 * time.Second
)

// Stand-in images, loaded into the real node's containerd at start ([StandInImages] names them).
const (
	PauseImage       = "mpcguard.local/stand-in/pause:test"
	PartyImage       = "mpcguard.local/stand-in/party:test"
	CoordinatorImage = "mpcguard.local/stand-in/coordinator:test"
	HelmTestImage    = "mpcguard.local/stand-in/helm-test:test"
)

// StandInImages maps each stand-in image to the mode of test/standin its entrypoint runs.
var StandInImages = map[string]string{
	PauseImage:       "pause",
	PartyImage:       "party",
	CoordinatorImage: "coordinator",
	HelmTestImage:    "helm-test",
}

// CheckHostPackages reports the Debian packages a real node needs that are not installed.
func CheckHostPackages() error {
	var missing []string
	for pkg, file := range hostPackages {
		if _, err := os.Stat(file); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the real node needs the Debian packages %s: run `make tools`", ErrToolMissing, strings.Join(missing, " "))
}

// NodeAddress is the machine's own address that the real node registers with: the source address of its
// default route's interface. Pods reach the API server there; nothing is sent to other machines.
func NodeAddress() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("listing interfaces: %w", err)
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 || strings.HasPrefix(iface.Name, nodeBridge) ||
			strings.HasPrefix(iface.Name, "veth") {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String(), nil
			}
		}
	}
	return "", errors.New("no IPv4 address on a non-loopback interface for the real node")
}

// realNode is the state of a started real node.
type realNode struct {
	dns *clusterDNS
}

// prepareContainerd starts the stand-in cluster DNS (the node's pods get it as their nameserver), makes the
// node's directories, cgroups, the Service range's local route and the forwarding guard, and writes
// containerd's and CNI's configuration.
func prepareContainerd(b *boot) error {
	dns, err := startClusterDNS(b.bindIP, b.c.Client)
	if err != nil {
		return err
	}
	b.c.realNode.dns = dns
	for _, dir := range []string{nodeRoot, nodeRun, filepath.Join(nodeRoot, "cni", "net.d"), filepath.Join(nodeRoot, "certs.d"),
		filepath.Join(nodeRoot, "pod-logs"), filepath.Join(nodeRoot, "volumes")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	if err := createNodeCgroups(); err != nil {
		return err
	}
	if out, err := exec.Command("ip", "route", "replace", "local", ServiceCIDR, "dev", "lo", "table", "local").CombinedOutput(); err != nil {
		return fmt.Errorf("adding the local route for %s: %w: %s", ServiceCIDR, err, out)
	}
	if err := guardForwarding(); err != nil {
		return err
	}
	return writeFiles(map[string]string{
		filepath.Join(nodeRoot, "containerd.toml"):                  containerdConfig(),
		filepath.Join(nodeRoot, "cni", "net.d", "10-mpcg.conflist"): cniConfig(),
	})
}

// prepareKubelet writes the kubelet's serving certificate, kubeconfig (system:node:<name>) and configuration.
func prepareKubelet(b *boot) error {
	serving, err := b.pki.ca.Issue(pkiValidity, b.bindIP, RealNodeName)
	if err != nil {
		return err
	}
	pkiDir := filepath.Join(nodeRoot, "kubelet-pki")
	if err := serving.WriteDir(pkiDir); err != nil {
		return err
	}
	if _, err := writeKubeconfig(filepath.Join(nodeRoot, "kubelet.kubeconfig"), b.pki.kubeconfigOf(b.host, "system:node:"+RealNodeName)); err != nil {
		return err
	}
	return writeFiles(map[string]string{filepath.Join(nodeRoot, "kubelet.yaml"): kubeletConfigYAML(b.bindIP,
		b.c.ports["kubelet"], b.c.ports["kubelet-health"], b.pki.caFile, pkiDir)})
}

// prepareKubeProxy writes kube-proxy's kubeconfig (system:kube-proxy) and configuration.
func prepareKubeProxy(b *boot) error {
	kubeconfig := filepath.Join(nodeRoot, "kube-proxy.kubeconfig")
	if _, err := writeKubeconfig(kubeconfig, b.pki.kubeconfigOf(b.host, "system:kube-proxy")); err != nil {
		return err
	}
	return writeFiles(map[string]string{filepath.Join(nodeRoot, "kube-proxy.yaml"): kubeProxyConfigYAML(kubeconfig,
		b.c.ports["kube-proxy-health"], b.c.ports["kube-proxy-metrics"])})
}

func writeFiles(files map[string]string) error {
	for path, data := range files {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// guardForwarding drops whatever pods send through the host to addresses off the machine: forwarded packets
// from the pod subnet may only go to the pod subnet (the host's own addresses are input, not forwarding).
func guardForwarding() error {
	for _, args := range [][]string{
		{"-N", guardChain},
		{"-A", guardChain, "-s", PodSubnet, "-d", PodSubnet, "-j", "RETURN"},
		{"-A", guardChain, "-s", PodSubnet, "-j", "DROP"},
		{"-I", "FORWARD", "1", "-j", guardChain},
	} {
		if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func containerdConfig() string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
temp = %[3]q
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[4]q

[ttrpc]
  address = %[5]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[6]q

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = %[7]q
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = %[8]q

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = %[9]q
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = %[10]q
    max_conf_num = 1
`, filepath.Join(nodeRoot, "containerd"), filepath.Join(nodeRun, "containerd"), filepath.Join(nodeRoot, "containerd-tmp"),
		containerdSocket(), filepath.Join(nodeRun, "containerd-ttrpc.sock"), filepath.Join(nodeRoot, "opt"), PauseImage,
		filepath.Join(nodeRoot, "certs.d"), filepath.Join(nodeRun, "runc"), filepath.Join(nodeRoot, "cni", "net.d"))
}

func containerdSocket() string { return filepath.Join(nodeRun, "containerd.sock") }

func cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "mpcguard-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    }
  ]
}
`, nodeBridge, PodSubnet, filepath.Join(nodeRoot, "cni", "ipam"))
}

func kubeletConfigYAML(ip string, port, healthz int, caFile, pkiDir string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: %[2]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[3]d
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[4]s
authorization:
  mode: Webhook
tlsCertFile: %[5]s/tls.crt
tlsPrivateKeyFile: %[5]s/tls.key
cgroupDriver: cgroupfs
cgroupRoot: /%[6]s
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%[7]s
clusterDomain: cluster.local
clusterDNS:
  - %[1]s
resolvConf: ""
podLogsDir: %[8]s
oomScoreAdj: 0
serializeImagePulls: false
registerNode: true
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  imagefs.available: 1%%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 60
shutdownGracePeriod: 0s
# Secret and ConfigMap volumes are refreshed on each pod sync: every 10s here (1m by default), so that a
# rotated certificate reaches its pods within seconds.
syncFrequency: 10s
`, ip, port, healthz, caFile, pkiDir, nodeCgroup, containerdSocket(), filepath.Join(nodeRoot, "pod-logs"))
}

func kubeProxyConfigYAML(kubeconfig string, health, metrics int) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
mode: iptables
hostnameOverride: %s
clusterCIDR: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
nodePortAddresses:
  - primary
oomScoreAdj: 0
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, kubeconfig, RealNodeName, PodSubnet, health, metrics)
}

// ctr runs ctr against the real node's containerd in the CRI namespace and returns its standard output.
func (c *Cluster) ctr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, "ctr"), append([]string{"--address", containerdSocket(), "--namespace", containerdNS}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()+string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// loadStandInImages builds test/standin and the stand-in images (a docker archive written by
// test/tools/image) and imports them into containerd; nothing is pulled.
func (c *Cluster) loadStandInImages(ctx context.Context) error {
	start := time.Now()
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	work := filepath.Join(c.Dir, "images")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", work, err)
	}
	standin := filepath.Join(work, "standin")
	tool := filepath.Join(work, "image")
	for _, b := range []*exec.Cmd{
		exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", standin, "./test/standin"),
		exec.CommandContext(ctx, "go", "build", "-C", "test/tools/image", "-o", tool, "."),
	} {
		b.Dir = root
		b.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := b.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(b.Args, " "), err, out)
		}
	}
	archive := filepath.Join(work, "stand-ins.tar")
	args := []string{"archive", "--out", archive, "--bin", standin}
	for ref, mode := range StandInImages {
		args = append(args, "--image", ref+"="+mode)
	}
	if out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("writing the stand-in images: %w: %s", err, out)
	}
	if _, err := c.ctr(ctx, "images", "import", "--platform", "linux/amd64", archive); err != nil {
		return err
	}
	fmt.Fprintf(c.log, "==> stand-in images loaded in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// TrustRegistry lets the real node pull from a registry on the loopback interface over plain HTTP
// (host:port, e.g. the local registry of test/release): containerd reads hosts.toml on every pull.
func (c *Cluster) TrustRegistry(hostport string) error {
	if c.realNode == nil {
		return errors.New("TrustRegistry: the cluster has no real node")
	}
	dir := filepath.Join(nodeRoot, "certs.d", hostport)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	hosts := fmt.Sprintf("server = \"http://%[1]s\"\n\n[host.\"http://%[1]s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", hostport)
	if err := os.WriteFile(filepath.Join(dir, "hosts.toml"), []byte(hosts), 0o644); err != nil {
		return fmt.Errorf("writing hosts.toml for %s: %w", hostport, err)
	}
	return nil
}

// addLocalVolumes creates the default StorageClass LocalStorageClass (no provisioner, bound on first
// consumer) and localVolumes PersistentVolumes of directories under nodeRoot, for StatefulSets' claims.
func (c *Cluster) addLocalVolumes(ctx context.Context) error {
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: LocalStorageClass, Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       "kubernetes.io/no-provisioner",
		VolumeBindingMode: ptr(storagev1.VolumeBindingWaitForFirstConsumer),
		ReclaimPolicy:     ptr(corev1.PersistentVolumeReclaimRetain),
	}
	if _, err := c.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating StorageClass %s: %w", sc.Name, err)
	}
	for i := range localVolumes {
		name := fmt.Sprintf("local-%02d", i+1)
		dir := filepath.Join(nodeRoot, "volumes", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
		// Pods run as non-root users of their own choosing: the volume is theirs to write.
		if err := os.Chmod(dir, 0o1777); err != nil {
			return fmt.Errorf("opening %s to the pods' users: %w", dir, err)
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              LocalStorageClass,
				PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: dir}},
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{RealNodeName}}},
				}}}},
			},
		}
		if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating PersistentVolume %s: %w", name, err)
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// drainRealNode deletes every pod on the real node through the API and waits (bounded) until the kubelet has
// stopped them, so that their sandboxes are torn down properly (CNI DEL) before the kubelet stops.
func (c *Cluster) drainRealNode(ctx context.Context) {
	if c.Client == nil {
		return
	}
	sel := fields.OneTermEqualSelector("spec.nodeName", RealNodeName).String()
	zero := int64(0)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// Cordoned first, or the controllers' replacements of the deleted pods would land on it again.
	if node, err := c.Client.CoreV1().Nodes().Get(ctx, RealNodeName, metav1.GetOptions{}); err == nil {
		node.Spec.Unschedulable = true
		_, _ = c.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
	}
	for ctx.Err() == nil {
		pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil || len(pods.Items) == 0 {
			break
		}
		for _, pod := range pods.Items {
			if pod.DeletionTimestamp == nil {
				_ = c.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The kubelet tears sandboxes down after the pods are gone from the API: wait for containerd to have none.
	for ctx.Err() == nil {
		out, err := c.ctr(ctx, "tasks", "ls", "-q")
		if err != nil || out == "" {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// PodIPReachable tells whether ip is an address of the real node's pod network (the only pod addresses a test
// may send to).
func PodIPReachable(ip string) bool {
	_, subnet, _ := net.ParseCIDR(PodSubnet)
	parsed := net.ParseIP(ip)
	return parsed != nil && subnet.Contains(parsed)
}

// stoppedContainerd follows containerd's stop: the stand-in DNS ends, and the API server's connections from pods
// whose network namespace is gone are closed (no FIN could reach it; it would wait for them on SIGTERM).
func stoppedContainerd(c *Cluster) error {
	if c.realNode == nil {
		return nil
	}
	_ = exec.Command("ss", "-K", "dst", PodSubnet).Run()
	if c.realNode.dns == nil {
		return nil
	}
	return c.realNode.dns.Stop()
}

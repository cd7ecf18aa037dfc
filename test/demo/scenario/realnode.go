package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/test/cluster"
)

// StandInValues run the stand-in images on the single real node: preferred anti-affinity (one node), small
// requests, the stand-ins never pulled (they are loaded into the node's containerd), the webhook with the
// chart's default certificates (it makes and rotates its own). The webhook image is the chart's own: the
// pushed one, pinned by digest.
const StandInValues = `coordinator:
  image: {registry: mpcguard.local, repository: stand-in/coordinator, tag: test, pullPolicy: Never}
  resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: 200m, memory: 128Mi}}
parties:
  image: {registry: mpcguard.local, repository: stand-in/party, tag: test, pullPolicy: Never}
pools:
  server-party:
    role: persistent
    replicas: 3
    resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: 200m, memory: 128Mi}}
    shareStorage:
      volumeClaim: {name: shares, size: 1Gi, storageClassName: "", mountPath: /var/lib/mpc/shares}
  server-party-api:
    role: delegate
    replicas: 1
    resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: 200m, memory: 128Mi}}
placement:
  persistent: {podAntiAffinity: preferred}
tests:
  image: {registry: mpcguard.local, repository: stand-in/helm-test, tag: test, pullPolicy: Never}
mpcguard:
  tests:
    image: {registry: mpcguard.local, repository: stand-in/helm-test, tag: test, pullPolicy: Never}
`

// InClusterTools are the tools of `make tools` that [UpInCluster] runs: the control plane, the real node,
// the registry, and what `make publish` uses.
var InClusterTools = append(append([]string{"registry", "helm", "cyclonedx-gomod"}, cluster.ControlPlaneTools...),
	cluster.RealNodeTools...)

// InClusterOptions configure [UpInCluster].
type InClusterOptions struct {
	// BinDir holds the tools of [InClusterTools] (default cluster.BinDir()).
	BinDir string
	// Values are the values file's contents for helm install (default [StandInValues]).
	Values string
	// Log receives progress lines, and the output of make publish; nil discards them.
	Log io.Writer
	// StopOnInterrupt takes the environment down on SIGINT or SIGTERM (tests; commands handle signals
	// themselves).
	StopOnInterrupt bool
}

// Published is one line of `make publish`'s published.txt: an artifact pushed to the registry.
type Published struct {
	// Kind is image, sbom or chart.
	Kind string
	// Repo is the repository (host:port/path), Tag its tag and Digest the pushed manifest's digest.
	Repo, Tag, Digest string
}

// Ref is the repository pinned by digest.
func (p Published) Ref() string { return p.Repo + "@" + p.Digest }

// ParsePublished reads published.txt ("kind repo tag digest" per line), keyed by kind, and for charts by
// "chart " plus the chart's name ("chart mpc-system").
func ParsePublished(data []byte) (map[string]Published, error) {
	pub := map[string]Published{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || !strings.HasPrefix(f[3], "sha256:") {
			return nil, fmt.Errorf("published.txt: want \"kind repo tag sha256:digest\", got %q", line)
		}
		key := f[0]
		if key == "chart" {
			key += " " + filepath.Base(f[1])
		}
		pub[key] = Published{Kind: f[0], Repo: f[1], Tag: f[2], Digest: f[3]}
	}
	return pub, nil
}

// Publish runs `make publish` for the real node's platform only (linux/GOARCH) to registry, with the image
// and the release files under dir, and returns what it pushed. Its output goes to log.
func Publish(ctx context.Context, registry, dir string, log io.Writer) (map[string]Published, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return nil, err
	}
	release := filepath.Join(dir, "release")
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "publish", "REGISTRY="+registry,
		"IMAGE_PLATFORMS=linux/"+runtime.GOARCH, "IMAGE_DIR="+filepath.Join(dir, "image"), "RELEASE_DIR="+release)
	cmd.Dir = root
	var tail strings.Builder
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("make publish REGISTRY=%s: %w\n%s", registry, err, tail.String())
	}
	data, err := os.ReadFile(filepath.Join(release, "published.txt"))
	if err != nil {
		return nil, fmt.Errorf("reading what make publish pushed: %w", err)
	}
	return ParsePublished(data)
}

// UpInCluster brings up mpc-system the way a user runs it: a loopback OCI registry, `make publish` to it
// (the webhook image, its SBOM, and the charts with the image pinned by digest), a cluster with a real node
// that trusts the registry, a namespace enforcing the restricted Pod Security Standard, and `helm install
// mpc-system oci://…/mpc-system@<digest>` with the helm CLI and [InClusterOptions.Values]. The chart's own
// webhook Deployment pulls the pushed image and runs on the real node; its ValidatingWebhookConfiguration
// reaches it through its Service (no webhook.url). It returns when every pod of the release is Ready.
//
// It needs root and the tools of [InClusterTools]; it waits for the machine's real node (one at a time). On
// error, what was started is stopped. [Env.Down] stops the cluster (whose Stop restores the host), the
// registry, and removes the temporary directory.
func UpInCluster(ctx context.Context, opts InClusterOptions) (e *Env, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.BinDir == "" {
		opts.BinDir = cluster.BinDir()
	}
	if opts.Values == "" {
		opts.Values = StandInValues
	}
	if err := cluster.CheckTools(opts.BinDir, InClusterTools...); err != nil {
		return nil, err
	}
	if err := cluster.CheckHostPackages(); err != nil {
		return nil, err
	}
	e = &Env{log: opts.Log, binDir: opts.BinDir}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Down())
			e = nil
		}
	}()
	if e.tempDir, err = cluster.OwnedTempDir("mpcguard-demo-"); err != nil {
		return e, fmt.Errorf("creating the demo directory: %w", err)
	}
	if opts.StopOnInterrupt {
		e.unregister = cluster.StopOnInterrupt(cluster.StopperFunc(e.Down))
	}

	e.step("starting a registry on 127.0.0.1")
	if e.Registry, err = cluster.StartRegistry(ctx, opts.BinDir, e.tempDir); err != nil {
		return e, err
	}
	e.step(fmt.Sprintf("make publish REGISTRY=%s IMAGE_PLATFORMS=linux/%s (the image, its SBOM, the charts)", e.Registry.Addr, runtime.GOARCH))
	start := time.Now()
	pub, err := Publish(ctx, e.Registry.Addr, e.tempDir, opts.Log)
	if err != nil {
		return e, err
	}
	var ok bool
	if e.Image, ok = pub["image"]; !ok {
		return e, errors.New("make publish pushed no image")
	}
	if e.ChartRef, ok = pub["chart mpc-system"]; !ok {
		return e, errors.New("make publish pushed no mpc-system chart")
	}
	e.step(fmt.Sprintf("published in %s: %s, chart %s", time.Since(start).Round(time.Second), e.Image.Ref(), e.ChartRef.Ref()))

	e.step("starting the control plane and the real node (kubelet, kube-proxy, containerd, runc, bridge CNI)")
	if e.Cluster, err = cluster.Start(ctx, cluster.Options{RealNode: true, BinDir: opts.BinDir, Log: opts.Log}); err != nil {
		return e, err
	}
	if err := e.Cluster.TrustRegistry(e.Registry.Addr); err != nil {
		return e, err
	}
	if e.Client, err = NewClient(e.Cluster); err != nil {
		return e, err
	}
	e.Release = &Release{Name: DemoRelease, Namespace: DemoNamespace, Chart: "oci://" + e.ChartRef.Ref(), env: e}
	e.step("creating namespace " + DemoNamespace + " (pod-security.kubernetes.io/enforce=restricted)")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DemoNamespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return e, fmt.Errorf("creating namespace %s: %w", DemoNamespace, err)
	}
	e.ValuesFile = filepath.Join(e.tempDir, "values.yaml")
	if err := os.WriteFile(e.ValuesFile, []byte(opts.Values), 0o600); err != nil {
		return e, fmt.Errorf("writing the values: %w", err)
	}
	args := []string{"install", DemoRelease, e.Release.Chart, "--plain-http", "--namespace", DemoNamespace,
		"-f", e.ValuesFile, "--wait", "--timeout", "5m"}
	e.step("helm " + strings.Join(args, " "))
	start = time.Now()
	if _, err := e.HelmCLI(ctx, args...); err != nil {
		return e, err
	}
	e.step(fmt.Sprintf("installed %s from the registry: every pod Ready on the real node in %s", DemoRelease,
		time.Since(start).Round(100*time.Millisecond)))
	return e, nil
}

// HelmCLI runs the helm CLI of `make tools` against the cluster, its configuration, cache and data in the
// environment's directory, and returns its combined output.
func (e *Env) HelmCLI(ctx context.Context, args ...string) (string, error) {
	bin := e.binDir
	if bin == "" {
		bin = cluster.BinDir()
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "helm"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.Cluster.Kubeconfig,
		"HELM_CONFIG_HOME="+filepath.Join(e.tempDir, "helm"), "HELM_CACHE_HOME="+filepath.Join(e.tempDir, "helm-cache"),
		"HELM_DATA_HOME="+filepath.Join(e.tempDir, "helm-data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// WebhookPod is a pod of the chart's webhook Deployment and the image its container runs.
type WebhookPod struct {
	Pod, Node string
	// Image is the image the pod spec names; ImageID is what the kubelet reports it ran (repo@sha256:…).
	Image, ImageID string
	Ready          bool
}

// WebhookPods lists the pods of the release's webhook Deployment, sorted by name.
func (r *Release) WebhookPods(ctx context.Context) ([]WebhookPod, error) {
	var pods corev1.PodList
	if err := r.env.Client.List(ctx, &pods, client.InNamespace(r.Namespace),
		client.MatchingLabels{ComponentLabel: webhookComponent}); err != nil {
		return nil, fmt.Errorf("listing the webhook pods: %w", err)
	}
	var out []WebhookPod
	for _, p := range pods.Items {
		w := WebhookPod{Pod: p.Name, Node: p.Spec.NodeName, Image: p.Spec.Containers[0].Image, Ready: PodReady(&p)}
		if len(p.Status.ContainerStatuses) > 0 {
			w.ImageID = p.Status.ContainerStatuses[0].ImageID
		}
		out = append(out, w)
	}
	return out, nil
}

// CoordinatorReport is what the coordinator stand-in serves on :8080/parties: the party pods it discovered
// through the API with its own ServiceAccount, and whether listing Secrets was refused.
type CoordinatorReport struct {
	// Pod and IP are the coordinator pod asked.
	Pod, IP string
	Parties []struct {
		Name, Role, IP string
		Ready          bool
	} `json:"parties"`
	DiscoveryError   string `json:"discoveryError"`
	SecretsForbidden bool   `json:"secretsForbidden"`
	Rounds           int    `json:"rounds"`
}

// ReadyRoles counts the Ready parties the coordinator reports, by role.
func (c *CoordinatorReport) ReadyRoles() map[string]int {
	roles := map[string]int{}
	for _, p := range c.Parties {
		if p.Ready {
			roles[p.Role]++
		}
	}
	return roles
}

// Coordinator asks the release's coordinator pod (the real node's pod IPs are reachable from the host) what it
// discovered: GET http://<pod IP>:8080/parties.
func (r *Release) Coordinator(ctx context.Context) (*CoordinatorReport, error) {
	var pods corev1.PodList
	if err := r.env.Client.List(ctx, &pods, client.InNamespace(r.Namespace),
		client.MatchingLabels{ComponentLabel: "coordinator", "app.kubernetes.io/instance": r.Name}); err != nil {
		return nil, fmt.Errorf("listing the coordinator pods: %w", err)
	}
	if len(pods.Items) != 1 {
		return nil, fmt.Errorf("want one coordinator pod in %s, found %d", r.Namespace, len(pods.Items))
	}
	pod := pods.Items[0]
	ip := pod.Status.PodIP
	if !cluster.PodIPReachable(ip) {
		return nil, fmt.Errorf("coordinator pod %s has IP %q, not on the real node's pod network %s", pod.Name, ip, cluster.PodSubnet)
	}
	url := "http://" + ip + ":8080/parties"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	report := &CoordinatorReport{Pod: pod.Name, IP: ip}
	if err := json.NewDecoder(resp.Body).Decode(report); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", url, err)
	}
	return report, nil
}

package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/mpcguard/mpcguard/test/cluster"
)

// restrictedPod is a pod of a stand-in image that Pod Security "restricted" admits.
func restrictedPod(name, image string, command ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "main", Image: image, ImagePullPolicy: corev1.PullNever, Command: command,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

func waitPhase(ctx context.Context, t *testing.T, client kubernetes.Interface, name string, want ...corev1.PodPhase) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var err error
		pod, err = client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		require.NoError(ct, err)
		assert.Contains(ct, want, pod.Status.Phase)
	}, 90*time.Second, 250*time.Millisecond, "pod %s reaches %v", name, want)
	return pod
}

// startKilledRun runs localcluster with a real node in a process of its own, starts a party pod on it, and
// SIGKILLs that process: the kubelet and containerd die with it (Pdeathsig), the shim and the container do not.
func startKilledRun(ctx context.Context, t *testing.T) {
	t.Helper()
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "localcluster")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./test/cluster/cmd/localcluster")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building localcluster: %s", out)
	cmd := exec.CommandContext(ctx, bin, "up", "--real-node", "--nodes", "0")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), cluster.HeldEnv())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	kubeconfig := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "export KUBECONFIG="); ok {
			kubeconfig = k
			break
		}
	}
	require.NotEmpty(t, kubeconfig, "localcluster printed its kubeconfig; its stderr:\n%s", stderr.String())
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	_, err = client.CoreV1().Pods("default").Create(ctx, restrictedPod("left-behind", cluster.PartyImage), metav1.CreateOptions{})
	require.NoError(t, err)
	waitPhase(ctx, t, client, "left-behind", corev1.PodRunning)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
}

func TestARealNodeRunsRestrictedPodsAndAKilledRunIsSweptSoTheHostEndsAsItBegan(t *testing.T) {
	require.NoError(t, cluster.CheckTools(cluster.BinDir(), append(cluster.ControlPlaneTools, cluster.RealNodeTools...)...))
	require.NoError(t, cluster.CheckHostPackages())
	ctx := t.Context()
	// Another package's test may hold the real node: take turns, so that "before" is a host without one.
	release, err := cluster.WaitForRealNode(ctx)
	require.NoError(t, err)
	t.Cleanup(release) // after the cluster's Stop, which StartT registers later and t.Cleanup runs first
	before := cluster.HostFootprint()
	startKilledRun(ctx, t)
	leftovers := cluster.HostFootprint()
	assert.NotEqual(t, before, leftovers, "a killed run leaves state behind (this is what the sweep is for)")
	assert.Contains(t, leftovers, "containerd-shim-runc-v2", "the killed run's shim outlives it")

	c := cluster.StartT(t, cluster.Options{RealNode: true})
	assert.NotContains(t, cluster.HostFootprint(), "left-behind", "the next start swept the killed run's pod")

	_, err = c.Client.CoreV1().Pods("default").Create(ctx, restrictedPod("party", cluster.PartyImage), metav1.CreateOptions{})
	require.NoError(t, err)
	pod := waitPhase(ctx, t, c.Client, "party", corev1.PodRunning)
	require.True(t, cluster.PodIPReachable(pod.Status.PodIP), "pod IP %s is on the node's own bridge", pod.Status.PodIP)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "party", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "party"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	svc, err = c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	require.NoError(t, err)
	httpc := &http.Client{Timeout: 3 * time.Second}
	for _, url := range []string{"http://" + pod.Status.PodIP + ":8080/health", "http://" + svc.Spec.ClusterIP + "/health"} {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			resp, err := httpc.Get(url)
			require.NoError(ct, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			assert.Contains(ct, string(body), "ok party")
		}, 30*time.Second, 250*time.Millisecond, "the host reaches the party at %s", url)
	}

	// From a pod: the Service by its DNS name through the stand-in cluster DNS; and nothing off the machine
	// (203.0.113.1 is TEST-NET-3; the node's guard drops what pods forward anywhere but the pod network).
	_, err = c.Client.CoreV1().Pods("default").Create(ctx, restrictedPod("by-name", cluster.HelmTestImage,
		"wget", "-q", "-O-", "http://party.default.svc/health"), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = c.Client.CoreV1().Pods("default").Create(ctx, restrictedPod("off-machine", cluster.HelmTestImage,
		"nc", "-z", "-w", "2", "203.0.113.1", "9"), metav1.CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.PodSucceeded, waitPhase(ctx, t, c.Client, "by-name", corev1.PodSucceeded, corev1.PodFailed).Status.Phase,
		"a pod reaches a Service by its cluster DNS name")
	assert.Equal(t, corev1.PodFailed, waitPhase(ctx, t, c.Client, "off-machine", corev1.PodSucceeded, corev1.PodFailed).Status.Phase,
		"a pod cannot reach an address off the machine")
	guard, err := exec.Command("iptables", "-L", "MPCGUARD-NODE-GUARD", "-v", "-x", "-n").CombinedOutput()
	require.NoError(t, err, "%s", guard)
	assert.Regexp(t, `(?m)^\s*[1-9]\d*\s+\d+\s+DROP`, string(guard), "the guard dropped the pod's packets")

	require.NoError(t, c.Stop())
	after := cluster.HostFootprint()
	assert.Equal(t, before, after, "after Stop the host is as it was before the killed run")
	if t.Failed() {
		fmt.Fprintln(os.Stderr, "the end of the logs:\n"+c.Logs(20))
	}
}

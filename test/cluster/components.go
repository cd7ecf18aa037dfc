package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/mpcguard/mpcguard/test/ports"
)

// boot is what one start of a cluster knows while it brings its components up.
type boot struct {
	c    *Cluster
	opts Options
	pki  pki
	// bindIP is where the API server listens: 127.0.0.1, or the machine's own address with a real node.
	bindIP string
	// host is the API server's URL.
	host string
	// stages is KWOK's --config.
	stages []byte
	// plain and secure are health-check clients without TLS and trusting the cluster's CA.
	plain, secure *http.Client
	// files are paths a component's prepare step wrote for its arguments, by name.
	files map[string]string
}

// component is one process of the cluster. [components] lists them in start order; Stop ends them in the
// reverse order, so that clients go before the API server and the API server before etcd.
type component struct {
	name string
	// enabled tells whether this cluster runs it (nil: always).
	enabled func(b *boot) bool
	// prepare writes what the arguments refer to (configuration, certificates) and picks ports.
	prepare func(b *boot) error
	args    func(b *boot) []string
	// withBinPath puts the tools' directory first on the process's PATH (containerd finds its shim there).
	withBinPath bool
	// ready is polled until true (bounded by timeout).
	ready   func(ctx context.Context, b *boot) (bool, error)
	timeout time.Duration
	// started runs once the component is ready (clients, images, volumes).
	started func(ctx context.Context, b *boot) error
	// stopped runs once Stop has ended the component's process (or found none: a start that failed before it).
	stopped func(c *Cluster) error
}

func realNodeOn(b *boot) bool { return b.opts.RealNode }

// components is the cluster, in start order: the control plane, KWOK for fake nodes, the real node.
var components = []component{
	{
		name: "etcd",
		prepare: func(b *boot) error {
			return os.MkdirAll(filepath.Join(b.c.Dir, "etcd"), 0o700)
		},
		args: func(b *boot) []string {
			client, peer := b.c.url("etcd-client", "http"), b.c.url("etcd-peer", "http")
			return []string{"--name", "default", "--data-dir", filepath.Join(b.c.Dir, "etcd"),
				"--listen-client-urls", client, "--advertise-client-urls", client,
				"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
				"--initial-cluster", "default=" + peer, "--unsafe-no-fsync", "--log-level", "warn"}
		},
		ready: func(ctx context.Context, b *boot) (bool, error) {
			return httpOK(ctx, b.plain, b.c.url("etcd-client", "http")+"/health", `"health":"true"`), nil
		},
		timeout: etcdTimeout,
	},
	{
		name: "kube-apiserver",
		prepare: func(b *boot) error {
			// The kubeconfig and the client, for the readiness check: no connection is made before it polls.
			if err := b.c.connect(b); err != nil {
				return err
			}
			if b.opts.AdmissionConfig != nil {
				b.files["kube-apiserver"] = filepath.Join(b.c.Dir, "admission-configuration.yaml")
				if err := os.WriteFile(b.files["kube-apiserver"], b.opts.AdmissionConfig, 0o600); err != nil {
					return fmt.Errorf("writing the admission configuration: %w", err)
				}
			}
			if !b.opts.RealNode {
				return nil
			}
			client, err := b.pki.ca.IssueClient(pkiValidity, "kube-apiserver-kubelet-client", "system:masters")
			if err != nil {
				return err
			}
			return client.WriteDir(filepath.Join(b.pki.dir, "kubelet-client"))
		},
		args: func(b *boot) []string {
			p := b.pki
			args := []string{"--etcd-servers", b.c.url("etcd-client", "http"),
				"--bind-address", b.bindIP, "--advertise-address", b.bindIP, "--secure-port", strconv.Itoa(b.c.ports["kube-apiserver"]),
				"--cert-dir", filepath.Join(b.c.Dir, "tls"), "--tls-cert-file", p.certFile, "--tls-private-key-file", p.keyFile,
				"--client-ca-file", p.caFile, "--token-auth-file", p.tokenFile,
				"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
				"--service-account-key-file", p.saKeyFile, "--service-account-signing-key-file", p.saKeyFile,
				"--service-cluster-ip-range", ServiceCIDR,
				"--profiling=false"}
			if gates := featureGates(b.opts.FeatureGates); gates != "" {
				args = append(args, "--feature-gates", gates)
			}
			if b.files["kube-apiserver"] != "" {
				args = append(args, "--admission-control-config-file", b.files["kube-apiserver"])
			}
			if !b.opts.RealNode {
				return append(args, "--authorization-mode", "RBAC",
					// The kubernetes Service's endpoint would be 127.0.0.1, which Endpoints validation refuses.
					"--endpoint-reconciler-type", "none")
			}
			kc := filepath.Join(p.dir, "kubelet-client")
			return append(args, "--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
				"--kubelet-client-certificate", filepath.Join(kc, "tls.crt"), "--kubelet-client-key", filepath.Join(kc, "tls.key"),
				"--kubelet-certificate-authority", p.caFile, "--kubelet-preferred-address-types", "InternalIP",
				// Webhook Services are called at an endpoint's address, as kube-proxy would route them.
				"--enable-aggregator-routing=true")
		},
		ready: func(ctx context.Context, b *boot) (bool, error) {
			body, err := b.c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err == nil && string(body) == "ok", nil
		},
		timeout: apiserverTimeout,
	},
	{
		name: "kube-controller-manager",
		args: func(b *boot) []string {
			return append(b.serving(), "--secure-port", strconv.Itoa(b.c.ports["kube-controller-manager"]),
				"--kubeconfig", b.c.Kubeconfig, "--leader-elect=false",
				"--service-account-private-key-file", b.pki.saKeyFile, "--root-ca-file", b.pki.caFile,
				"--use-service-account-credentials", "--controllers", "*,-nodeipam",
				"--cluster-name", "mpcguard-local", "--profiling=false")
		},
		ready: func(ctx context.Context, b *boot) (bool, error) {
			return b.healthz(ctx, "kube-controller-manager"), nil
		},
		timeout: componentTimeout,
		// The service-account controller runs: pods can be created in the default namespace.
		started: func(ctx context.Context, b *boot) error {
			return b.c.waitFor(ctx, "the default ServiceAccount", componentTimeout, b.c.procs, func(ctx context.Context) (bool, error) {
				_, err := b.c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return false, nil
				}
				return err == nil, err
			})
		},
	},
	{
		name: "kube-scheduler",
		args: func(b *boot) []string {
			return append(b.serving(), "--secure-port", strconv.Itoa(b.c.ports["kube-scheduler"]),
				"--kubeconfig", b.c.Kubeconfig, "--leader-elect=false", "--profiling=false")
		},
		ready:   func(ctx context.Context, b *boot) (bool, error) { return b.healthz(ctx, "kube-scheduler"), nil },
		timeout: componentTimeout,
	},
	{
		name:    "kwok",
		enabled: func(b *boot) bool { return b.opts.Nodes > 0 },
		prepare: func(b *boot) error {
			b.files["kwok"] = filepath.Join(b.c.Dir, "kwok-stages.yaml")
			if err := os.WriteFile(b.files["kwok"], b.stages, 0o600); err != nil {
				return fmt.Errorf("writing the KWOK stages: %w", err)
			}
			return nil
		},
		args: func(b *boot) []string {
			port := strconv.Itoa(b.c.ports["kwok"])
			return []string{"--kubeconfig", b.c.Kubeconfig, "--config", b.files["kwok"],
				"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", fakeNodeAnnotation + "=fake",
				"--cidr", "10.244.0.0/16",
				// The fake kubelets' API (kubectl logs) is KWOK's own server on loopback.
				"--node-ip", "127.0.0.1", "--node-port", port, "--server-address", "127.0.0.1:" + port,
				"--tls-cert-file", b.pki.certFile, "--tls-private-key-file", b.pki.keyFile,
				"--node-lease-duration-seconds", "40"}
		},
		ready:   func(ctx context.Context, b *boot) (bool, error) { return b.healthz(ctx, "kwok"), nil },
		timeout: componentTimeout,
	},
	{
		name:        "containerd",
		enabled:     realNodeOn,
		prepare:     prepareContainerd,
		args:        func(*boot) []string { return []string{"--config", filepath.Join(nodeRoot, "containerd.toml")} },
		withBinPath: true,
		ready: func(ctx context.Context, b *boot) (bool, error) {
			_, err := b.c.ctr(ctx, "version")
			return err == nil, nil
		},
		timeout: componentTimeout,
		started: func(ctx context.Context, b *boot) error { return b.c.loadStandInImages(ctx) },
		stopped: stoppedContainerd,
	},
	{
		name:    "kubelet",
		enabled: realNodeOn,
		prepare: prepareKubelet,
		args: func(b *boot) []string {
			return []string{"--config", filepath.Join(nodeRoot, "kubelet.yaml"), "--kubeconfig", filepath.Join(nodeRoot, "kubelet.kubeconfig"),
				"--root-dir", filepath.Join(nodeRoot, "kubelet"), "--node-ip", b.bindIP, "--hostname-override", RealNodeName,
				"--node-labels", LabelZone + "=" + RealNodeZone + "," + LabelRegion + "=" + Region, "--v", "1"}
		},
		withBinPath: true,
		ready: func(ctx context.Context, b *boot) (bool, error) {
			node, err := b.c.Client.CoreV1().Nodes().Get(ctx, RealNodeName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil && NodeReady(node) && len(node.Spec.Taints) == 0, err
		},
		timeout: nodeTimeoutReal,
	},
	{
		// Before any pod uses a Service: without it a ClusterIP would not be rewritten (the local route keeps
		// it on the machine all the same).
		name:    "kube-proxy",
		enabled: realNodeOn,
		prepare: prepareKubeProxy,
		args: func(*boot) []string {
			return []string{"--config", filepath.Join(nodeRoot, "kube-proxy.yaml"), "--v", "1"}
		},
		withBinPath: true,
		ready: func(ctx context.Context, b *boot) (bool, error) {
			return httpOK(ctx, b.plain, fmt.Sprintf("http://127.0.0.1:%d/healthz", b.c.ports["kube-proxy-health"]), ""), nil
		},
		timeout: componentTimeout,
		started: func(ctx context.Context, b *boot) error { return b.c.addLocalVolumes(ctx) },
	},
}

// featureGates is the value of --feature-gates, name=bool sorted by name ("" for none).
func featureGates(gates map[string]bool) string {
	pairs := make([]string, 0, len(gates))
	for name, on := range gates {
		pairs = append(pairs, name+"="+strconv.FormatBool(on))
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// url is http(s)://127.0.0.1:<port of name>.
func (c *Cluster) url(name, scheme string) string {
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, c.ports[name])
}

// serving are the serving flags of kube-controller-manager and kube-scheduler.
func (b *boot) serving() []string {
	return []string{"--bind-address", "127.0.0.1", "--tls-cert-file", b.pki.certFile, "--tls-private-key-file", b.pki.keyFile}
}

// healthz tells whether the component's /healthz on its loopback port says ok.
func (b *boot) healthz(ctx context.Context, name string) bool {
	return httpOK(ctx, b.secure, b.c.url(name, "https")+"/healthz", "ok")
}

// newBoot prepares a start: PKI, ports and health-check clients.
func newBoot(c *Cluster, opts Options, bindIP string, stages []byte, sans, users []string) (*boot, error) {
	p, err := writePKI(c.Dir, sans, users...)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"etcd-client", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
		"kubelet", "kubelet-health", "kube-proxy-health", "kube-proxy-metrics"} {
		if c.ports[name], err = ports.Free(); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	return &boot{c: c, opts: opts, pki: p, bindIP: bindIP, stages: stages, files: map[string]string{},
		host:   fmt.Sprintf("https://%s:%d", bindIP, c.ports["kube-apiserver"]),
		plain:  &http.Client{Timeout: 2 * time.Second},
		secure: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}, nil
}

// bootComponents starts every enabled component in order, each once the previous one is ready.
func (c *Cluster) bootComponents(ctx context.Context, b *boot) error {
	for _, comp := range components {
		if comp.enabled != nil && !comp.enabled(b) {
			continue
		}
		if comp.prepare != nil {
			if err := comp.prepare(b); err != nil {
				return err
			}
		}
		env := os.Environ()
		if comp.withBinPath {
			env = append(env, "PATH="+c.BinDir+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
		}
		if _, err := c.startWithEnv(comp.name, env, comp.args(b)...); err != nil {
			return err
		}
		if err := c.waitFor(ctx, comp.name, comp.timeout, c.procs, func(ctx context.Context) (bool, error) {
			return comp.ready(ctx, b)
		}); err != nil {
			return err
		}
		if comp.started != nil {
			if err := comp.started(ctx, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// connect writes the administrator's kubeconfig and makes the cluster's client.
func (c *Cluster) connect(b *boot) error {
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	var err error
	if c.Config, err = writeKubeconfig(c.Kubeconfig, b.pki.kubeconfig(b.host)); err != nil {
		return err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("client for %s: %w", b.host, err)
	}
	return nil
}

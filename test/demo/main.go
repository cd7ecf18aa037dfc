package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

func main() {
	keep := flag.Bool("keep", false, "keep the cluster, the real node and the registry running until Ctrl-C")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard()) // the demo's client logs nothing; without this controller-runtime warns on stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Stderr, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1)
	}
}

// errScenario marks a scenario that did not come out as the demo says it should.
var errScenario = errors.New("unexpected outcome")

func run(ctx context.Context, out, progress io.Writer, keep bool) (err error) {
	start := time.Now()
	if os.Geteuid() != 0 {
		return errors.New("the demo runs a real node (kubelet, containerd, runc, a bridge): run it as root")
	}
	fmt.Fprintln(progress, "==> building the tools: control plane, real node, registry, helm (cached after the first run)")
	bin, err := cluster.Build(ctx, progress, scenario.InClusterTools...)
	if err != nil {
		return err
	}
	env, err := scenario.UpInCluster(ctx, scenario.InClusterOptions{BinDir: bin, Log: progress})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(progress, "==> stopping the cluster, the real node and the registry")
		err = errors.Join(err, env.Down())
		if err == nil {
			fmt.Fprintf(progress, "==> done in %s: nothing left running\n", time.Since(start).Round(time.Second))
		}
	}()
	fmt.Fprintf(out, "\nmpc-system is installed with helm from %s\n"+
		"in namespace %s of a local cluster whose one node, %s (%s), runs real containers.\n",
		env.Chart, env.Namespace, cluster.RealNodeName, env.Cluster.NodeIP)

	var failures []error
	if err := showWebhook(ctx, out, env); err != nil {
		if !errors.Is(err, errScenario) {
			return err
		}
		fmt.Fprintf(out, "UNEXPECTED: %v\n", err)
		failures = append(failures, fmt.Errorf("the webhook: %w", err))
	}
	for i, s := range []struct {
		title string
		run   func(context.Context, io.Writer, *scenario.Env) error
	}{
		{"Persistent parties, placed by the real scheduler", showPlacement},
		{"What the coordinator's ServiceAccount may do (SubjectAccessReview), and what it discovers", showAccess},
		{"A party pod without a role label", showUnlabelledParty},
		{"An MPCSession with an empty composition", showEmptyComposition},
		{"An MPCSession whose delegates alone reach the threshold", showDelegateOnly},
		{"A valid MPCSession", showValidSession},
	} {
		fmt.Fprintf(out, "\n%d. %s\n", i+1, s.title)
		if err := s.run(ctx, out, env); err != nil {
			if !errors.Is(err, errScenario) {
				return err
			}
			fmt.Fprintf(out, "   UNEXPECTED: %v\n", err)
			failures = append(failures, fmt.Errorf("%s: %w", s.title, err))
		}
	}
	if len(failures) > 0 {
		return errors.Join(failures...)
	}
	fmt.Fprintln(out, "\nEvery scenario came out as expected.")
	if keep {
		fmt.Fprintf(out, "\nThe cluster, its real node and the registry (%s) stay up until Ctrl-C:\n"+
			"  export KUBECONFIG=%s\n  export PATH=%s:$PATH   # kubectl and helm\n",
			env.Registry.Addr, env.Cluster.Kubeconfig, bin)
		<-ctx.Done()
	}
	return nil
}

// showWebhook shows that the webhook runs in the cluster from the pushed image, by digest, and that the API server
// calls it through its Service.
func showWebhook(ctx context.Context, out io.Writer, env *scenario.Env) error {
	pods, err := env.WebhookPods(ctx)
	if err != nil {
		return err
	}
	var names, wrong []string
	for _, p := range pods {
		names = append(names, p.Pod)
		if p.Node != cluster.RealNodeName || !p.Ready || p.Image != env.Image.Ref() || !strings.HasSuffix(p.ImageID, "@"+env.Image.Digest) {
			wrong = append(wrong, fmt.Sprintf("%s on %q, Ready %t, image %s, ran %s", p.Pod, p.Node, p.Ready, p.Image, p.ImageID))
		}
	}
	fmt.Fprintf(out, "The webhook runs in the cluster: %d pods Ready on %s, the kubelet ran %s, the digest make publish pushed.\n",
		len(pods), cluster.RealNodeName, imageIDs(pods))
	vwcs, err := env.Cluster.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing ValidatingWebhookConfigurations: %w", err)
	}
	services := map[string]bool{}
	for _, c := range vwcs.Items {
		for _, w := range c.Webhooks {
			switch {
			case w.ClientConfig.URL != nil:
				wrong = append(wrong, fmt.Sprintf("%s has url %s", w.Name, *w.ClientConfig.URL))
			case w.ClientConfig.Service != nil:
				services[w.ClientConfig.Service.Namespace+"/"+w.ClientConfig.Service.Name] = true
			}
		}
	}
	fmt.Fprintf(out, "The API server calls it through Service %s (no webhook.url).\n", strings.Join(slices.Sorted(maps.Keys(services)), ", "))
	if len(pods) == 0 || len(services) == 0 || len(wrong) > 0 {
		return fmt.Errorf("%w: webhook pods %v, services %v: %s", errScenario, names, services, strings.Join(wrong, "; "))
	}
	return nil
}

func imageIDs(pods []scenario.WebhookPod) string {
	ids := map[string]bool{}
	for _, p := range pods {
		ids[p.ImageID] = true
	}
	return strings.Join(slices.Sorted(maps.Keys(ids)), ", ")
}

func showPlacement(ctx context.Context, out io.Writer, env *scenario.Env) error {
	parties, err := env.Parties(ctx, "")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   POD\tROLE\tNODE\tZONE\tREADY")
	persistent, ready, elsewhere := 0, 0, 0
	for _, p := range parties {
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\n", p.Pod, p.Role, p.Node, p.Zone, yesNo(p.Ready))
		if p.Role == vocab.RolePersistent {
			persistent++
			if p.Ready {
				ready++
			}
			if p.Node != cluster.RealNodeName {
				elsewhere++
			}
		}
	}
	tw.Flush()
	coordinators, err := env.Pods(ctx, scenario.ComponentLabel+"=coordinator")
	if err != nil {
		return err
	}
	for _, p := range coordinators {
		fmt.Fprintf(out, "   coordinator %s on %s (%s), Ready: %s\n", p.Pod, p.Node, p.Zone, yesNo(p.Ready))
	}
	fmt.Fprintf(out, "   %d persistent parties Ready (their probes pass) on %s. With one node these values prefer\n"+
		"   anti-affinity on %s; the chart's default requires it, so that no node holds two shares\n"+
		"   of a key (make test shows one party per node and zone on fake nodes).\n", ready, cluster.RealNodeName, cluster.LabelHostname)
	if persistent == 0 || ready != persistent || elsewhere > 0 {
		return fmt.Errorf("%w: %d persistent parties, %d Ready, %d not on %s", errScenario, persistent, ready, elsewhere, cluster.RealNodeName)
	}
	return nil
}

func showAccess(ctx context.Context, out io.Writer, env *scenario.Env) error {
	checks, err := env.CoordinatorAccess(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   user %s\n", checks[0].User)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	var wrong []string
	for _, c := range checks {
		decision := "denied"
		if c.Allowed {
			decision = "allowed"
		}
		reason := c.Reason
		if reason == "" {
			reason = "no RBAC rule grants it"
		}
		fmt.Fprintf(tw, "   %s %s in %s\t%s\t(%s)\n", c.Verb, c.Resource, c.Namespace, decision, reason)
		wantAllowed := c.Resource == "pods" && c.Namespace == env.Namespace
		if c.Allowed != wantAllowed {
			wrong = append(wrong, fmt.Sprintf("%s %s in %s %s", c.Verb, c.Resource, c.Namespace, decision))
		}
	}
	tw.Flush()
	if len(wrong) > 0 {
		return fmt.Errorf("%w: %s", errScenario, strings.Join(wrong, "; "))
	}
	return showDiscovery(ctx, out, env)
}

// showDiscovery asks the coordinator stand-in, from the host, what it discovered from inside its pod with that
// ServiceAccount, waiting (up to a minute) until it has seen every Ready party.
func showDiscovery(ctx context.Context, out io.Writer, env *scenario.Env) error {
	parties, err := env.Parties(ctx, "")
	if err != nil {
		return err
	}
	want := map[string]int{}
	for _, p := range parties {
		if p.Ready {
			want[p.Role]++
		}
	}
	var report *scenario.CoordinatorReport
	deadline := time.Now().Add(time.Minute)
	for {
		report, err = env.Coordinator(ctx)
		if err == nil && maps.Equal(report.ReadyRoles(), want) && report.Rounds > 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("%w: asking the coordinator what it discovered: %w", errScenario, err)
			}
			return fmt.Errorf("%w: the coordinator reports Ready parties %v, the API %v", errScenario, report.ReadyRoles(), want)
		}
		time.Sleep(time.Second)
	}
	roles := report.ReadyRoles()
	secrets := "allowed"
	if report.SecretsForbidden {
		secrets = "forbidden"
	}
	fmt.Fprintf(out, "   From inside its pod (GET http://%s:8080/parties): %d persistent and %d delegate parties Ready\n"+
		"   discovered with this ServiceAccount; listing secrets: %s.\n",
		report.IP, roles[vocab.RolePersistent], roles[vocab.RoleDelegate], secrets)
	if report.DiscoveryError != "" || !report.SecretsForbidden {
		return fmt.Errorf("%w: discovery error %q, secrets %s", errScenario, report.DiscoveryError, secrets)
	}
	fmt.Fprintln(out, "   The coordinator discovers party pods in its namespace and can read no key material.")
	return nil
}

func showUnlabelledParty(ctx context.Context, out io.Writer, env *scenario.Env) error {
	pod := env.UnlabelledParty("party-without-role")
	fmt.Fprintf(out, "   create Pod %s/%s labelled %s=%s, no %s label\n",
		pod.Namespace, pod.Name, scenario.ComponentLabel, scenario.PartyComponent, scenario.RoleLabel)
	return expectRejected(out, env.Client.Create(ctx, pod), vocab.PartyRoleRequired)
}

func showEmptyComposition(ctx context.Context, out io.Writer, env *scenario.Env) error {
	s := env.Session("sign-empty", 2, 3, &v1alpha1.Composition{})
	fmt.Fprintf(out, "   create MPCSession %s/%s, threshold 2-of-3, composition {}\n", s.Namespace, s.Name)
	return expectRejected(out, env.Client.Create(ctx, s), vocab.SessionCompositionNonempty)
}

func showDelegateOnly(ctx context.Context, out io.Writer, env *scenario.Env) error {
	s := env.Session("sign-41", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2})
	fmt.Fprintf(out, "   create MPCSession %s/%s, threshold 2-of-3, composition {persistent: 1, delegate: 2}\n", s.Namespace, s.Name)
	return expectRejected(out, env.Client.Create(ctx, s), vocab.SessionDelegateOnlyThreshold)
}

func showValidSession(ctx context.Context, out io.Writer, env *scenario.Env) error {
	s := env.Session("sign-42", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})
	fmt.Fprintf(out, "   create MPCSession %s/%s, threshold 2-of-3, composition {persistent: 2, delegate: 1}\n", s.Namespace, s.Name)
	if err := env.Client.Create(ctx, s); err != nil {
		fmt.Fprintf(out, "   rejected:\n     %s\n", indent(err.Error()))
		return fmt.Errorf("%w: a valid session was rejected", errScenario)
	}
	fmt.Fprintf(out, "   admitted: mpcsession.mpc.mpcguard.io/%s created (it needs 2 Ready persistent parties and has them; its 1 delegate cannot sign alone)\n", s.Name)
	return nil
}

func expectRejected(out io.Writer, err error, policyID string) error {
	if err == nil {
		fmt.Fprintln(out, "   admitted")
		return fmt.Errorf("%w: admitted, want a [%s] denial", errScenario, policyID)
	}
	fmt.Fprintf(out, "   rejected by the API server:\n     %s\n", indent(err.Error()))
	if !strings.Contains(err.Error(), "["+policyID+"]") {
		return fmt.Errorf("%w: the denial does not name [%s]", errScenario, policyID)
	}
	return nil
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n     ") }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

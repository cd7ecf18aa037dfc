package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

func main() {
	keep := flag.Bool("keep", false, "keep the cluster and the webhook running until Ctrl-C")
	charts := flag.String("charts", "", "install DIR/mpc-system instead of freshly generated charts (e.g. charts)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Stderr, *keep, *charts); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1)
	}
}

// errScenario marks a scenario that did not come out as the demo says it should.
var errScenario = errors.New("unexpected outcome")

func run(ctx context.Context, out, progress io.Writer, keep bool, charts string) (err error) {
	start := time.Now()
	fmt.Fprintln(progress, "==> building the control-plane tools (cached after the first run)")
	bin, err := cluster.Build(ctx, progress, cluster.ControlPlaneTools...)
	if err != nil {
		return err
	}
	env, err := scenario.Up(ctx, scenario.Options{BinDir: bin, Charts: charts, Log: progress,
		Mpcguard: os.Getenv("MPCGUARD_BIN")})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(progress, "==> stopping the webhook and the cluster")
		err = errors.Join(err, env.Down())
		if err == nil {
			fmt.Fprintf(progress, "==> done in %s: nothing left running\n", time.Since(start).Round(time.Second))
		}
	}()
	fmt.Fprintf(out, "\nmpc-system is installed in namespace %s of a local cluster (%d nodes); the webhook listens on %s.\n",
		env.Namespace, len(env.Cluster.Nodes), env.Webhook.URL)

	var failures []error
	for i, s := range []struct {
		title string
		run   func(context.Context, io.Writer, *scenario.Env) error
	}{
		{"Persistent parties, placed by the real scheduler", showPlacement},
		{"What the coordinator's ServiceAccount may do (SubjectAccessReview)", showAccess},
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
		fmt.Fprintf(out, "\nThe cluster stays up until Ctrl-C:\n  export KUBECONFIG=%s\n  export PATH=%s:$PATH   # kubectl and helm, after `make tools`\n",
			env.Cluster.Kubeconfig, bin)
		<-ctx.Done()
	}
	return nil
}

func showPlacement(ctx context.Context, out io.Writer, env *scenario.Env) error {
	parties, err := env.Parties(ctx, "")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   POD\tROLE\tNODE\tZONE\tREADY")
	nodes, zones := map[string]bool{}, map[string]bool{}
	persistent := 0
	for _, p := range parties {
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\n", p.Pod, p.Role, p.Node, p.Zone, yesNo(p.Ready))
		if p.Role == vocab.RolePersistent {
			persistent++
			nodes[p.Node], zones[p.Zone] = true, true
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
	fmt.Fprintf(out, "   %d persistent parties on %d different nodes in %d zones (required anti-affinity on %s,\n"+
		"   spread over %s): no node holds two shares of a key.\n", persistent, len(nodes), len(zones), cluster.LabelHostname, cluster.LabelZone)
	if persistent == 0 || len(nodes) != persistent {
		return fmt.Errorf("%w: %d persistent parties on %d nodes", errScenario, persistent, len(nodes))
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

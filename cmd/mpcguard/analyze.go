package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/mpcguard/mpcguard/internal/analyze"
	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// analyzeOptions are the flags of mpcguard analyze.
type analyzeOptions struct {
	operators     []string
	operatorsFile string
	nodes         string
	cluster       bool
	kubeconfig    string
	kubecontext   string
	threshold     int
	loseNodes     int
	namespace     string
	roleLabelKey  string
	partySelector string
	output        string
	strict        bool
	timeout       time.Duration
}

func newAnalyzeCmd() *cobra.Command {
	var o analyzeOptions
	cmd := &cobra.Command{
		Use:   "analyze RENDER... | --operator NAME=FILE[,cloud=C][,region=R][,nodes=F]... | --operators FILE",
		Short: "Answer whether signing survives losing a node, a zone or k nodes, drains, and operator collusion",
		Long: `Analyze reads a rendered chart (helm template output: files, directories or - for stdin) and answers,
each as a finding with a verdict (ok, at-risk, or unknown when the input cannot decide, with why):

  node-loss                 does signing survive losing any one node (t persistent parties left)?
  nodes-loss                ... any k nodes (--lose-nodes k, when k > 1)?
  zone-loss                 ... any one zone (needs the nodes' zones: --nodes or --cluster)?
  pdb-drain                 can a PodDisruptionBudget over party pods block a node drain forever?
  non-persistent-threshold  could the delegate and temporary parties together reach t?
  single-operator, single-cloud, single-region
                            with several operators: does one hold t persistent parties, or so many
                            that losing it leaves fewer than t?

Only persistent parties count toward signing (delegates hold no share; every session needs a persistent
party). Placement is the worst case the scheduling constraints allow: required anti-affinity on
kubernetes.io/hostname keeps one party per node, preferred allows all on one.

t is the --threshold-t of the mpcguard webhook Deployment in the render(s), or --threshold, which overrides it.
The party selector and role label key are the webhook's too (else the defaults), or the flags.

Several operators, each running parties in their own cluster (one render each):
  --operator NAME=FILE[,cloud=C][,region=R][,nodes=F]    repeatable
  --operators FILE                                       a YAML file:
      operators:
      - {name: party1, render: party1.yaml, cloud: aws, region: eu-west-1, nodes: party1-nodes.yaml}
    (paths relative to the file; render may be a directory).

--nodes FILE gives the nodes of a single render (kubectl get nodes -o yaml: a NodeList, or Node documents);
--cluster reads the nodes and the persistent party pods' actual nodes from the cluster of --kubeconfig and
--context (list only).

Exit status: 0 every finding ok, 1 a finding at-risk (or unknown, with --strict), 2 bad usage or input that
cannot be read (the file, document and line are named).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := o.run(cmd.Context(), args, cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("analyze: %w", err)}
			}
			if err := analyze.Write(o.output, cmd.OutOrStdout(), rep); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("analyze: writing report: %w", err)}
			}
			if rep.Count(analyze.AtRisk) > 0 || (o.strict && rep.Count(analyze.Unknown) > 0) {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.operators, "operator", nil, "an operator's render: NAME=FILE[,cloud=C][,region=R][,nodes=F]; repeatable")
	f.StringVar(&o.operatorsFile, "operators", "", "YAML file listing the operators (name, render, cloud, region, nodes)")
	f.StringVar(&o.nodes, "nodes", "", "nodes of a single render: kubectl get nodes -o yaml (a NodeList) or Node documents")
	f.BoolVar(&o.cluster, "cluster", false, "read the nodes and the persistent parties' placement from the cluster (list only)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file for --cluster (default $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&o.kubecontext, "context", "", "kubeconfig context for --cluster (default its current context)")
	f.IntVar(&o.threshold, "threshold", 0, "t of t-of-n (default: the --threshold-t of the mpcguard webhook in the render)")
	f.IntVar(&o.loseNodes, "lose-nodes", 1, "also ask whether signing survives losing any k nodes (nodes-loss), when k > 1")
	f.StringVarP(&o.namespace, "namespace", "n", "default", "namespace of objects that name none")
	f.StringVar(&o.roleLabelKey, "role-label-key", "", "label key of a party's role (default: the webhook's in the render, else party-role)")
	f.StringVar(&o.partySelector, "party-selector", "", "label selector of party pods (default: the webhook's in the render, else app.kubernetes.io/component=mpc-party)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: "+strings.Join(analyze.Formats, ", "))
	f.BoolVar(&o.strict, "strict", false, "exit 1 on unknown verdicts too")
	f.DurationVar(&o.timeout, "timeout", time.Minute, "give up on reading the cluster after this long")
	return cmd
}

// operatorSpec is one operator as named on the command line or in an operators file.
type operatorSpec struct {
	Name   string `yaml:"name"`
	Render string `yaml:"render"`
	Cloud  string `yaml:"cloud"`
	Region string `yaml:"region"`
	Nodes  string `yaml:"nodes"`
}

func (o *analyzeOptions) run(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer) (analyze.Report, error) {
	if !slices.Contains(analyze.Formats, o.output) {
		return analyze.Report{}, fmt.Errorf("--output %q: want one of %s", o.output, strings.Join(analyze.Formats, ", "))
	}
	if o.threshold < 0 || o.loseNodes < 1 {
		return analyze.Report{}, fmt.Errorf("--threshold %d and --lose-nodes %d: want t >= 1 (or unset) and k >= 1", o.threshold, o.loseNodes)
	}
	specs, fileT, err := o.specs(args)
	if err != nil {
		return analyze.Report{}, err
	}
	explicit, tWhere := o.threshold, "--threshold"
	if explicit == 0 && fileT > 0 {
		explicit, tWhere = fileT, o.operatorsFile
	}
	if (o.cluster || o.nodes != "") && len(specs) > 1 {
		return analyze.Report{}, errors.New("--nodes and --cluster describe a single render; give each operator its nodes (nodes=FILE)")
	}
	in := analyze.Input{T: explicit, LoseNodes: o.loseNodes}
	for _, s := range specs {
		op, t, where, err := o.readOperator(s, stdin)
		if err != nil {
			return analyze.Report{}, err
		}
		if explicit == 0 && t > 0 {
			if in.T != 0 && in.T != t {
				return analyze.Report{}, fmt.Errorf("%w: t=%d in %s, t=%d in %s; give --threshold", analyze.ErrThresholdConflict, in.T, tWhere, t, where)
			}
			in.T, tWhere = t, where
		}
		in.Operators = append(in.Operators, op)
	}
	if in.T == 0 {
		return analyze.Report{}, fmt.Errorf("%w: give --threshold T, or a render with the mpcguard webhook (its --threshold-t)", analyze.ErrNoThreshold)
	}
	fmt.Fprintf(stderr, "t=%d from %s\n", in.T, tWhere)
	if o.cluster {
		if err := o.readCluster(ctx, &in.Operators[0], stderr); err != nil {
			return analyze.Report{}, err
		}
	}
	return analyze.Analyze(in), nil
}

// specs are the operators of the command line: the positional renders as one unnamed operator, or the
// --operator flags, or the operators file (with the network's t, 0 when it names none).
func (o *analyzeOptions) specs(args []string) ([]operatorSpec, int, error) {
	given := 0
	for _, b := range []bool{len(args) > 0, len(o.operators) > 0, o.operatorsFile != ""} {
		if b {
			given++
		}
	}
	if given != 1 {
		return nil, 0, errors.New("give the render(s) as arguments, or --operator flags, or --operators FILE (exactly one of these)")
	}
	switch {
	case len(args) > 0:
		return []operatorSpec{{Render: strings.Join(args, "\x00"), Nodes: o.nodes}}, 0, nil
	case len(o.operators) > 0:
		var out []operatorSpec
		for _, v := range o.operators {
			s, err := parseOperatorFlag(v)
			if err != nil {
				return nil, 0, fmt.Errorf("--operator %q: %w", v, err)
			}
			out = append(out, s)
		}
		specs, err := checkSpecs(out, "--operator")
		return specs, 0, err
	}
	return readOperatorsFile(o.operatorsFile)
}

// parseOperatorFlag reads NAME=FILE[,cloud=C][,region=R][,nodes=F].
func parseOperatorFlag(v string) (operatorSpec, error) {
	parts := strings.Split(v, ",")
	name, render, ok := strings.Cut(parts[0], "=")
	if !ok || name == "" || render == "" {
		return operatorSpec{}, errors.New("want NAME=FILE[,cloud=C][,region=R][,nodes=F]")
	}
	s := operatorSpec{Name: name, Render: render}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		switch k {
		case "cloud":
			s.Cloud = val
		case "region":
			s.Region = val
		case "nodes":
			s.Nodes = val
		default:
			return operatorSpec{}, fmt.Errorf("unknown key %q: want cloud, region or nodes", k)
		}
	}
	return s, nil
}

// readOperatorsFile reads an operators file and the network's t it names (0: none), with unknown keys and
// duplicate names as errors; its paths are relative to it.
func readOperatorsFile(path string) ([]operatorSpec, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("--operators: %w", err)
	}
	var f struct {
		Threshold int            `yaml:"threshold"`
		Operators []operatorSpec `yaml:"operators"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, 0, fmt.Errorf("%s: %w: %w", path, validate.ErrMalformed, err)
	}
	if f.Threshold < 0 {
		return nil, 0, fmt.Errorf("%s: threshold %d: want t >= 1", path, f.Threshold)
	}
	base := filepath.Dir(path)
	for i, s := range f.Operators {
		if s.Name == "" || s.Render == "" {
			return nil, 0, fmt.Errorf("%s: operators[%d]: name and render are required", path, i)
		}
		f.Operators[i].Render = filepath.Join(base, s.Render)
		if s.Nodes != "" {
			f.Operators[i].Nodes = filepath.Join(base, s.Nodes)
		}
	}
	specs, err := checkSpecs(f.Operators, path)
	return specs, f.Threshold, err
}

func checkSpecs(specs []operatorSpec, where string) ([]operatorSpec, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("%s: no operators", where)
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if seen[s.Name] {
			return nil, fmt.Errorf("%s: operator %s is named twice", where, s.Name)
		}
		seen[s.Name] = true
	}
	return specs, nil
}

// readOperator reads one operator's render and nodes, and the t of its webhook (0: none) with where it is.
func (o *analyzeOptions) readOperator(s operatorSpec, stdin io.Reader) (analyze.Operator, int, string, error) {
	op := analyze.Operator{Name: s.Name, Cloud: s.Cloud, Region: s.Region}
	paths := strings.Split(s.Render, "\x00")
	label := strings.Join(paths, ", ")
	srcs, readErrs := validate.ReadSources(paths, stdin)
	objs, rep := validate.Decode(srcs, readErrs, label)
	if err := inputErrors(rep); err != nil {
		return op, 0, "", err
	}
	cfg := analyze.DefaultConfig()
	t, where := 0, ""
	for _, w := range validate.FindWebhookArgs(srcs) {
		cfg = analyze.WebhookConfig(w.Args, cfg)
		wt, err := analyze.WebhookThreshold(w.Args)
		if err != nil {
			return op, 0, "", fmt.Errorf("%s: %w", w.Where(), err)
		}
		if wt > 0 {
			t, where = wt, "the mpcguard webhook in "+w.Where()
		}
	}
	if o.roleLabelKey != "" {
		cfg.RoleLabelKey = o.roleLabelKey
	}
	if o.partySelector != "" {
		cfg.PartySelector = o.partySelector
	}
	r, err := analyze.ReadRender(objs, cfg)
	if err != nil {
		return op, 0, "", err
	}
	for i := range r.Pools {
		if r.Pools[i].Namespace == "" {
			r.Pools[i].Namespace = o.namespace
		}
	}
	for i := range r.PDBs {
		if r.PDBs[i].Namespace == "" {
			r.PDBs[i].Namespace = o.namespace
		}
	}
	op.Render = r
	if s.Nodes != "" {
		srcs, readErrs := validate.ReadSources([]string{s.Nodes}, stdin)
		objs, rep := validate.Decode(srcs, readErrs, s.Nodes)
		if err := inputErrors(rep); err != nil {
			return op, 0, "", err
		}
		if op.Nodes, err = analyze.ReadNodes(objs); err != nil {
			return op, 0, "", err
		}
		if op.Nodes == nil {
			op.Nodes = []analyze.Node{}
		}
	}
	return op, t, where, nil
}

func inputErrors(rep validate.Report) error {
	errs := make([]error, 0, len(rep.Errors))
	for _, e := range rep.Errors {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// readCluster lists the cluster's nodes and the persistent party pods of the render's persistent pools'
// namespaces, and gives the operator their placement.
func (o *analyzeOptions) readCluster(ctx context.Context, op *analyze.Operator, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rc, where, err := kubeClientConfig(o.kubeconfig, o.kubecontext)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("client for %s: %w", where, err)
	}
	namespaces, err := listPlacement(ctx, cs, where, op)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "placement from %s: %d nodes, %d persistent party pods in %s\n", where, len(op.Nodes), len(op.Placed), strconv.Quote(strings.Join(namespaces, ",")))
	return nil
}

// listPlacement lists the nodes and the persistent party pods (the render's party selector and role label
// key: the webhook's, or the flags) of the namespaces of the render's persistent pools: list only, no get or
// watch. It returns the namespaces.
func listPlacement(ctx context.Context, cs kubernetes.Interface, where string, op *analyze.Operator) ([]string, error) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the nodes of %s: %w", where, err)
	}
	op.Nodes = []analyze.Node{}
	for i := range nodes.Items {
		op.Nodes = append(op.Nodes, analyze.NodeOf(&nodes.Items[i]))
	}
	cfg := op.Render.Config
	var namespaces []string
	for _, p := range op.Render.Pools {
		if p.Role == vocab.RolePersistent && !slices.Contains(namespaces, p.Namespace) {
			namespaces = append(namespaces, p.Namespace)
		}
	}
	op.Live, op.Placed = true, []analyze.Placed{}
	for _, ns := range namespaces {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cfg.PartySelector + "," + cfg.RoleLabelKey + "=" + vocab.RolePersistent})
		if err != nil {
			return nil, fmt.Errorf("listing the persistent party pods of %s in namespace %s: %w", where, ns, err)
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			op.Placed = append(op.Placed, analyze.Placed{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName})
		}
	}
	return namespaces, nil
}

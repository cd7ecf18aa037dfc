package native_test

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	celgo "github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/apiserver/pkg/cel/openapi"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	clientopenapi "k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi/openapitest"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/native"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// TestEveryPolicyStaysWithinTheAPIServersCELCostLimits prints, for each native policy, the static worst-case
// cost estimate and the actual cost on a typical and on a large object, and fails when a policy could exceed the
// API server's limits at runtime: an expression over celconfig.PerCallLimit, or a policy over
// celconfig.RuntimeCELCostBudget, is an evaluation error, which a policy with failurePolicy Fail turns into a
// denial of a valid request. Run it with `make cel-cost` (go test ./policies/native/ -run CELCost -v).
//
// The static estimate is cel-go's, with Kubernetes' cost functions (library.CostEstimator), over the OpenAPI
// schemas of the kinds the policy matches (client-go's openapitest copy of a real API server's /openapi/v3;
// the MPCSession CRD's own schema), merged into one type so that an expression guarded by the request's kind
// still type-checks, with list and map sizes bounded by the 3 MiB request limit as the API server bounds them.
// A variable is inlined where it is used, so the estimate counts it at each use (the API server evaluates it
// once): an upper bound. Kinds with no schema here (VolumeSnapshot, Scale) are read as dyn.
func TestEveryPolicyStaysWithinTheAPIServersCELCostLimits(t *testing.T) {
	cfg := native.DefaultConfig()
	cfg.ShareSecretNames = []string{"mpc-share-db", "mpc-share-tls", "mpc-share-backup"}
	cfg.ShareClaimPrefixes = []string{"shares-mpc-party-persistent-", "keys-mpc-party-persistent-"}
	cfg.PersistentWorkloads = []string{"mpc-party-persistent"}
	vaps, _, err := native.Policies(cfg)
	require.NoError(t, err)
	schemas := newSchemas(t)

	t.Logf("limits: %d per expression, %d per policy; large requests are at most %d bytes of JSON", celconfig.PerCallLimit,
		celconfig.RuntimeCELCostBudget, celconfig.MaxRequestSizeBytes)
	t.Logf("%-30s %9s %9s %8s %9s %9s  %s", "policy", "static", "static", "typical", "large", "large", "")
	t.Logf("%-30s %9s %9s %8s %9s %9s  %s", "", "max expr", "total", "total", "max expr", "total", "the large request and expression of the max")
	for _, p := range vaps {
		id := p.Labels[native.PolicyLabel]
		kinds := matchedKinds(&p)
		object := schemas.union(t, kinds)
		maxExpr, total, dyn := staticCost(t, &p, object)
		var typical, large costs
		for _, k := range kinds {
			for _, o := range objectsOf(k) {
				if o.bytes > celconfig.MaxRequestSizeBytes {
					t.Fatalf("the request %q is %d bytes, over the API server's limit %d", o.shape, o.bytes, celconfig.MaxRequestSizeBytes)
				}
				c := actualCost(t, &p, o)
				if o.large {
					large = large.max(c)
				} else {
					typical = typical.max(c)
				}
			}
		}
		t.Logf("%-30s %9s %9s %8d %9d %9d  %s: %s %s", id, costText(maxExpr), costText(total), typical.total, large.maxExpr, large.total,
			large.maxShape, large.maxName, dynText(dyn))
		if large.maxExpr > celconfig.PerCallLimit {
			t.Errorf("%s: %s costs %d on %s, over the per-expression limit %d", id, large.maxName, large.maxExpr, large.maxShape, celconfig.PerCallLimit)
		}
		if large.total > celconfig.RuntimeCELCostBudget {
			t.Errorf("%s: %d on a large request, over the per-policy budget %d", id, large.total, celconfig.RuntimeCELCostBudget)
		}
	}
}

func costText(c uint64) string {
	switch {
	case c == math.MaxUint64:
		return "unbounded"
	case c >= 1e7:
		return fmt.Sprintf("%.1e", float64(c))
	}
	return fmt.Sprint(c)
}

func dynText(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("(%d expressions with object as dyn)", n)
}

// kindsOfResources are the kinds of the resources the policies match (subresources are skipped, as the API
// server's type checker skips them).
var kindsOfResources = map[string]schema.GroupVersionKind{
	"pods":                   {Version: "v1", Kind: "Pod"},
	"bindings":               {Version: "v1", Kind: "Binding"},
	"persistentvolumeclaims": {Version: "v1", Kind: "PersistentVolumeClaim"},
	"deployments":            {Group: "apps", Version: "v1", Kind: "Deployment"},
	"statefulsets":           {Group: "apps", Version: "v1", Kind: "StatefulSet"},
	"replicasets":            {Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	"daemonsets":             {Group: "apps", Version: "v1", Kind: "DaemonSet"},
	"jobs":                   {Group: "batch", Version: "v1", Kind: "Job"},
	"cronjobs":               {Group: "batch", Version: "v1", Kind: "CronJob"},
	"volumesnapshots":        {Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshot"},
	vocab.SessionResource:    {Group: vocab.SessionGroup, Version: vocab.SessionVersion, Kind: vocab.SessionKind},
}

func matchedKinds(p *admissionregistrationv1.ValidatingAdmissionPolicy) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for _, r := range p.Spec.MatchConstraints.ResourceRules {
		for _, res := range r.Resources {
			if gvk, ok := kindsOfResources[res]; ok && !slices.Contains(out, gvk) {
				out = append(out, gvk)
			}
		}
	}
	if len(out) == 0 { // persistent-quorum's statefulsets/scale alone is never the case; pods/binding is.
		out = append(out, schema.GroupVersionKind{Version: "v1", Kind: "Binding"})
	}
	return out
}

// schemas resolves kinds to their OpenAPI schemas.
type schemas struct {
	resolver resolver.SchemaResolver
	session  *spec.Schema
}

type openAPIOnly struct{ discovery.DiscoveryInterface }

func (openAPIOnly) OpenAPIV3() clientopenapi.Client { return openapitest.NewEmbeddedFileClient() }

func newSchemas(t *testing.T) *schemas {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.Unmarshal(v1alpha1.CRDYAML, &crd))
	raw, err := json.Marshal(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
	require.NoError(t, err)
	var s spec.Schema
	require.NoError(t, json.Unmarshal(raw, &s))
	return &schemas{resolver: &resolver.ClientDiscoveryResolver{Discovery: openAPIOnly{}}, session: &s}
}

// union is one schema holding every field of the kinds' schemas; nil when none has a schema.
func (s *schemas) union(t *testing.T, kinds []schema.GroupVersionKind) *spec.Schema {
	t.Helper()
	var out *spec.Schema
	for _, gvk := range kinds {
		var sch *spec.Schema
		if gvk.Kind == vocab.SessionKind {
			sch = s.session
		} else if r, err := s.resolver.ResolveSchema(gvk); err == nil {
			sch = r
		} else {
			continue // no schema: the type checker skips the kind too
		}
		out = merge(out, sch)
	}
	return out
}

// merge returns a schema with the properties of both; where their types differ, the field is dyn.
func merge(a, b *spec.Schema) *spec.Schema {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	if !slices.Equal(a.Type, b.Type) {
		dyn := &spec.Schema{}
		dyn.Extensions = spec.Extensions{"x-kubernetes-preserve-unknown-fields": true}
		return dyn
	}
	out := *a
	if len(a.Properties) > 0 || len(b.Properties) > 0 {
		out.Properties = map[string]spec.Schema{}
		for k, v := range a.Properties {
			out.Properties[k] = v
		}
		for k, v := range b.Properties {
			if old, ok := out.Properties[k]; ok {
				v = *merge(&old, &v)
			}
			out.Properties[k] = v
		}
		out.Required = nil
	}
	if a.Items != nil && b.Items != nil && a.Items.Schema != nil && b.Items.Schema != nil {
		out.Items = &spec.SchemaOrArray{Schema: merge(a.Items.Schema, b.Items.Schema)}
	}
	if a.AdditionalProperties != nil && b.AdditionalProperties != nil && a.AdditionalProperties.Schema != nil && b.AdditionalProperties.Schema != nil {
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: merge(a.AdditionalProperties.Schema, b.AdditionalProperties.Schema)}
	}
	return &out
}

var variableRef = regexp.MustCompile(`\bvariables\.([A-Za-z_][A-Za-z0-9_]*)`)

// staticCost is the largest static estimate of one expression (variables inlined) and the sum over every
// expression of the policy: what it may cost at most, per expression and in all.
func staticCost(t *testing.T, p *admissionregistrationv1.ValidatingAdmissionPolicy, object *spec.Schema) (maxExpr, total uint64, dyn int) {
	t.Helper()
	var objType *apiservercel.DeclType
	if object != nil {
		objType = common.SchemaDeclType(&openapi.Schema{Schema: object}, true).MaybeAssignTypeName("Object")
	}
	env, dynEnv := typedEnv(t, objType), typedEnv(t, nil)
	inlined := map[string]string{}
	inline := func(expr string) string {
		return variableRef.ReplaceAllStringFunc(expr, func(m string) string { return "(" + inlined[m[len("variables."):]] + ")" })
	}
	var exprs []string
	for _, v := range p.Spec.Variables {
		inlined[v.Name] = inline(v.Expression)
		exprs = append(exprs, inlined[v.Name])
	}
	for _, m := range p.Spec.MatchConditions {
		exprs = append(exprs, inline(m.Expression))
	}
	for _, val := range p.Spec.Validations {
		exprs = append(exprs, inline(val.Expression), inline(val.MessageExpression))
	}
	est := &library.CostEstimator{SizeEstimator: &sizeEstimator{object: objType, request: plugincel.BuildRequestType()}}
	for _, e := range exprs {
		use := env
		ast, iss := env.Compile(e)
		if iss.Err() != nil {
			// Two branches of a conditional of different declared types (a CronJob's template and the others'):
			// the API server's type checker cannot type it either. Estimated with object as dyn.
			dyn++
			use = dynEnv
			ast, iss = dynEnv.Compile(e)
		}
		require.NoError(t, iss.Err(), "%s: %s", p.Name, e)
		c, err := use.EstimateCost(ast, est)
		require.NoError(t, err)
		maxExpr = max(maxExpr, c.Max)
		total = addCapped(total, c.Max)
	}
	return maxExpr, total, dyn
}

func addCapped(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// typedEnv is the environment of the API server's type checker (validating.buildEnvSet): the base
// environment, request and namespace typed, object and oldObject of the given type (dyn when nil).
func typedEnv(t *testing.T, object *apiservercel.DeclType) *celgo.Env {
	t.Helper()
	request, namespace := plugincel.BuildRequestType(), plugincel.BuildNamespaceType()
	decls := []*apiservercel.DeclType{request, namespace}
	objType := celgo.DynType
	if object != nil {
		decls = append(decls, object)
		objType = object.CelType()
	}
	set, err := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).Extend(environment.VersionedOptions{
		IntroducedVersion: version.MajorMinor(1, 0),
		EnvOptions: []celgo.EnvOption{
			celgo.Variable("request", request.CelType()), celgo.Variable("namespaceObject", namespace.CelType()),
			celgo.Variable("object", objType), celgo.Variable("oldObject", objType),
			celgo.Variable("authorizer", library.AuthorizerType),
		},
		DeclTypes: decls,
	})
	require.NoError(t, err)
	env, err := set.Env(environment.StoredExpressions)
	require.NoError(t, err)
	return env
}

// sizeEstimator gives the size of a path under object, oldObject or request from its declared type, as
// apiextensions' estimator does for self: a list or map's MaxElements (derived from the request size limit).
// A list with no bound (request.userInfo.groups) is bounded by the request size limit, one byte per element.
type sizeEstimator struct{ object, request *apiservercel.DeclType }

func (e *sizeEstimator) EstimateSize(element checker.AstNode) *checker.SizeEstimate {
	path := element.Path()
	if len(path) == 0 {
		return nil
	}
	var node *apiservercel.DeclType
	switch path[0] {
	case "object", "oldObject":
		node = e.object
	case "request":
		node = e.request
	}
	for _, name := range path[1:] {
		if node == nil {
			return nil
		}
		switch name {
		case "@items", "@values":
			node = node.ElemType
		case "@keys":
			node = node.KeyType
		default:
			f, ok := node.Fields[name]
			if !ok {
				return nil
			}
			node = f.Type
		}
	}
	if node == nil {
		return nil
	}
	n := node.MaxElements
	if n < 0 {
		n = celconfig.MaxRequestSizeBytes
	}
	return &checker.SizeEstimate{Min: 0, Max: uint64(n)}
}

// EstimateCallCost leaves every call to library.CostEstimator and cel-go.
func (e *sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// object is a request the actual cost is measured on.
type object struct {
	gvk         schema.GroupVersionKind
	resource    string
	subresource string
	operation   admission.Operation
	obj, old    map[string]any
	user        user.Info
	large       bool
	shape       string // what makes a large request large
	bytes       int64  // its size in JSON
}

// costs is what one request costs a policy: in all, and in its most expensive expression (a variable, match
// condition, validation or message expression), which the API server holds to celconfig.PerCallLimit.
type costs struct {
	total, maxExpr    uint64
	maxName, maxShape string
}

func (c costs) max(o costs) costs {
	out := c
	out.total = max(c.total, o.total)
	if o.maxExpr > c.maxExpr {
		out.maxExpr, out.maxName, out.maxShape = o.maxExpr, o.maxName, o.maxShape
	}
	return out
}

// actualCost evaluates every match condition, validation and message expression of the policy on the object
// as the API server's validator does (a fresh composition context per condition set, variables evaluated
// lazily and charged to the budget): the total is the cost it used of celconfig.RuntimeCELCostBudget. Each
// variable and expression is then measured alone: its cost with the variables it reads, less theirs (each
// within a few units: the expression that reads them costs a little itself).
func actualCost(t *testing.T, p *admissionregistrationv1.ValidatingAdmissionPolicy, o object) costs {
	t.Helper()
	c, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	require.NoError(t, err)
	opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
	reads := map[string][]string{}
	for _, v := range p.Spec.Variables {
		c.CompileAndStoreVariable(variable{v}, opts, environment.StoredExpressions)
		reads[v.Name] = readsOf(reads, v.Expression)
	}
	var conditions, validations, messages []plugincel.ExpressionAccessor
	for _, m := range p.Spec.MatchConditions {
		conditions = append(conditions, expression(m.Expression))
	}
	for _, val := range p.Spec.Validations {
		validations = append(validations, expression(val.Expression))
		messages = append(messages, expression(val.MessageExpression))
	}
	attrs := admission.NewAttributesRecord(&unstructured.Unstructured{Object: o.obj}, oldOf(o), o.gvk, "mpc-system",
		fmt.Sprint(o.obj["metadata"].(map[string]any)["name"]), o.gvk.GroupVersion().WithResource(o.resource), o.subresource,
		o.operation, nil, false, o.user)
	versioned := &admission.VersionedAttributes{Attributes: attrs, VersionedKind: o.gvk,
		VersionedObject: admission.NewLazyObject(attrs.GetObject()), VersionedOldObject: admission.NewLazyObject(attrs.GetOldObject())}
	req := plugincel.CreateAdmissionRequest(attrs, metav1.GroupVersionResource(attrs.GetResource()), metav1.GroupVersionKind(o.gvk))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mpc-system"}}
	what := fmt.Sprintf("%s on %s %q", p.Name, o.gvk.Kind, o.shape)
	eval := func(exprs []plugincel.ExpressionAccessor) uint64 {
		if len(exprs) == 0 {
			return 0
		}
		cond := c.CompileCondition(exprs, plugincel.OptionalVariableDeclarations{HasAuthorizer: false}, environment.StoredExpressions)
		results, remaining, err := cond.ForInput(t.Context(), versioned, req, plugincel.OptionalVariableBindings{}, ns, celconfig.RuntimeCELCostBudget)
		require.NoError(t, err, what)
		for i, r := range results {
			// An expression or variable past PerCallLimit is an error here, as in the API server.
			require.NoError(t, r.Error, "%s: %s", what, exprs[i].GetExpression())
		}
		return uint64(celconfig.RuntimeCELCostBudget - remaining)
	}
	out := costs{maxShape: o.shape}
	for _, exprs := range [][]plugincel.ExpressionAccessor{conditions, validations, messages} {
		out.total += eval(exprs)
	}
	if out.total <= celconfig.PerCallLimit {
		// No expression costs more than all of them: measuring each alone would say nothing more.
		out.maxExpr, out.maxName = out.total, "all expressions"
		return out
	}
	// touching reads the variables and costs a few units for each.
	touching := func(names []string) uint64 {
		if len(names) == 0 {
			return 0
		}
		terms := make([]string, len(names))
		for i, n := range names {
			terms[i] = "size([variables." + n + "]) == 1"
		}
		return eval([]plugincel.ExpressionAccessor{expression(strings.Join(terms, " && "))})
	}
	measure := func(name string, with, without uint64) {
		if own := with - min(with, without); own > out.maxExpr {
			out.maxExpr, out.maxName = own, name
		}
	}
	for _, v := range p.Spec.Variables {
		deps := reads[v.Name]
		measure("variables."+v.Name, touching(append(slices.Clone(deps), v.Name)), touching(deps))
	}
	for i, e := range slices.Concat(conditions, validations, messages) {
		deps := readsOf(reads, e.GetExpression())
		measure(fmt.Sprintf("expression %d", i), eval([]plugincel.ExpressionAccessor{e}), touching(deps))
	}
	return out
}

// readsOf is every variable the expression reads, directly or through the variables it reads (reads holds
// those of the variables declared before it).
func readsOf(reads map[string][]string, expr string) []string {
	var out []string
	for _, m := range variableRef.FindAllStringSubmatch(expr, -1) {
		for _, n := range append(slices.Clone(reads[m[1]]), m[1]) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// oldOf is the old object, or an untyped nil (a CREATE).
func oldOf(o object) runtime.Object {
	if o.old == nil {
		return nil
	}
	return &unstructured.Unstructured{Object: o.old}
}

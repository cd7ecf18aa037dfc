package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// The openreports.io API (https://github.com/openreports/reports-api, v1alpha1), which Kyverno and Policy
// Reporter read; it succeeds wgpolicyk8s.io's PolicyReport. Only the fields mpcguard writes are declared.
var ReportGVR = schema.GroupVersionResource{Group: "openreports.io", Version: "v1alpha1", Resource: "reports"}

// ReportName is the name of the Report the audit keeps in each audited namespace.
const ReportName = "mpcguard-audit"

// Source is the report's and each result's source: the engine that produced them.
const Source = "mpcguard"

// ManagedByLabel marks the Reports the audit owns, so that a namespace that drops out of a cluster-wide audit
// has its Report emptied rather than left with stale violations.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// MaxResults bounds the results of one Report (an object is at most ~1.5 MB in etcd); the summary counts
// them all.
const MaxResults = 1000

// Report is an openreports.io/v1alpha1 Report.
type Report struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Source            string               `json:"source,omitempty"`
	Configuration     *ReportConfiguration `json:"configuration,omitempty"`
	Summary           ReportSummary        `json:"summary"`
	Results           []ReportResult       `json:"results"`
}

// ReportConfiguration says what a Report holds.
type ReportConfiguration struct {
	Limits ReportLimits `json:"limits"`
}

// ReportLimits are a Report's limits.
type ReportLimits struct {
	MaxResults   int      `json:"maxResults,omitempty"`
	StatusFilter []string `json:"statusFilter,omitempty"`
}

// ReportSummary counts the results by outcome.
type ReportSummary struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Warn  int `json:"warn"`
	Error int `json:"error"`
	Skip  int `json:"skip"`
}

// ReportResult is one policy's outcome for one object.
type ReportResult struct {
	Source     string                   `json:"source,omitempty"`
	Policy     string                   `json:"policy"`
	Rule       string                   `json:"rule,omitempty"`
	Category   string                   `json:"category,omitempty"`
	Severity   string                   `json:"severity,omitempty"`
	Timestamp  metav1.Timestamp         `json:"timestamp"`
	Result     string                   `json:"result"`
	Scored     bool                     `json:"scored"`
	Resources  []corev1.ObjectReference `json:"resources,omitempty"`
	Message    string                   `json:"message,omitempty"`
	Properties map[string]string        `json:"properties,omitempty"`
}

// The openreports result values mpcguard writes: fail for a policy that denies, warn for one that warns.
const (
	ResultFail = "fail"
	ResultWarn = "warn"
)

// Reports builds the Reports of an audit: one per audited namespace (every namespace of an object, and the
// others given), each with a result per violation — fail for a denying policy, warn for a warning one. A clean
// namespace gets an empty Report, so a fixed violation disappears from it.
func Reports(res Result, now time.Time, namespaces []string) []*Report {
	byNS := map[string]*Report{}
	get := func(ns string) *Report {
		r, ok := byNS[ns]
		if !ok {
			r = &Report{
				TypeMeta: metav1.TypeMeta{APIVersion: ReportGVR.GroupVersion().String(), Kind: "Report"},
				ObjectMeta: metav1.ObjectMeta{Name: ReportName, Namespace: ns,
					Labels: map[string]string{ManagedByLabel: Source}},
				Source:        Source,
				Configuration: &ReportConfiguration{Limits: ReportLimits{MaxResults: MaxResults, StatusFilter: []string{ResultFail, ResultWarn}}},
				Results:       []ReportResult{},
			}
			byNS[ns] = r
		}
		return r
	}
	for _, ns := range append(slices.Clone(res.Namespaces), namespaces...) {
		get(ns)
	}
	ts := metav1.Timestamp{Seconds: now.Unix(), Nanos: int32(now.Nanosecond())}
	for i, o := range res.Objects {
		rep := get(o.Namespace)
		ref := res.Refs[i]
		add := func(r engine.Result, outcome, action string) {
			if outcome == ResultFail {
				rep.Summary.Fail++
			} else {
				rep.Summary.Warn++
			}
			if len(rep.Results) >= MaxResults {
				return
			}
			rep.Results = append(rep.Results, ReportResult{
				Source: Source, Policy: r.Policy, Rule: r.Policy, Category: "MPC party-role security",
				Timestamp: ts, Result: outcome, Scored: true, Message: r.Detail,
				Resources: []corev1.ObjectReference{{APIVersion: ref.APIVersion, Kind: ref.Kind,
					Namespace: ref.Namespace, Name: ref.Name, UID: ref.UID}},
				Properties: map[string]string{"action": action},
			})
		}
		for _, r := range o.Deny {
			add(r, ResultFail, "deny")
		}
		for _, r := range o.Warn {
			add(r, ResultWarn, "warn")
		}
	}
	out := make([]*Report, 0, len(byNS))
	for _, r := range byNS {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

// ErrNoReportsAPI means the API server does not serve openreports.io/v1alpha1 Reports: the CRD is not
// installed (the chart installs it unless told not to).
var ErrNoReportsAPI = errors.New("the API server does not serve openreports.io/v1alpha1 Reports (is the CRD installed?)")

// ReportWriter keeps the audit's Reports.
type ReportWriter struct {
	Client dynamic.Interface
}

// Write creates or replaces the audit's Report of every namespace of reports. With a cluster-wide audit
// (res.Namespaces empty) the Reports it wrote before in other namespaces are found by their label and
// emptied, so none is left stale.
func (w ReportWriter) Write(ctx context.Context, res Result, now time.Time) error {
	var extra []string
	if len(res.Namespaces) == 0 {
		list, err := w.Client.Resource(ReportGVR).Namespace(metav1.NamespaceAll).List(ctx,
			metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + Source})
		if err != nil {
			return w.wrap("listing the audit's Reports", err)
		}
		for _, r := range list.Items {
			if r.GetName() == ReportName {
				extra = append(extra, r.GetNamespace())
			}
		}
	}
	var errs []error
	for _, rep := range Reports(res, now, extra) {
		if err := w.put(ctx, rep); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w ReportWriter) put(ctx context.Context, rep *Report) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(rep)
	if err != nil {
		return fmt.Errorf("encoding Report %s/%s: %w", rep.Namespace, rep.Name, err)
	}
	obj := &unstructured.Unstructured{Object: u}
	rc := w.Client.Resource(ReportGVR).Namespace(rep.Namespace)
	cur, err := rc.Get(ctx, rep.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := rc.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return w.wrap(fmt.Sprintf("creating Report %s/%s", rep.Namespace, rep.Name), err)
		}
		return nil
	case err != nil:
		return w.wrap(fmt.Sprintf("reading Report %s/%s", rep.Namespace, rep.Name), err)
	}
	obj.SetResourceVersion(cur.GetResourceVersion())
	if _, err := rc.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return w.wrap(fmt.Sprintf("updating Report %s/%s", rep.Namespace, rep.Name), err)
	}
	return nil
}

// wrap says when the Reports API itself is missing: a NotFound for the resource, not for one Report.
func (w ReportWriter) wrap(what string, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) && apierrors.IsNotFound(err) {
		if d := status.Status().Details; d == nil || d.Name == "" {
			return fmt.Errorf("%s: %w: %w", what, ErrNoReportsAPI, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

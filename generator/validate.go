package generator

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Labels the charts set themselves, which the party selector must not use.
var reservedLabels = []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "mpc.mpcguard.io/pool"}

var (
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	envRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// The repository of an image reference: no tag, no digest.
	repositoryRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
)

// Warning is a spec problem that does not stop generation.
type Warning struct {
	Field   string
	Message string
}

func (w Warning) String() string { return w.Field + ": " + w.Message }

// Validate checks the spec and returns every error with its field path, and the warnings. Generation refuses a
// spec with errors.
func (s *Spec) Validate() (field.ErrorList, []Warning) {
	var errs field.ErrorList
	var warns []Warning
	errs = append(errs, validateChart(&s.Chart, field.NewPath("chart"))...)
	images := field.NewPath("images")
	errs = append(errs, validateImage(&s.Images.Coordinator, images.Child("coordinator"))...)
	errs = append(errs, validateImage(&s.Images.Party, images.Child("party"))...)
	errs = append(errs, validateImage(&s.Images.Webhook, images.Child("webhook"))...)
	errs = append(errs, validateImage(&s.Images.Test, images.Child("test"))...)
	errs = append(errs, validateParty(&s.Party, field.NewPath("party"))...)
	errs = append(errs, validateCoordinator(&s.Coordinator, field.NewPath("coordinator"))...)
	errs = append(errs, validateThreshold(&s.Threshold, field.NewPath("threshold"))...)
	poolErrs, poolWarns := validatePools(s.Pools, s.Threshold, field.NewPath("pools"))
	errs = append(errs, poolErrs...)
	warns = append(warns, poolWarns...)
	errs = append(errs, validatePlacement(&s.Placement, field.NewPath("placement"))...)
	hookErrs, hookWarns := validateWebhook(&s.Webhook, field.NewPath("webhook"))
	errs = append(errs, hookErrs...)
	warns = append(warns, hookWarns...)
	errs = append(errs, validateScope(s)...)
	return errs, warns
}

// validateScope is the rule the mpc-system chart's check (mpc-system.checkWebhook) applies to its values: with
// the webhook on, it checks every namespace the coordinator discovers parties in. The release namespace is
// checked always; the others must be among webhook.namespaces. The chart refuses the difference rather than
// derive one list from the other (its template says why); the spec is refused with the same words.
func validateScope(s *Spec) field.ErrorList {
	if !s.Webhook.Enabled {
		return nil
	}
	var errs field.ErrorList
	p := field.NewPath("coordinator", "discovery", "namespaces")
	for i, ns := range s.Coordinator.Discovery.Namespaces {
		if !slices.Contains(s.Webhook.Namespaces, ns) {
			errs = append(errs, field.Invalid(p.Index(i), ns,
				"names a namespace the webhook does not check; add it to webhook.namespaces, or the coordinator discovers parties there that no policy checked"))
		}
	}
	return errs
}

func validateChart(c *ChartSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "the chart needs a name"))
	} else {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
		}
		if c.Name == MpcguardChartName {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, "is the name of the admission chart"))
		}
	}
	if c.Version == "" {
		errs = append(errs, field.Required(p.Child("version"), "the chart needs a SemVer 2 version"))
	} else if _, err := semver.StrictNewVersion(c.Version); err != nil {
		errs = append(errs, field.Invalid(p.Child("version"), c.Version, "must be a SemVer 2 version: "+err.Error()))
	}
	return errs
}

func validateImage(img *ImageSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case img.Repository == "":
		errs = append(errs, field.Required(p.Child("repository"), "e.g. ghcr.io/mpcguard/mpcguard"))
	case !repositoryRE.MatchString(img.Repository):
		errs = append(errs, field.Invalid(p.Child("repository"), img.Repository, "must be an image repository without tag or digest"))
	}
	switch {
	case img.Tag == "" && img.Digest == "":
		errs = append(errs, field.Required(p.Child("tag"), "pin the image by tag or digest"))
	case img.Tag == "latest":
		errs = append(errs, field.Invalid(p.Child("tag"), img.Tag, "latest is not a pinned version; name a release tag or a digest"))
	}
	if img.Digest != "" && !digestRE.MatchString(img.Digest) {
		errs = append(errs, field.Invalid(p.Child("digest"), img.Digest, "must be sha256: followed by 64 hex digits"))
	}
	if img.PullPolicy != "" && !slices.Contains([]string{"IfNotPresent", "Always", "Never"}, img.PullPolicy) {
		errs = append(errs, field.NotSupported(p.Child("pullPolicy"), img.PullPolicy, []string{"IfNotPresent", "Always", "Never"}))
	}
	return errs
}

func validatePort(port int32, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(int(port)) {
		errs = append(errs, field.Invalid(p, port, msg))
	}
	return errs
}

func validateParty(ps *PartySpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ps.RoleLabelKey == "" {
		errs = append(errs, field.Required(p.Child("roleLabelKey"), "e.g. "+DefaultRoleLabelKey))
	} else {
		for _, msg := range validation.IsQualifiedName(ps.RoleLabelKey) {
			errs = append(errs, field.Invalid(p.Child("roleLabelKey"), ps.RoleLabelKey, msg))
		}
	}
	if len(ps.Selector) == 0 {
		errs = append(errs, field.Required(p.Child("selector"), "party pods need a selector, e.g. "+FormatSelector(DefaultPartySelector())))
	}
	for _, k := range sortedKeys(ps.Selector) {
		kp := p.Child("selector").Key(k)
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(kp, k, msg))
		}
		if v := ps.Selector[k]; v == "" {
			errs = append(errs, field.Invalid(kp, v, "must not be empty"))
		} else {
			for _, msg := range validation.IsValidLabelValue(v) {
				errs = append(errs, field.Invalid(kp, v, msg))
			}
		}
		if k == ps.RoleLabelKey || slices.Contains(reservedLabels, k) {
			errs = append(errs, field.Forbidden(kp, "the charts set this label themselves"))
		}
		if k == "app.kubernetes.io/component" && ps.Selector[k] == "admission-webhook" {
			errs = append(errs, field.Forbidden(kp, "would match the webhook's own pods"))
		}
	}
	errs = append(errs, validatePort(ps.Port, p.Child("port"))...)
	errs = append(errs, validatePort(ps.HealthPort, p.Child("healthPort"))...)
	if ps.Port != 0 && ps.Port == ps.HealthPort {
		errs = append(errs, field.Duplicate(p.Child("healthPort"), ps.HealthPort))
	}
	return errs
}

func validateCoordinator(c *CoordinatorSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Replicas < 1 {
		errs = append(errs, field.Invalid(p.Child("replicas"), c.Replicas, "must be at least 1"))
	}
	errs = append(errs, validatePort(c.Ports.HTTP, p.Child("ports", "http"))...)
	errs = append(errs, validatePort(c.Ports.GRPC, p.Child("ports", "grpc"))...)
	if c.Ports.HTTP != 0 && c.Ports.HTTP == c.Ports.GRPC {
		errs = append(errs, field.Duplicate(p.Child("ports", "grpc"), c.Ports.GRPC))
	}
	ip := p.Child("discovery", "interval")
	if d, err := time.ParseDuration(c.Discovery.Interval); err != nil {
		errs = append(errs, field.Invalid(ip, c.Discovery.Interval, "must be a duration such as 30s"))
	} else if d <= 0 {
		errs = append(errs, field.Invalid(ip, c.Discovery.Interval, "must be positive"))
	}
	errs = append(errs, validateNamespaces(c.Discovery.Namespaces, p.Child("discovery", "namespaces"), false)...)
	errs = append(errs, validateResources(&c.Resources, p.Child("resources"))...)
	return errs
}

func validateNamespaces(namespaces []string, p *field.Path, forbidKubeSystem bool) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, ns := range namespaces {
		ip := p.Index(i)
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(ip, ns, msg))
		}
		if seen[ns] {
			errs = append(errs, field.Duplicate(ip, ns))
		}
		seen[ns] = true
		if forbidKubeSystem && ns == "kube-system" {
			errs = append(errs, field.Forbidden(ip, "the webhook never checks kube-system"))
		}
	}
	return errs
}

func validateResources(r *ResourcesSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	type q struct {
		name, req, lim string
	}
	for _, x := range []q{{"cpu", r.Requests.CPU, r.Limits.CPU}, {"memory", r.Requests.Memory, r.Limits.Memory}} {
		reqP, limP := p.Child("requests", x.name), p.Child("limits", x.name)
		req, reqErr := parseQuantity(x.req, reqP)
		lim, limErr := parseQuantity(x.lim, limP)
		errs = append(errs, reqErr...)
		errs = append(errs, limErr...)
		if reqErr == nil && limErr == nil && req.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(reqP, x.req, fmt.Sprintf("must not exceed the limit %s", x.lim)))
		}
	}
	return errs
}

func parseQuantity(s string, p *field.Path) (resource.Quantity, field.ErrorList) {
	if s == "" {
		return resource.Quantity{}, field.ErrorList{field.Required(p, "every container needs requests and limits")}
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return q, field.ErrorList{field.Invalid(p, s, "must be a quantity such as 100m or 128Mi")}
	}
	if q.Sign() <= 0 {
		return q, field.ErrorList{field.Invalid(p, s, "must be positive")}
	}
	return q, nil
}

func validateThreshold(t *ThresholdSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.T < 1 {
		errs = append(errs, field.Invalid(p.Child("t"), t.T, "must be at least 1"))
	}
	if t.N < 1 {
		errs = append(errs, field.Invalid(p.Child("n"), t.N, "must be at least 1"))
	}
	if t.T > t.N && t.N >= 1 {
		errs = append(errs, field.Invalid(p.Child("t"), t.T, fmt.Sprintf("must not exceed n=%d (t-of-n: any t of the n parties can sign)", t.N)))
	}
	return errs
}

func validatePools(pools []PoolSpec, th ThresholdSpec, p *field.Path) (field.ErrorList, []Warning) {
	var errs field.ErrorList
	var warns []Warning
	if len(pools) == 0 {
		return field.ErrorList{field.Required(p, "at least the persistent pool")}, nil
	}
	seen := map[string]bool{}
	var persistent []int
	var nonPersistent int32
	for i := range pools {
		pool := &pools[i]
		ip := p.Index(i)
		if pool.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), "every pool needs a name"))
		} else {
			for _, msg := range validation.IsDNS1123Label(pool.Name) {
				errs = append(errs, field.Invalid(ip.Child("name"), pool.Name, msg))
			}
			if len(pool.Name) > 30 {
				errs = append(errs, field.TooLong(ip.Child("name"), pool.Name, 30))
			}
			if seen[pool.Name] {
				errs = append(errs, field.Duplicate(ip.Child("name"), pool.Name))
			}
			seen[pool.Name] = true
		}
		switch pool.Role {
		case RolePersistent:
			persistent = append(persistent, i)
		case RoleDelegate, RoleTemporary:
			nonPersistent += pool.Replicas
		default:
			errs = append(errs, field.NotSupported(ip.Child("role"), pool.Role, vocab.Roles))
		}
		if pool.Replicas < 1 {
			errs = append(errs, field.Invalid(ip.Child("replicas"), pool.Replicas, "must be at least 1"))
		}
		errs = append(errs, validateResources(&pool.Resources, ip.Child("resources"))...)
		errs = append(errs, validateShareStorage(pool, ip.Child("shareStorage"))...)
	}
	switch len(persistent) {
	case 0:
		errs = append(errs, field.Required(p, "exactly one pool must have role persistent: sessions default to persistent parties only"))
	case 1:
		i := persistent[0]
		if r := pools[i].Replicas; th.T >= 1 && r >= 1 && r < th.T {
			errs = append(errs, field.Invalid(p.Index(i).Child("replicas"), r,
				fmt.Sprintf("fewer persistent parties than the default threshold t=%d: the strict persistent-only default could never sign", th.T)))
		}
	default:
		for _, i := range persistent[1:] {
			errs = append(errs, field.Invalid(p.Index(i).Child("role"), RolePersistent, "only one pool may be persistent"))
		}
	}
	if th.T >= 1 && nonPersistent >= th.T {
		warns = append(warns, Warning{Field: p.String(), Message: fmt.Sprintf(
			"%d delegate and temporary parties reach the default threshold t=%d: sessions must keep non-persistent parties below t (mpcguard denies any that do not)",
			nonPersistent, th.T)})
	}
	return errs, warns
}

func validateShareStorage(pool *PoolSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	st := pool.ShareStorage
	if pool.Role != RolePersistent {
		if st != nil {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("a %s pool has no share storage: a non-persistent party with shares is a persistent party in disguise", pool.Role)))
		}
		return errs
	}
	if st == nil || (st.VolumeClaim == nil && st.DatabaseSecret == nil) {
		return field.ErrorList{field.Required(p, "a persistent pool keeps its shares in a volumeClaim or a databaseSecret")}
	}
	if st.VolumeClaim != nil && st.DatabaseSecret != nil {
		errs = append(errs, field.Forbidden(p, "set one of volumeClaim or databaseSecret, not both"))
	}
	if vc := st.VolumeClaim; vc != nil {
		vp := p.Child("volumeClaim")
		if vc.Name == "" {
			errs = append(errs, field.Required(vp.Child("name"), "names the volumeClaimTemplate"))
		}
		for _, msg := range validation.IsDNS1123Label(vc.Name) {
			if vc.Name != "" {
				errs = append(errs, field.Invalid(vp.Child("name"), vc.Name, msg))
			}
		}
		if vc.Name == "tmp" {
			errs = append(errs, field.Invalid(vp.Child("name"), vc.Name, "tmp is the scratch volume"))
		}
		_, qerrs := parseQuantity(vc.Size, vp.Child("size"))
		errs = append(errs, qerrs...)
		if !path.IsAbs(vc.MountPath) || vc.MountPath == "/tmp" {
			errs = append(errs, field.Invalid(vp.Child("mountPath"), vc.MountPath, "must be an absolute path other than /tmp"))
		}
		if vc.StorageClassName != "" {
			for _, msg := range validation.IsDNS1123Subdomain(vc.StorageClassName) {
				errs = append(errs, field.Invalid(vp.Child("storageClassName"), vc.StorageClassName, msg))
			}
		}
	}
	if db := st.DatabaseSecret; db != nil {
		dp := p.Child("databaseSecret")
		if db.Name == "" {
			errs = append(errs, field.Required(dp.Child("name"), "names the Secret"))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(db.Name) {
				errs = append(errs, field.Invalid(dp.Child("name"), db.Name, msg))
			}
		}
		if db.Key == "" {
			errs = append(errs, field.Required(dp.Child("key"), "names the key in the Secret"))
		} else {
			for _, msg := range validation.IsConfigMapKey(db.Key) {
				errs = append(errs, field.Invalid(dp.Child("key"), db.Key, msg))
			}
		}
		if !envRE.MatchString(db.Env) {
			errs = append(errs, field.Invalid(dp.Child("env"), db.Env, "must be an environment variable name"))
		}
	}
	return errs
}

func validatePlacement(pl *PlacementSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !slices.Contains([]string{"required", "preferred", "none"}, pl.PersistentAntiAffinity) {
		errs = append(errs, field.NotSupported(p.Child("persistentAntiAffinity"), pl.PersistentAntiAffinity, []string{"required", "preferred", "none"}))
	}
	if !slices.Contains([]string{"preferred", "none"}, pl.DelegateAntiAffinity) {
		errs = append(errs, field.NotSupported(p.Child("delegateAntiAffinity"), pl.DelegateAntiAffinity, []string{"preferred", "none"}))
	}
	zp := p.Child("zoneSpread")
	if pl.ZoneSpread.MaxSkew < 1 {
		errs = append(errs, field.Invalid(zp.Child("maxSkew"), pl.ZoneSpread.MaxSkew, "must be at least 1"))
	}
	if !slices.Contains([]string{"ScheduleAnyway", "DoNotSchedule"}, pl.ZoneSpread.WhenUnsatisfiable) {
		errs = append(errs, field.NotSupported(zp.Child("whenUnsatisfiable"), pl.ZoneSpread.WhenUnsatisfiable, []string{"ScheduleAnyway", "DoNotSchedule"}))
	}
	return errs
}

func validateWebhook(w *WebhookSpec, p *field.Path) (field.ErrorList, []Warning) {
	var errs field.ErrorList
	var warns []Warning
	if w.Replicas < 1 {
		errs = append(errs, field.Invalid(p.Child("replicas"), w.Replicas, "must be at least 1"))
	}
	if !slices.Contains([]string{"Fail", "Ignore"}, w.FailurePolicy) {
		errs = append(errs, field.NotSupported(p.Child("failurePolicy"), w.FailurePolicy, []string{"Fail", "Ignore"}))
	}
	if w.Enabled && w.URL == "" && w.FailurePolicy == "Fail" && w.Replicas == 1 {
		warns = append(warns, Warning{Field: p.Child("replicas").String(),
			Message: "a single replica with failurePolicy Fail blocks party pods whenever it is down; run two or more"})
	}
	if w.TimeoutSeconds < 1 || w.TimeoutSeconds > 30 {
		errs = append(errs, field.Invalid(p.Child("timeoutSeconds"), w.TimeoutSeconds, "must be between 1 and 30"))
	}
	errs = append(errs, validateNamespaces(w.Namespaces, p.Child("namespaces"), true)...)
	if !slices.Contains([]string{CertificatesCertManager, CertificatesSelfSigned}, w.Certificates) {
		errs = append(errs, field.NotSupported(p.Child("certificates"), w.Certificates, []string{CertificatesCertManager, CertificatesSelfSigned}))
	}
	if w.URL != "" {
		u, err := url.Parse(w.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, field.Invalid(p.Child("url"), w.URL, "must be an https URL, e.g. https://127.0.0.1:9443/validate"))
		}
	}
	for _, id := range sortedKeys(w.Enforcement) {
		kp := p.Child("enforcement").Key(id)
		if !vocab.Known(id) {
			errs = append(errs, field.NotSupported(kp, id, vocab.PolicyIDs()))
		}
		if a := vocab.Action(w.Enforcement[id]); !slices.Contains(vocab.Actions, a) {
			errs = append(errs, field.NotSupported(kp, a, vocab.Actions))
		}
	}
	errs = append(errs, validateResources(&w.Resources, p.Child("resources"))...)
	return errs, warns
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	admissionclient "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/mpcguard/mpcguard/internal/certs"
)

// The rotator's defaults (--cert-mode=rotate), after Gatekeeper's cert-controller (a 10-year CA) and
// cert-manager (renewal at 2/3 of a certificate's life).
const (
	// DefaultCAValidity is the CA's life. A CA rotation is the step that changes what the API server trusts,
	// so it is kept rare; the CA's key never leaves the Secret.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// DefaultCertValidity is the serving certificate's life. Its key lives in the same Secret as the CA's, so a
	// shorter life would buy little; a yearly renewal keeps the reload path exercised.
	DefaultCertValidity = 365 * 24 * time.Hour
	// DefaultCertOverlap is how long a new CA is trusted before it serves, and an old one after: API servers
	// load a webhook configuration change within seconds, replicas a Secret change as soon as their watch
	// sees it, or within DefaultCertCheckInterval.
	DefaultCertOverlap = 10 * time.Minute
	// DefaultCertCheckInterval is how often the Secret and the webhook configuration are read besides the
	// watches on them.
	DefaultCertCheckInterval = time.Minute
)

// CertRotation makes the webhook keep its own CA and serving certificate in a Secret, and the caBundle of its
// own ValidatingWebhookConfiguration current (--cert-mode=rotate). Replicas share the Secret: updates are
// optimistic (resourceVersion), so replicas starting together converge on one CA.
type CertRotation struct {
	// Namespace and SecretName name the Secret; it must exist (the chart makes it empty), so the webhook
	// needs no right to create Secrets, which RBAC cannot limit by name.
	Namespace, SecretName string
	// WebhookConfiguration is the ValidatingWebhookConfiguration whose webhooks' caBundle is kept current.
	WebhookConfiguration string
	// Hosts are the serving certificate's DNS names and IP addresses (<service>.<namespace>.svc).
	Hosts []string
	// CAValidity, CertValidity, Overlap and Interval: zero values are the defaults above. Each certificate is
	// renewed when 2/3 of its life is used.
	CAValidity, CertValidity, Overlap, Interval time.Duration
}

func (o *CertRotation) validate() error {
	var errs []error
	for name, v := range map[string]string{"namespace": o.Namespace, "secret name": o.SecretName,
		"webhook configuration": o.WebhookConfiguration} {
		if v == "" {
			errs = append(errs, fmt.Errorf("the %s is empty", name))
		}
	}
	if len(o.Hosts) == 0 {
		errs = append(errs, errors.New("no host names for the serving certificate"))
	}
	if slices.Contains(o.Hosts, "") {
		errs = append(errs, errors.New("an empty host name for the serving certificate"))
	}
	for v, d := range map[*time.Duration]time.Duration{&o.CAValidity: DefaultCAValidity,
		&o.CertValidity: DefaultCertValidity, &o.Overlap: DefaultCertOverlap, &o.Interval: DefaultCertCheckInterval} {
		if *v == 0 {
			*v = d
		}
		if *v < 0 {
			errs = append(errs, fmt.Errorf("negative duration %s", *v))
		}
	}
	if o.Overlap < o.Interval {
		errs = append(errs, fmt.Errorf("the overlap (%s) is shorter than the check interval (%s): a replica could "+
			"serve a certificate the API server no longer trusts", o.Overlap, o.Interval))
	}
	// A rotation takes twice the overlap; it must end well before the serving certificate's last third does.
	if 3*2*o.Overlap > o.CertValidity {
		errs = append(errs, fmt.Errorf("the serving certificate's validity (%s) is under 6 overlaps (%s)",
			o.CertValidity, o.Overlap))
	}
	if o.CAValidity < o.CertValidity {
		errs = append(errs, fmt.Errorf("the CA's validity (%s) is shorter than the serving certificate's (%s)",
			o.CAValidity, o.CertValidity))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("certificate rotation: %w", err)
	}
	return nil
}

// Rotator keeps the webhook's CA and serving certificate (see CertRotation).
type Rotator struct {
	opts    CertRotation
	policy  rotationPolicy
	secrets coreclient.SecretInterface
	vwcs    admissionclient.ValidatingWebhookConfigurationInterface
	log     logr.Logger
	now     func() time.Time

	serving atomic.Pointer[tls.Certificate]
	// notReady is why the rotator is not ready ("" when it is): no serving certificate yet, or a webhook of
	// the configuration that does not trust it.
	mu       sync.Mutex
	notReady string
	// carried is the signing CA this replica last saw every webhook trust (its raw certificate), and since.
	carried      []byte
	carriedSince time.Time
	trigger      chan struct{}
}

// NewRotator checks the options and makes the clients; nothing is read until Run.
func NewRotator(cfg *rest.Config, opts CertRotation, log logr.Logger) (*Rotator, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	core, err := coreclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("certificate rotation: a client for Secrets: %w", err)
	}
	adm, err := admissionclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("certificate rotation: a client for webhook configurations: %w", err)
	}
	return &Rotator{
		opts: opts,
		policy: rotationPolicy{hosts: opts.Hosts, caValidity: opts.CAValidity, certValidity: opts.CertValidity,
			overlap: opts.Overlap},
		secrets:  core.Secrets(opts.Namespace),
		vwcs:     adm.ValidatingWebhookConfigurations(),
		log:      log,
		now:      time.Now,
		notReady: "no serving certificate loaded yet",
		trigger:  make(chan struct{}, 1),
	}, nil
}

// GetCertificate serves the current certificate (tls.Config.GetCertificate).
func (r *Rotator) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := r.serving.Load()
	if c == nil {
		return nil, errors.New("no serving certificate yet: the rotator has not read its Secret")
	}
	return c, nil
}

// Ready is nil once a serving certificate is loaded and every webhook of the configuration trusts it.
func (r *Rotator) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notReady != "" {
		return errors.New(r.notReady)
	}
	return nil
}

func (r *Rotator) setNotReady(why string) {
	r.mu.Lock()
	r.notReady = why
	r.mu.Unlock()
}

// Run reconciles until ctx ends: at once, on every change the watches see, and every Interval. Failures are
// logged and retried with backoff; the rotator stays unready meanwhile.
func (r *Rotator) Run(ctx context.Context) {
	go r.watch(ctx, "Secret", func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return r.secrets.Watch(ctx, o)
	}, r.opts.SecretName)
	go r.watch(ctx, "ValidatingWebhookConfiguration", func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return r.vwcs.Watch(ctx, o)
	}, r.opts.WebhookConfiguration)
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	backoff, conflicts := time.Duration(0), 0
	for {
		err := r.reconcile(ctx)
		switch {
		case err == nil:
			backoff, conflicts = 0, 0
		case apierrors.IsConflict(err) && conflicts < 10:
			// Another replica (or an upgrade) wrote first: read again at once.
			conflicts++
			r.log.V(1).Info("conflict; reading again", "reason", err.Error())
			continue
		default:
			conflicts = 0
			backoff = min(max(2*backoff, 200*time.Millisecond), r.opts.Interval)
			r.log.Error(err, "certificate rotation failed; retrying", "in", backoff)
		}
		wait := tick.C
		var retry <-chan time.Time
		if backoff > 0 {
			retry = time.After(backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-retry:
		case <-r.trigger:
		}
	}
}

// watch follows one named object (a field selector on metadata.name, which RBAC's resourceNames allow for
// list and watch) and triggers a reconcile on each event; it watches again when the watch ends.
func (r *Rotator) watch(ctx context.Context, kind string, start func(context.Context, metav1.ListOptions) (watch.Interface, error), name string) {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	for ctx.Err() == nil {
		w, err := start(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			r.log.V(1).Info("watch failed; the periodic check continues", "kind", kind, "name", name, "reason", err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.opts.Interval):
			}
			continue
		}
		for range w.ResultChan() {
			select {
			case r.trigger <- struct{}{}:
			default:
			}
		}
		w.Stop()
	}
}

// reconcile reads the webhook configuration, then the Secret; writes the Secret if the plan changes it; serves
// its certificate; and writes the webhook configuration if a caBundle differs from the Secret's bundle. The
// configuration is written with the resourceVersion read before the Secret, so a replica whose view of the
// Secret is older than the configuration's last writer's cannot overwrite it: its update conflicts.
func (r *Rotator) reconcile(ctx context.Context) error {
	vwc, err := r.vwcs.Get(ctx, r.opts.WebhookConfiguration, metav1.GetOptions{})
	if err != nil {
		r.setNotReady("reading the webhook configuration: " + err.Error())
		return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", r.opts.WebhookConfiguration, err)
	}
	secret, err := r.secrets.Get(ctx, r.opts.SecretName, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			err = fmt.Errorf("%w (the chart makes it empty; without the chart, create it: "+
				"kubectl -n %s create secret generic %s)", err, r.opts.Namespace, r.opts.SecretName)
		}
		return fmt.Errorf("reading Secret %s/%s: %w", r.opts.Namespace, r.opts.SecretName, err)
	}
	now := r.now()
	st, problems := readCertState(secret.Data, now)
	if len(problems) > 0 {
		r.log.Info("parts of the certificate Secret are unusable and will be made anew", "secret",
			r.opts.SecretName, "problems", problems)
	}
	var since time.Time
	if st.ca != nil {
		since = r.observeCarried(vwc, st.ca.Cert.Raw, now)
	}
	next, changes, err := r.policy.plan(st, now, since)
	if err != nil {
		return fmt.Errorf("certificate rotation: %w", err)
	}
	if len(changes) > 0 {
		data, err := next.data()
		if err != nil {
			return err
		}
		secret.Data = data
		if _, err := r.secrets.Update(ctx, secret, metav1.UpdateOptions{FieldManager: "mpcguard"}); err != nil {
			return fmt.Errorf("writing Secret %s/%s: %w", r.opts.Namespace, r.opts.SecretName, err)
		}
		r.log.Info("certificate Secret updated", "secret", r.opts.SecretName, "changes", changes,
			"caExpires", next.ca.Cert.NotAfter.UTC(), "certExpires", next.leafCert.NotAfter.UTC(),
			"trustedCAs", len(next.bundle))
	}
	if err := r.serve(next); err != nil {
		return err
	}
	bundle := certs.EncodeCertificates(next.bundle...)
	stale := 0
	for i := range vwc.Webhooks {
		if !bytes.Equal(vwc.Webhooks[i].ClientConfig.CABundle, bundle) {
			vwc.Webhooks[i].ClientConfig.CABundle = bundle
			stale++
		}
	}
	if stale > 0 {
		if vwc, err = r.vwcs.Update(ctx, vwc, metav1.UpdateOptions{FieldManager: "mpcguard"}); err != nil {
			r.setNotReady("writing the webhook configuration: " + err.Error())
			return fmt.Errorf("writing the caBundle of ValidatingWebhookConfiguration %s: %w", r.opts.WebhookConfiguration, err)
		}
		r.log.Info("caBundle updated", "webhookConfiguration", r.opts.WebhookConfiguration, "webhooks", stale,
			"trustedCAs", len(next.bundle))
		r.observeCarried(vwc, next.ca.Cert.Raw, now)
	}
	r.setNotReady(r.trustedBy(vwc, next))
	return nil
}

// serve loads the state's serving certificate when it is not the one served.
func (r *Rotator) serve(st certState) error {
	if cur := r.serving.Load(); cur != nil && bytes.Equal(cur.Certificate[0], st.leafCert.Raw) {
		return nil
	}
	c, err := tls.X509KeyPair(st.leaf.CertPEM, st.leaf.KeyPEM)
	if err != nil {
		return fmt.Errorf("loading the serving certificate: %w", err)
	}
	c.Leaf = st.leafCert
	r.serving.Store(&c)
	r.log.Info("serving a new certificate", "serial", st.leafCert.SerialNumber.String(),
		"expires", st.leafCert.NotAfter.UTC(), "hosts", hostsOf(st.leafCert))
	return nil
}

// trustedBy says why the webhook configuration does not trust the served certificate ("" when every webhook
// does).
func (r *Rotator) trustedBy(vwc *admissionregistrationv1.ValidatingWebhookConfiguration, st certState) string {
	if len(vwc.Webhooks) == 0 {
		return "ValidatingWebhookConfiguration " + vwc.Name + " has no webhooks"
	}
	for _, w := range vwc.Webhooks {
		if err := bundleTrusts(w.ClientConfig.CABundle, st.leafCert); err != nil {
			return fmt.Sprintf("webhook %s does not trust the serving certificate: %v", w.Name, err)
		}
	}
	return ""
}

// observeCarried returns when this replica first saw every webhook of the configuration trust the CA (zero:
// they do not now), remembering it.
func (r *Rotator) observeCarried(vwc *admissionregistrationv1.ValidatingWebhookConfiguration, ca []byte, now time.Time) time.Time {
	all := len(vwc.Webhooks) > 0
	for _, w := range vwc.Webhooks {
		cas, err := certs.ParseCertificates(w.ClientConfig.CABundle)
		all = all && err == nil && containsRaw(cas, ca)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !all:
		r.carried, r.carriedSince = nil, time.Time{}
	case !bytes.Equal(r.carried, ca):
		r.carried, r.carriedSince = ca, now
	}
	return r.carriedSince
}

func containsRaw(list []*x509.Certificate, raw []byte) bool {
	return slices.ContainsFunc(list, func(c *x509.Certificate) bool { return bytes.Equal(c.Raw, raw) })
}

package webhook

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mpcguard/mpcguard/internal/certs"
)

// The keys of the rotator's Secret. tls.crt and tls.key are where a mounted Secret is read by convention; the
// rotator serves them from memory.
const (
	secretCACert = "ca.crt"        // the signing CA's certificate
	secretCAKey  = "ca.key"        // its key
	secretBundle = "ca-bundle.crt" // the CAs the API server must trust: the webhooks' caBundle
	secretCert   = "tls.crt"       // the serving certificate
	secretKey    = "tls.key"       // its key
)

// certState is what the rotator keeps in its Secret, read without trusting it: a field that does not parse,
// has expired or does not fit the rest is nil, and plan makes it anew.
type certState struct {
	ca *certs.CA
	// bundle holds the trusted CAs: the signing CA and, during an overlap, the one before it.
	bundle []*x509.Certificate
	leaf   *certs.Pair
	// leafCert is leaf's certificate, parsed.
	leafCert *x509.Certificate
}

// readCertState parses a Secret's data; problems says what was dropped, for the log.
func readCertState(data map[string][]byte, now time.Time) (st certState, problems []string) {
	if len(data[secretCACert])+len(data[secretCAKey]) > 0 {
		ca, err := certs.ParseCA(data[secretCACert], data[secretCAKey])
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s/%s: %v", secretCACert, secretCAKey, err))
		case !now.Before(ca.Cert.NotAfter):
			problems = append(problems, fmt.Sprintf("%s expired at %s", secretCACert, ca.Cert.NotAfter.UTC()))
		default:
			st.ca = ca
		}
	}
	bundle, err := certs.ParseCertificates(data[secretBundle])
	if err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v", secretBundle, err))
	}
	for _, c := range bundle {
		if c.IsCA && now.Before(c.NotAfter) && !containsCert(st.bundle, c) {
			st.bundle = append(st.bundle, c)
		}
	}
	if len(data[secretCert])+len(data[secretKey]) > 0 {
		leaf, err := parseLeaf(data[secretCert], data[secretKey])
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s/%s: %v", secretCert, secretKey, err))
		case !now.Before(leaf.NotAfter):
			problems = append(problems, fmt.Sprintf("%s expired at %s", secretCert, leaf.NotAfter.UTC()))
		default:
			st.leaf = &certs.Pair{CertPEM: data[secretCert], KeyPEM: data[secretKey]}
			st.leafCert = leaf
		}
	}
	return st, problems
}

func parseLeaf(certPEM, keyPEM []byte) (*x509.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(pair.Certificate[0])
}

// data is the Secret's data for the state.
func (st certState) data() (map[string][]byte, error) {
	key, err := st.ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		secretCACert: st.ca.CertPEM,
		secretCAKey:  key,
		secretBundle: certs.EncodeCertificates(st.bundle...),
		secretCert:   st.leaf.CertPEM,
		secretKey:    st.leaf.KeyPEM,
	}, nil
}

// rotationPolicy is how long certificates live and how rotation overlaps.
type rotationPolicy struct {
	hosts                    []string
	caValidity, certValidity time.Duration
	// overlap is how long a new CA is trusted before a serving certificate from it is served, and how long the
	// previous CA stays trusted after that: long enough for every API server to load the new caBundle and for
	// every replica to load the new serving certificate.
	overlap time.Duration
}

// renewalDue reports whether a certificate has used two thirds of its life (cert-manager's default
// renewBefore): the remaining third is the margin for retries, a replica that was down, an API server that was
// unreachable.
func renewalDue(c *x509.Certificate, now time.Time) bool {
	issued := certs.IssuedAt(c)
	return !now.Before(issued.Add(c.NotAfter.Sub(issued) * 2 / 3))
}

// plan returns the state the Secret should hold next and what changed (empty: nothing). caCarriedSince is when
// this replica first saw every webhook of the configuration trust the current signing CA (zero: not yet).
//
// A CA rotation is three steps, each taken only when the one before has settled, so that no handshake fails:
//  1. a new CA is made and added to the bundle; the serving certificate stays the old CA's;
//  2. once the webhook configuration has carried the new CA for the overlap, a serving certificate from the
//     new CA is issued (the API server trusts both);
//  3. once that certificate is the overlap old (every replica serves it), the old CA leaves the bundle.
func (p rotationPolicy) plan(st certState, now, caCarriedSince time.Time) (certState, []string, error) {
	var changes []string
	next := st
	next.bundle = slices.Clone(st.bundle)
	if st.ca == nil || renewalDue(st.ca.Cert, now) {
		ca, err := certs.NewCAAt("mpcguard-webhook-ca", now, p.caValidity)
		if err != nil {
			return st, nil, err
		}
		next.ca = ca
		next.bundle = append([]*x509.Certificate{ca.Cert}, next.bundle...)
		caCarriedSince = time.Time{}
		if st.ca == nil {
			changes = append(changes, "made a CA")
		} else {
			changes = append(changes, "made the next CA (the current one has used 2/3 of its life)")
		}
	}
	if !containsCert(next.bundle, next.ca.Cert) {
		next.bundle = append([]*x509.Certificate{next.ca.Cert}, next.bundle...)
		changes = append(changes, "added the signing CA to the bundle")
	}
	fromSigner := next.leafCert != nil && next.leafCert.CheckSignatureFrom(next.ca.Cert) == nil
	issue := ""
	switch {
	case next.leafCert == nil:
		issue = "made a serving certificate"
	case !verifies(next.leafCert, next.bundle):
		issue = "replaced a serving certificate no trusted CA signed"
	case !sameHosts(hostsOf(next.leafCert), p.hosts):
		issue = fmt.Sprintf("replaced the serving certificate for %v with one for %v", hostsOf(next.leafCert), p.hosts)
	case !fromSigner:
		if !caCarriedSince.IsZero() && now.Sub(caCarriedSince) >= p.overlap {
			issue = "moved the serving certificate to the new CA, trusted for the overlap"
		}
	case renewalDue(next.leafCert, now):
		issue = "renewed the serving certificate (2/3 of its life used)"
	}
	if issue != "" {
		pair, err := next.ca.IssueAt(now, p.certValidity, p.hosts...)
		if err != nil {
			return st, nil, err
		}
		leaf, err := parseLeaf(pair.CertPEM, pair.KeyPEM)
		if err != nil {
			return st, nil, fmt.Errorf("reading the serving certificate just issued: %w", err)
		}
		next.leaf, next.leafCert = &pair, leaf
		fromSigner = true
		changes = append(changes, issue)
	}
	// The previous CAs leave the bundle once the serving certificate from the signing CA has been served for
	// the overlap.
	if fromSigner && now.Sub(certs.IssuedAt(next.leafCert)) >= p.overlap && len(next.bundle) > 1 {
		next.bundle = []*x509.Certificate{next.ca.Cert}
		changes = append(changes, "dropped the previous CA from the bundle")
	}
	return next, changes, nil
}

// verifies reports whether one of the CAs signed the certificate.
func verifies(c *x509.Certificate, cas []*x509.Certificate) bool {
	return slices.ContainsFunc(cas, func(ca *x509.Certificate) bool { return c.CheckSignatureFrom(ca) == nil })
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	return slices.ContainsFunc(list, func(x *x509.Certificate) bool { return bytes.Equal(x.Raw, c.Raw) })
}

// hostsOf lists a certificate's DNS names, then its IP addresses, as certs.Issue was given them.
func hostsOf(c *x509.Certificate) []string {
	out := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

func sameHosts(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// bundleTrusts reports whether a caBundle trusts the certificate, and an error saying why not.
func bundleTrusts(bundle []byte, c *x509.Certificate) error {
	cas, err := certs.ParseCertificates(bundle)
	if err != nil {
		return err
	}
	if len(cas) == 0 {
		return errors.New("the caBundle is empty")
	}
	if !verifies(c, cas) {
		return fmt.Errorf("no CA of the caBundle (%d) signed the serving certificate", len(cas))
	}
	return nil
}

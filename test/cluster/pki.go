package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/mpcguard/mpcguard/internal/certs"
)

// pki is what the control plane needs to trust itself: one CA, one serving certificate for 127.0.0.1 (and the
// real node's address and the kubernetes Service's ClusterIP when there is a real node) used by every server, the
// service-account signing key and the bearer tokens: the administrator's (group system:masters) and, for a real
// node, the kubelet's (system:node:<name>, group system:nodes) and kube-proxy's (system:kube-proxy).
type pki struct {
	caFile, certFile, keyFile, saKeyFile, tokenFile string
	caPEM                                           []byte
	token                                           string
	// tokens are the bearer tokens by user name, the administrator's included.
	tokens map[string]string
	ca     *certs.CA
	dir    string
}

// pkiValidity is how long the local cluster's certificates are valid.
const pkiValidity = 7 * 24 * time.Hour

// writePKI writes the control plane's certificates and tokens under dir/tls. hosts are more names and
// addresses for the serving certificate; users are more token users, each "name" or "name,group".
func writePKI(dir string, hosts []string, users ...string) (pki, error) {
	ca, err := certs.NewCA("mpcguard-local-cluster-ca", pkiValidity)
	if err != nil {
		return pki{}, err
	}
	pair, err := ca.Issue(pkiValidity, append([]string{"127.0.0.1", "localhost",
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}, hosts...)...)
	if err != nil {
		return pki{}, err
	}
	tlsDir := filepath.Join(dir, "tls")
	if err := pair.WriteDir(tlsDir); err != nil {
		return pki{}, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pki{}, fmt.Errorf("generating the service-account key: %w", err)
	}
	saDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return pki{}, fmt.Errorf("encoding the service-account key: %w", err)
	}
	tokens := map[string]string{}
	tokenLines := ""
	for _, user := range append([]string{"admin,system:masters"}, users...) {
		name, group, _ := strings.Cut(user, ",")
		secret := make([]byte, 24)
		if _, err := rand.Read(secret); err != nil {
			return pki{}, fmt.Errorf("making the token of %s: %w", name, err)
		}
		tokens[name] = hex.EncodeToString(secret)
		tokenLines += fmt.Sprintf("%s,%s,%s,%q\n", tokens[name], name, name, group)
	}
	p := pki{
		caFile:    filepath.Join(tlsDir, "ca.crt"),
		certFile:  filepath.Join(tlsDir, "tls.crt"),
		keyFile:   filepath.Join(tlsDir, "tls.key"),
		saKeyFile: filepath.Join(tlsDir, "sa.key"),
		tokenFile: filepath.Join(tlsDir, "tokens.csv"),
		caPEM:     ca.CertPEM,
		token:     tokens["admin"],
		tokens:    tokens,
		ca:        ca,
		dir:       tlsDir,
	}
	files := map[string][]byte{
		p.caFile:    ca.CertPEM,
		p.saKeyFile: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER}),
		p.tokenFile: []byte(tokenLines),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return pki{}, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return p, nil
}

// kubeconfig is the administrator's kubeconfig for the API server at host.
func (p pki) kubeconfig(host string) *clientcmdapi.Config { return p.kubeconfigOf(host, "admin") }

// kubeconfigOf is user's kubeconfig (a token user of writePKI) for the API server at host.
func (p pki) kubeconfigOf(host, user string) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["mpcguard-local"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: p.tokens[user]}
	cfg.Contexts["mpcguard-local"] = &clientcmdapi.Context{Cluster: "mpcguard-local", AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = "mpcguard-local"
	return cfg
}

func writeKubeconfig(path string, cfg *clientcmdapi.Config) (*rest.Config, error) {
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading back %s: %w", path, err)
	}
	return rc, nil
}

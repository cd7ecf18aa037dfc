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
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/mpcguard/mpcguard/internal/certs"
)

// pki is what the control plane needs to trust itself: one CA, one serving certificate for 127.0.0.1 used by
// every server, the service-account signing key and the administrator's token (group system:masters).
type pki struct {
	caFile, certFile, keyFile, saKeyFile, tokenFile string
	caPEM                                           []byte
	token                                           string
}

func writePKI(dir string) (pki, error) {
	ca, err := certs.NewCA("mpcguard-local-cluster-ca", 7*24*time.Hour)
	if err != nil {
		return pki{}, err
	}
	pair, err := ca.Issue(7*24*time.Hour, "127.0.0.1", "localhost",
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
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
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return pki{}, fmt.Errorf("making the admin token: %w", err)
	}
	p := pki{
		caFile:    filepath.Join(tlsDir, "ca.crt"),
		certFile:  filepath.Join(tlsDir, "tls.crt"),
		keyFile:   filepath.Join(tlsDir, "tls.key"),
		saKeyFile: filepath.Join(tlsDir, "sa.key"),
		tokenFile: filepath.Join(tlsDir, "tokens.csv"),
		caPEM:     ca.CertPEM,
		token:     hex.EncodeToString(secret),
	}
	files := map[string][]byte{
		p.caFile:    ca.CertPEM,
		p.saKeyFile: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER}),
		p.tokenFile: []byte(p.token + `,admin,admin,"system:masters"` + "\n"),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return pki{}, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return p, nil
}

// kubeconfig is the administrator's kubeconfig for the API server at host.
func (p pki) kubeconfig(host string) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["mpcguard-local"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: p.token}
	cfg.Contexts["mpcguard-local"] = &clientcmdapi.Context{Cluster: "mpcguard-local", AuthInfo: "admin", Namespace: "default"}
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

package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// TestRelease is issue 11's "done when", on this machine: the image is reproducible and has the promised
// shape, its amd64 entrypoint serves the webhook, `make publish` to a loopback registry pushes an index, an
// SBOM and charts pinned to the pushed digest and signed with a key made here, mpc-system installs from what
// was pushed, and cosign tells a signed artifact from a tampered one.
func TestRelease(t *testing.T) {
	require.NoError(t, cluster.CheckTools(cluster.BinDir(), "registry", "cosign", "helm", "cyclonedx-gomod"),
		"run make tools")
	checkout, err := cluster.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// A fresh clone of the checkout's commit: "two builds of one commit" must not see edits in progress in
	// the working tree, and the version of a clean clone is the tag (or the commit), not -dirty.
	root := filepath.Join(dir, "clone")
	head := strings.TrimSpace(run(ctx, t, checkout, "git", "rev-parse", "HEAD"))
	// Not --shared: cyclonedx-gomod reads the repository with go-git, which does not follow alternates.
	run(ctx, t, checkout, "git", "clone", "--quiet", "--no-checkout", checkout, root)
	run(ctx, t, root, "git", "checkout", "--quiet", "--detach", head)

	// Two builds of one checkout, into two directories: one index digest.
	img1, img2 := filepath.Join(dir, "image1"), filepath.Join(dir, "image2")
	start := time.Now()
	makeT(ctx, t, root, "image", "IMAGE_DIR="+img1)
	t.Logf("make image: %s", time.Since(start).Round(time.Second))
	makeT(ctx, t, root, "image", "IMAGE_DIR="+img2)
	d1, d2 := readTrim(t, filepath.Join(img1, "digest")), readTrim(t, filepath.Join(img2, "digest"))
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, d1)
	assert.Equal(t, d1, d2, "two builds of one commit must give the same index digest")

	version := makeVar(ctx, t, root, "VERSION")
	assert.NotContains(t, version, "dirty", "a fresh clone is clean")
	commit := makeVar(ctx, t, root, "COMMIT")
	chartVersion := makeVar(ctx, t, root, "CHART_VERSION")
	created := makeVar(ctx, t, root, "SOURCE_DATE")

	var amd64Bin string
	t.Run("image shape", func(t *testing.T) {
		lay := ociLayout(filepath.Join(img1, "oci"))
		var top struct {
			Manifests []struct {
				Digest      string            `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		lay.json(t, "index.json", &top)
		require.Len(t, top.Manifests, 1)
		assert.Equal(t, d1, top.Manifests[0].Digest)
		assert.Equal(t, chartVersion, top.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
		var idx struct {
			MediaType string `json:"mediaType"`
			Manifests []struct {
				Digest   string `json:"digest"`
				Platform struct {
					OS           string `json:"os"`
					Architecture string `json:"architecture"`
				} `json:"platform"`
			} `json:"manifests"`
		}
		lay.blobJSON(t, d1, &idx)
		assert.Equal(t, "application/vnd.oci.image.index.v1+json", idx.MediaType)
		var plats []string
		for _, m := range idx.Manifests {
			plat := m.Platform.OS + "/" + m.Platform.Architecture
			plats = append(plats, plat)
			var man struct {
				Config struct{ Digest string }   `json:"config"`
				Layers []struct{ Digest string } `json:"layers"`
			}
			lay.blobJSON(t, m.Digest, &man)
			var cfg struct {
				Architecture, OS string
				Created          time.Time
				Config           struct {
					User       string
					Entrypoint []string
					Cmd        []string
					Labels     map[string]string
				} `json:"config"`
			}
			lay.blobJSON(t, man.Config.Digest, &cfg)
			assert.Equal(t, m.Platform.Architecture, cfg.Architecture)
			assert.Equal(t, "65532:65532", cfg.Config.User, plat)
			assert.Equal(t, []string{"/mpcguard"}, cfg.Config.Entrypoint, plat)
			assert.Empty(t, cfg.Config.Cmd, plat)
			wantCreated, err := time.Parse(time.RFC3339, created)
			require.NoError(t, err)
			assert.True(t, wantCreated.Equal(cfg.Created), "%s: created %s is the commit time %s", plat, cfg.Created, created)
			for k, v := range map[string]string{
				"org.opencontainers.image.source":   "https://github.com/mpcguard/mpcguard",
				"org.opencontainers.image.revision": commit,
				"org.opencontainers.image.version":  version,
				"org.opencontainers.image.licenses": "Apache-2.0",
				"org.opencontainers.image.created":  wantCreated.UTC().Format(time.RFC3339),
			} {
				assert.Equal(t, v, cfg.Config.Labels[k], "%s: label %s", plat, k)
			}
			require.Len(t, man.Layers, 1, plat)
			files := layerFiles(t, lay.blob(t, man.Layers[0].Digest))
			require.Equal(t, []string{"mpcguard", "tmp/"}, names(files), "%s: the binary and /tmp, no shell", plat)
			assert.Equal(t, int64(0o755), files[0].hdr.Mode, plat)
			assert.Equal(t, int64(0o1777), files[1].hdr.Mode, "%s: /tmp is world-writable and sticky", plat)
			for _, f := range files {
				assert.Equal(t, 0, f.hdr.Uid, plat)
				assert.True(t, wantCreated.Equal(f.hdr.ModTime), "%s: %s mtime is the commit time", plat, f.hdr.Name)
			}
			if plat == "linux/amd64" {
				amd64Bin = filepath.Join(dir, "entrypoint", "mpcguard")
				require.NoError(t, os.MkdirAll(filepath.Dir(amd64Bin), 0o755))
				require.NoError(t, os.WriteFile(amd64Bin, files[0].data, 0o755))
			}
		}
		assert.Equal(t, []string{"linux/amd64", "linux/arm64"}, plats)
		var sbom struct {
			BOMFormat  string `json:"bomFormat"`
			Components []struct {
				Name string `json:"name"`
			} `json:"components"`
		}
		data, err := os.ReadFile(filepath.Join(img1, "sbom.cdx.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &sbom))
		assert.Equal(t, "CycloneDX", sbom.BOMFormat)
		assert.Contains(t, string(data), "github.com/open-policy-agent/opa", "the SBOM lists the Go modules")
	})
	require.NotEmpty(t, amd64Bin, "the amd64 entrypoint was extracted")

	t.Run("the entrypoint is static and reports this build", func(t *testing.T) {
		out, err := exec.CommandContext(ctx, amd64Bin, "version").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "mpcguard "+version+"\n")
		assert.Contains(t, string(out), "commit:   "+commit+"\n")
		assert.Regexp(t, `policies: sha256:[0-9a-f]{64}`, string(out))
		data, err := os.ReadFile(amd64Bin)
		require.NoError(t, err)
		assert.False(t, bytes.Contains(data, []byte("/lib64/ld-linux")), "no dynamic loader: a static binary")
	})

	t.Run("the Dockerfile builds with the Makefile's flags", func(t *testing.T) {
		mk := makeVar(ctx, t, root, "IMAGE_GO_BUILD")
		df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
		require.NoError(t, err)
		norm := func(s string) string {
			s = regexp.MustCompile(`(GOOS|GOARCH)=\S+ `).ReplaceAllString(s, "")
			s = strings.NewReplacer("${VERSION}", "V", "${COMMIT}", "C", commit, "C", version, "V", `"`, "").Replace(s)
			return strings.Join(strings.Fields(s), " ")
		}
		m := regexp.MustCompile(`(?m)^RUN (.*go build .*?) -o `).FindSubmatch(df)
		require.NotNil(t, m, "the Dockerfile's go build")
		assert.Equal(t, norm(mk), norm(string(m[1])))
		for _, want := range []string{"FROM scratch", "USER 65532:65532", "mkdir -m 1777 /out/tmp", `ENTRYPOINT ["/mpcguard"]`,
			`org.opencontainers.image.licenses="Apache-2.0"`, "org.opencontainers.image.revision", "org.opencontainers.image.source"} {
			assert.Contains(t, string(df), want)
		}
	})

	// The registry, on the loopback interface only.
	reg := startRegistry(ctx, t, dir)
	key := generateKey(ctx, t, dir)
	relDir := filepath.Join(dir, "release")
	start = time.Now()
	out := makeT(ctx, t, root, "publish", "REGISTRY="+reg, "IMAGE_DIR="+img1, "RELEASE_DIR="+relDir, "COSIGN_KEY="+key)
	t.Logf("make publish: %s\n%s", time.Since(start).Round(time.Second), out)
	pub := published(t, filepath.Join(relDir, "published.txt"))
	image := pub["image"]
	require.Equal(t, d1, image.Digest, "the pushed index is the built one")
	require.Equal(t, reg+"/mpcguard/mpcguard", image.Repo)
	require.Contains(t, pub, "sbom")
	require.Contains(t, pub, "chart mpcguard")
	require.Contains(t, pub, "chart mpc-system")

	pub2 := filepath.Join(dir, "cosign.pub")
	// A trusted root without any Sigstore service: keys are the only trust, and cosign does not reach for the
	// public-good TUF repository (it would without --trusted-root, and only warn when that fails).
	trustedRoot := filepath.Join(dir, "trusted_root.json")
	require.NoError(t, os.WriteFile(trustedRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o600))
	cosign := func(args ...string) error {
		cmd := exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "cosign"), append(args[:1:1],
			append([]string{"--key", pub2, "--insecure-ignore-tlog=true", "--trusted-root", trustedRoot, "--allow-http-registry"},
				args[1:]...)...)...)
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "TUF_ROOT="+filepath.Join(dir, "tuf"))
		b, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("cosign %s: %w\n%s", strings.Join(args, " "), err, b)
		}
		return nil
	}
	verify := func(ref string) error { return cosign("verify", ref) }
	t.Run("cosign verify passes for the image and the charts", func(t *testing.T) {
		for _, k := range []string{"image", "chart mpcguard", "chart mpc-system"} {
			p := pub[k]
			assert.NoError(t, verify(p.Repo+"@"+p.Digest), k)
			assert.NoError(t, verify(p.Repo+":"+p.Tag), k)
		}
		assert.NoError(t, cosign("verify-attestation", "--type", "cyclonedx", image.Repo+"@"+image.Digest),
			"the SBOM is attached to the image as a signed CycloneDX attestation")
	})

	t.Run("installs from oci:// with the webhook image pinned to the pushed digest", func(t *testing.T) {
		charts := filepath.Join(dir, "pulled")
		for _, c := range []string{"mpc-system", "mpcguard"} {
			p := pub["chart "+c]
			b, err := exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "helm"), "pull", "oci://"+p.Repo,
				"--version", p.Tag, "--plain-http", "--untar", "--untardir", charts).CombinedOutput()
			require.NoError(t, err, "helm pull %s\n%s", c, b)
			assert.Contains(t, string(b), p.Digest, "helm pulled the signed digest")
		}
		// The webhook of this cluster is the image's own entrypoint, run as a local process with the arguments
		// the pulled chart gives its Deployment (scenario.Deploy); the API server calls it by URL.
		env, err := scenario.Up(ctx, scenario.Options{Nodes: 3, Charts: charts, Mpcguard: amd64Bin})
		require.NoError(t, err)
		defer func() { assert.NoError(t, env.Down()) }()
		require.NotNil(t, env.Release.Webhook, "the image's entrypoint serves the webhook")
		resp, err := http.Get(env.Release.Webhook.HealthURL + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)

		// With webhook.url the chart renders no Deployment. The mpcguard chart installed straight from oci://
		// with its defaults (certificates rotated by the webhook, scoped to a namespace of its own) does: KWOK reports its
		// pods Ready without pulling the image.
		ns := "mpcguard-oci"
		helm := exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "helm"), "install", "mpcguard",
			"oci://"+pub["chart mpcguard"].Repo, "--version", pub["chart mpcguard"].Tag, "--plain-http",
			"--namespace", ns, "--create-namespace", "--set", "webhook.namespaces={"+ns+"}", "--wait", "--timeout", "2m")
		helm.Env = append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig, "HELM_CONFIG_HOME="+filepath.Join(dir, "helm"),
			"HELM_CACHE_HOME="+filepath.Join(dir, "helm-cache"), "HELM_DATA_HOME="+filepath.Join(dir, "helm-data"))
		b, err := helm.CombinedOutput()
		require.NoError(t, err, "helm install from oci://\n%s", b)
		deps, err := env.Cluster.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{
			LabelSelector: "app.kubernetes.io/name=mpcguard"})
		require.NoError(t, err)
		require.Len(t, deps.Items, 1)
		c := deps.Items[0].Spec.Template.Spec.Containers[0]
		assert.Equal(t, image.Repo+"@"+image.Digest, c.Image, "the installed webhook runs the pushed digest")
		assert.Equal(t, "mpcguard-"+chartVersion, deps.Items[0].Labels["helm.sh/chart"])

		// kubeVersion is checked against the real version the control plane reports, and refuses older ones.
		sv, err := env.Cluster.Client.Discovery().ServerVersion()
		require.NoError(t, err)
		assert.Regexp(t, `^v1\.[0-9]+\.[0-9]+$`, sv.GitVersion, "the API server reports its real version")
		b, err = exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "helm"), "template", "x",
			filepath.Join(charts, "mpc-system"), "--kube-version", "1.29.9").CombinedOutput()
		require.Error(t, err, "%s", b)
		assert.Contains(t, string(b), "chart requires kubeVersion: >=1.30.0-0")

		// The umbrella chart pulled from oci:// defaults to the same digest.
		b, err = exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "helm"), "template", "mpc-system",
			"oci://"+pub["chart mpc-system"].Repo, "--version", pub["chart mpc-system"].Tag, "--plain-http").CombinedOutput()
		require.NoError(t, err, "%s", b)
		assert.Contains(t, string(b), "image: \""+image.Repo+"@"+image.Digest+"\"")
	})

	t.Run("cosign verify fails for a tampered chart under the same tag", func(t *testing.T) {
		p := pub["chart mpcguard"]
		tampered := filepath.Join(dir, "tampered")
		b, err := exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "helm"), "pull", "oci://"+p.Repo,
			"--version", p.Tag, "--plain-http", "--untar", "--untardir", tampered).CombinedOutput()
		require.NoError(t, err, "%s", b)
		vals := filepath.Join(tampered, "mpcguard", "values.yaml")
		data, err := os.ReadFile(vals)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(vals, bytes.Replace(data, []byte(image.Digest), []byte("sha256:"+strings.Repeat("0", 64)), 1), 0o644))
		b, err = exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "helm"), "package", filepath.Join(tampered, "mpcguard"), "-d", tampered).CombinedOutput()
		require.NoError(t, err, "%s", b)
		b, err = exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "helm"), "push",
			filepath.Join(tampered, "mpcguard-"+p.Tag+".tgz"), "oci://"+strings.TrimSuffix(p.Repo, "/mpcguard"), "--plain-http").CombinedOutput()
		require.NoError(t, err, "%s", b)
		require.NotContains(t, string(b), p.Digest, "the tampered chart has another digest")
		err = verify(p.Repo + ":" + p.Tag)
		require.Error(t, err, "the tag now names an unsigned chart")
		assert.NoError(t, verify(p.Repo+"@"+p.Digest), "the signed digest still verifies")
		assert.Error(t, verify(pub["sbom"].Repo+"@"+pub["sbom"].Digest), "the SBOM artifact itself is not signed: not everything verifies")
	})
}

// published reads make publish's record (scenario.ParsePublished: charts are keyed "chart NAME").
func published(t *testing.T, path string) map[string]scenario.Published {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	pub, err := scenario.ParsePublished(data)
	require.NoError(t, err)
	return pub
}

func run(ctx context.Context, t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

func makeT(ctx context.Context, t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "make", append([]string{"-s", "-C", root}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make %s\n%s", strings.Join(args, " "), out)
	return string(out)
}

// makeVar is a Makefile variable as make computes it.
func makeVar(ctx context.Context, t *testing.T, root, name string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "make", "-s", "-C", root, "--eval", "print-var: ; @echo $("+name+")", "print-var").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

type ociLayout string

func (l ociLayout) json(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(string(l), name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func (l ociLayout) blob(t *testing.T, digest string) []byte {
	t.Helper()
	algo, hex, _ := strings.Cut(digest, ":")
	b, err := os.ReadFile(filepath.Join(string(l), "blobs", algo, hex))
	require.NoError(t, err)
	return b
}

func (l ociLayout) blobJSON(t *testing.T, digest string, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(l.blob(t, digest), v))
}

type tarFile struct {
	hdr  *tar.Header
	data []byte
}

func layerFiles(t *testing.T, gz []byte) []tarFile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	var files []tarFile
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		files = append(files, tarFile{h, data})
	}
	return files
}

func names(files []tarFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.hdr.Name)
	}
	return out
}

// startRegistry runs distribution's registry on 127.0.0.1 with storage under dir, until the test ends.
func startRegistry(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	reg, err := cluster.StartRegistry(ctx, cluster.BinDir(), dir)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registry log:\n%s", reg.Logs(20))
		}
		assert.NoError(t, reg.Stop())
	})
	return reg.Addr
}

// generateKey makes a cosign key pair with an empty password in dir and returns the private key's path.
func generateKey(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "cosign"), "generate-key-pair")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return filepath.Join(dir, "cosign.key")
}

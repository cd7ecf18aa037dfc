package cluster

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// fakeNodeAnnotation marks the nodes KWOK plays.
const fakeNodeAnnotation = "kwok.x-k8s.io/node"

// helmTestStage completes Helm test pods (see the file).
//
//go:embed stages/helm-test-complete.yaml
var helmTestStage []byte

// kwokModuleStages are the stages shipped in the pinned KWOK module that the cluster runs, under
// kustomize/stage: nodes become Ready and keep a lease, pods become Ready (or complete when a Job owns them) and
// are deleted, claims of the kwok-volume StorageClass are provisioned.
var kwokModuleStages = []string{
	"node/fast/node-initialize.yaml",
	"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"pod/fast/pod-ready.yaml",
	"pod/fast/pod-complete.yaml",
	"pod/fast/pod-delete.yaml",
	"volume/fast/pv-bind.yaml",
	"volume/fast/pv-delete.yaml",
	"volume/fast/pvc-provision.yaml",
	"volume/fast/pvc-delete.yaml",
}

// kwokStorageClass is the default StorageClass the volume stages provision for.
const kwokStorageClass = "volume/fast/storage-class.yaml"

// kwokStageDir finds kustomize/stage in the module cache, for the KWOK version test/tools/kwok pins.
func kwokStageDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	modDir := filepath.Join(root, "test", "tools", "kwok")
	list := func() (string, error) {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok")
		cmd.Dir = modDir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("go list -m sigs.k8s.io/kwok in %s: %w: %s", modDir, err, stderr.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	dir, err := list()
	if err != nil {
		return "", err
	}
	if dir == "" { // pinned but not in the module cache (the binary was built before the cache was cleaned)
		cmd := exec.Command("go", "mod", "download", "sigs.k8s.io/kwok")
		cmd.Dir = modDir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go mod download sigs.k8s.io/kwok: %w: %s", err, out)
		}
		if dir, err = list(); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "kustomize", "stage"), nil
}

// kwokStages is the --config of kwok: the module's stages (under dir) and ours, one YAML document each.
func kwokStages(dir string) ([]byte, error) {
	var docs [][]byte
	for _, name := range kwokModuleStages {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading KWOK's stage %s: %w", name, err)
		}
		docs = append(docs, bytes.TrimSpace(data))
	}
	docs = append(docs, bytes.TrimSpace(helmTestStage))
	return append(bytes.Join(docs, []byte("\n---\n")), '\n'), nil
}

// applyStorageClass creates KWOK's default StorageClass (from the stages under dir), so that claims without
// a class (a StatefulSet's volumeClaimTemplates) are provisioned by the volume stages.
func (c *Cluster) applyStorageClass(ctx context.Context, dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, kwokStorageClass))
	if err != nil {
		return fmt.Errorf("reading KWOK's StorageClass: %w", err)
	}
	var sc storagev1.StorageClass
	if err := yaml.UnmarshalStrict(data, &sc); err != nil {
		return fmt.Errorf("decoding KWOK's StorageClass: %w", err)
	}
	_, err = c.Client.StorageV1().StorageClasses().Create(ctx, &sc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating StorageClass %s: %w", sc.Name, err)
	}
	return nil
}

// Command image builds mpcguard's multi-platform OCI image from binaries cross-built by the Makefile, and
// pushes it and its SBOM to a registry. It uses go-containerregistry as a library: no Docker daemon.
//
//	image build --out DIR --tag TAG --version V --revision SHA --created RFC3339 --source URL \
//	      --bin linux/amd64=PATH --bin linux/arm64=PATH
//	image push --layout DIR --ref HOST/REPO:TAG            # prints the pushed index digest
//	image push-sbom --sbom FILE --subject HOST/REPO@DIGEST --ref HOST/REPO:TAG
//	image archive --out FILE --bin PATH --image REF=MODE...  # the real node's stand-in images, a docker archive
//
// The build is reproducible: each layer is a tar with sorted entries, fixed owner (0:0), fixed modes and the
// commit time as every mtime; the config's created time is the commit time, not now. Two builds of one commit
// give the same index digest.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed shape; the Dockerfile yields the same (see README, "Images").
const (
	entrypoint = "/mpcguard"
	user       = "65532:65532"
	license    = "Apache-2.0"
	// SBOMArtifactType is the media type of the CycloneDX SBOM pushed next to the image.
	sbomArtifactType = "application/vnd.cyclonedx+json"
)

type binFlags map[string]string

func (b binFlags) String() string { return fmt.Sprint(map[string]string(b)) }
func (b binFlags) Set(s string) error {
	plat, path, ok := strings.Cut(s, "=")
	if !ok || !strings.Contains(plat, "/") {
		return fmt.Errorf("want OS/ARCH=PATH, got %q", s)
	}
	b[plat] = path
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: image build|push|push-sbom [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "push-sbom":
		err = pushSBOM(os.Args[2:])
	case "archive":
		err = archive(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	bins := binFlags{}
	out := fs.String("out", "", "OCI layout directory to (re)write")
	tag := fs.String("tag", "", "the layout's org.opencontainers.image.ref.name")
	version := fs.String("version", "", "org.opencontainers.image.version")
	revision := fs.String("revision", "", "org.opencontainers.image.revision (the commit)")
	created := fs.String("created", "", "org.opencontainers.image.created and every mtime: the commit time, RFC 3339")
	source := fs.String("source", "https://github.com/mpcguard/mpcguard", "org.opencontainers.image.source")
	fs.Var(bins, "bin", "OS/ARCH=PATH of a static mpcguard binary (repeatable)")
	_ = fs.Parse(args)
	if *out == "" || *version == "" || *revision == "" || *created == "" || len(bins) == 0 {
		return errors.New("build needs --out, --version, --revision, --created and at least one --bin")
	}
	t, err := time.Parse(time.RFC3339, *created)
	if err != nil {
		return fmt.Errorf("--created: %w", err)
	}
	t = t.UTC()
	labels := map[string]string{
		"org.opencontainers.image.title":       "mpcguard",
		"org.opencontainers.image.description": "Party-role admission webhook and policy checks for threshold-signing (MPC) systems on Kubernetes",
		"org.opencontainers.image.source":      *source,
		"org.opencontainers.image.url":         *source,
		"org.opencontainers.image.revision":    *revision,
		"org.opencontainers.image.version":     *version,
		"org.opencontainers.image.licenses":    license,
		"org.opencontainers.image.created":     t.Format(time.RFC3339),
	}

	plats := make([]string, 0, len(bins))
	for p := range bins {
		plats = append(plats, p)
	}
	sort.Strings(plats)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range plats {
		osName, arch, _ := strings.Cut(p, "/")
		img, err := platformImage(bins[p], osName, arch, t, labels)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: osName, Architecture: arch}},
		})
	}
	idx = mutate.AppendManifests(idx, adds...)
	idx = mutate.Annotations(idx, labels).(v1.ImageIndex)

	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	lp, err := layout.Write(*out, empty.Index)
	if err != nil {
		return err
	}
	var opts []layout.Option
	if *tag != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": *tag}))
	}
	if err := lp.AppendIndex(idx, opts...); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d.String())
	return nil
}

// platformImage is one platform's image: a single layer holding the binary and a world-writable /tmp.
func platformImage(bin, osName, arch string, t time.Time, labels map[string]string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	layerTar, err := layerTar(data, t)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: t}, CreatedBy: "mpcguard test/tools/image: /mpcguard, /tmp (1777)", Comment: "static binary, no shell"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = osName, arch
	cf.Created = v1.Time{Time: t}
	cf.Config = v1.Config{
		Entrypoint: []string{entrypoint},
		User:       user,
		WorkingDir: "/",
		Env:        []string{"TMPDIR=/tmp"},
		Labels:     labels,
	}
	return mutate.ConfigFile(img, cf)
}

// layerTar is the layer's uncompressed tar: entries sorted, owner 0:0, mtime t.
func layerTar(bin []byte, t time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		hdr  tar.Header
		data []byte
	}{
		{tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(entrypoint, "/"), Mode: 0o755, Size: int64(len(bin))}, bin},
		{tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}, nil},
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].hdr.Name < entries[j].hdr.Name })
	for _, e := range entries {
		h := e.hdr
		h.ModTime, h.Uid, h.Gid, h.Format = t, 0, 0, tar.FormatPAX
		h.PAXRecords = nil
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	dir := fs.String("layout", "", "OCI layout written by build")
	ref := fs.String("ref", "", "HOST/REPO:TAG to push to")
	_ = fs.Parse(args)
	r, err := name.ParseReference(*ref)
	if err != nil {
		return err
	}
	lp, err := layout.FromPath(*dir)
	if err != nil {
		return err
	}
	root, err := lp.ImageIndex()
	if err != nil {
		return err
	}
	im, err := root.IndexManifest()
	if err != nil {
		return err
	}
	if len(im.Manifests) != 1 {
		return fmt.Errorf("%s: want one index in the layout, found %d manifests", *dir, len(im.Manifests))
	}
	idx, err := root.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d.String())
	return nil
}

// pushSBOM pushes the SBOM as an OCI 1.1 artifact whose subject is the image index, so it is listed by the
// registry's referrers API (or its fallback tag), and tags it for a plain pull.
func pushSBOM(args []string) error {
	fs := flag.NewFlagSet("push-sbom", flag.ExitOnError)
	file := fs.String("sbom", "", "CycloneDX JSON")
	subject := fs.String("subject", "", "HOST/REPO@sha256:... of the image index")
	ref := fs.String("ref", "", "HOST/REPO:TAG for the artifact")
	_ = fs.Parse(args)
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	subj, err := name.NewDigest(*subject)
	if err != nil {
		return err
	}
	desc, err := remote.Head(subj)
	if err != nil {
		return fmt.Errorf("subject %s: %w", subj, err)
	}
	r, err := name.ParseReference(*ref)
	if err != nil {
		return err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(data, types.MediaType(sbomArtifactType))})
	if err != nil {
		return err
	}
	img = mutate.Subject(img, v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}).(v1.Image)
	img = mutate.Annotations(img, map[string]string{"org.opencontainers.image.title": "sbom.cdx.json"}).(v1.Image)
	if err := remote.Write(r, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d.String())
	return nil
}

type imageFlags map[string]string

func (f imageFlags) String() string { return fmt.Sprint(map[string]string(f)) }
func (f imageFlags) Set(s string) error {
	ref, mode, ok := strings.Cut(s, "=")
	if !ok || mode == "" {
		return fmt.Errorf("want REF=MODE, got %q", s)
	}
	f[ref] = mode
	return nil
}

// archive writes the real node's stand-in images (test/standin) as one docker archive for `ctr images
// import`: every image has the same layer (/standin, /bin/wget and /bin/nc linking to it, /tmp) and runs
// `/standin MODE` as user 65532.
func archive(args []string) error {
	fs := flag.NewFlagSet("archive", flag.ExitOnError)
	images := imageFlags{}
	out := fs.String("out", "", "docker archive to write")
	bin := fs.String("bin", "", "static linux/amd64 test/standin binary")
	fs.Var(images, "image", "REF=MODE: an image whose entrypoint is /standin MODE (repeatable)")
	_ = fs.Parse(args)
	if *out == "" || *bin == "" || len(images) == 0 {
		return errors.New("archive needs --out, --bin and at least one --image")
	}
	data, err := os.ReadFile(*bin)
	if err != nil {
		return err
	}
	t := time.Unix(0, 0).UTC()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []tar.Header{
		{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755},
		{Typeflag: tar.TypeSymlink, Name: "bin/nc", Linkname: "/standin", Mode: 0o777},
		{Typeflag: tar.TypeSymlink, Name: "bin/wget", Linkname: "/standin", Mode: 0o777},
		{Typeflag: tar.TypeReg, Name: "standin", Mode: 0o755, Size: int64(len(data))},
		{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777},
	} {
		h.ModTime, h.Format = t, tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		return err
	}
	refs := map[name.Reference]v1.Image{}
	for ref, mode := range images {
		r, err := name.ParseReference(ref)
		if err != nil {
			return fmt.Errorf("--image %s: %w", ref, err)
		}
		img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
		if err != nil {
			return err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Created = "linux", "amd64", v1.Time{Time: t}
		cf.Config = v1.Config{
			Entrypoint: []string{"/standin", mode},
			User:       user,
			WorkingDir: "/",
			Env:        []string{"PATH=/bin", "TMPDIR=/tmp"},
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return err
		}
		refs[r] = img
	}
	return tarball.MultiRefWriteToFile(*out, refs)
}

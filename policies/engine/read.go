package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/valyala/fastjson"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Pods and workloads are read with a pooled fastjson parser instead of encoding/json: for a typical 3 KB pod,
// reflection-based decoding cost as much as evaluating the policies. Only the fields the policies need are
// read, each with its type checked, so malformed objects still fail with the path of the bad field. The path
// is a chain of values on the stack, spelled out only when an error needs it.

var parsers fastjson.ParserPool

// doc is an object to read: its JSON, or its value already parsed as part of a larger document (the
// webhook's AdmissionReview), which is then not parsed twice.
type doc struct {
	raw []byte
	v   *fastjson.Value
}

func (d doc) empty() bool { return d.v == nil && len(bytes.TrimSpace(d.raw)) == 0 }

// withObject calls fill with d's root object, parsing d.raw with a pooled parser when d is not parsed yet;
// parsed values are valid only inside fill.
func withObject(d doc, fill func(*fastjson.Value) error) error {
	if d.v != nil {
		if d.v.Type() != fastjson.TypeObject {
			return fmt.Errorf("want a JSON object, got %s", d.v.Type())
		}
		return fill(d.v)
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(d.raw)
	if err != nil {
		return fmt.Errorf("malformed JSON: %s", shortJSONError(err))
	}
	if v.Type() != fastjson.TypeObject {
		return fmt.Errorf("want a JSON object, got %s", v.Type())
	}
	return fill(v)
}

// shortJSONError drops the "cannot parse object value: cannot parse array: ..." chain fastjson builds for
// each level of nesting, keeping its first and last words: "cannot parse JSON: too big depth ...".
func shortJSONError(err error) string {
	parts := strings.Split(err.Error(), ": ")
	i := 1
	for i < len(parts)-1 && strings.HasPrefix(parts[i], "cannot parse ") {
		i++
	}
	return strings.Join(append(parts[:1:1], parts[i:]...), ": ")
}

// fieldPath is where a value sits in the object: a field of its parent, or an element when key is empty.
// The zero value is the root.
type fieldPath struct {
	parent *fieldPath
	key    string
	index  int
}

func (p *fieldPath) field(key string) fieldPath { return fieldPath{parent: p, key: key} }
func (p *fieldPath) elem(i int) fieldPath       { return fieldPath{parent: p, index: i} }

// String spells the path as the error messages show it: spec.volumes[0].secret.secretName.
func (p *fieldPath) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p *fieldPath) write(b *strings.Builder) {
	if p == nil || (p.parent == nil && p.key == "") {
		return
	}
	p.parent.write(b)
	if p.key == "" {
		b.WriteString("[" + strconv.Itoa(p.index) + "]")
		return
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(p.key)
}

// child returns v[key], or nil when it is absent or null.
func child(v *fastjson.Value, key string) *fastjson.Value {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil
	}
	return f
}

func typeError(p fieldPath, want string, got *fastjson.Value) error {
	return fmt.Errorf("%s: want %s, got %s", p.String(), want, got.Type())
}

// objectAt returns the object at v[key] (nil when absent); parent is v's path.
func objectAt(v *fastjson.Value, key string, parent *fieldPath) (*fastjson.Value, error) {
	f := child(v, key)
	if f != nil && f.Type() != fastjson.TypeObject {
		return nil, typeError(parent.field(key), "an object", f)
	}
	return f, nil
}

func stringAt(v *fastjson.Value, key string, parent *fieldPath) (string, error) {
	f := child(v, key)
	if f == nil {
		return "", nil
	}
	b, err := f.StringBytes()
	if err != nil {
		return "", typeError(parent.field(key), "a string", f)
	}
	return string(b), nil
}

func arrayAt(v *fastjson.Value, key string, parent *fieldPath) ([]*fastjson.Value, error) {
	f := child(v, key)
	if f == nil {
		return nil, nil
	}
	if f.Type() != fastjson.TypeArray {
		return nil, typeError(parent.field(key), "an array", f)
	}
	return f.GetArray(), nil
}

// labelsAt reads the labels at v[key] as an object term of interned strings (nil when absent).
func labelsAt(v *fastjson.Value, key string, parent *fieldPath) (*ast.Term, error) {
	obj, err := objectAt(v, key, parent)
	if err != nil || obj == nil {
		return nil, err
	}
	o, _ := obj.Object()
	items := make([][2]*ast.Term, 0, o.Len())
	o.Visit(func(k []byte, val *fastjson.Value) {
		if err != nil {
			return
		}
		b, e := val.StringBytes()
		if e != nil {
			lp := parent.field(key)
			err = typeError(lp.field(string(k)), "a string", val)
			return
		}
		items = append(items, [2]*ast.Term{interned.term(k), interned.term(b)})
	})
	if err != nil {
		return nil, err
	}
	return ast.ObjectTerm(items...), nil
}

func readMeta(v *fastjson.Value, parent *fieldPath) (objectMeta, error) {
	var m objectMeta
	md, err := objectAt(v, "metadata", parent)
	if err != nil || md == nil {
		return m, err
	}
	p := parent.field("metadata")
	if m.Name, err = stringAt(md, "name", &p); err != nil {
		return m, err
	}
	if m.GenerateName, err = stringAt(md, "generateName", &p); err != nil {
		return m, err
	}
	if m.Namespace, err = stringAt(md, "namespace", &p); err != nil {
		return m, err
	}
	m.labels, err = labelsAt(md, "labels", &p)
	return m, err
}

// readVolumes appends the claim and secret names of spec.volumes to p, in volume order.
func readVolumes(spec *fastjson.Value, specPath *fieldPath, p *podShape) error {
	items, err := arrayAt(spec, "volumes", specPath)
	if err != nil {
		return err
	}
	vols := specPath.field("volumes")
	for i, it := range items {
		vp := vols.elem(i)
		if it.Type() != fastjson.TypeObject {
			return typeError(vp, "an object", it)
		}
		if pvc, err := objectAt(it, "persistentVolumeClaim", &vp); err != nil {
			return err
		} else if pvc != nil {
			pp := vp.field("persistentVolumeClaim")
			name, err := stringAt(pvc, "claimName", &pp)
			if err != nil {
				return err
			}
			p.claims = append(p.claims, name)
		}
		if sec, err := objectAt(it, "secret", &vp); err != nil {
			return err
		} else if sec != nil {
			sp := vp.field("secret")
			name, err := stringAt(sec, "secretName", &sp)
			if err != nil {
				return err
			}
			p.secrets = append(p.secrets, name)
		}
		if err := readProjected(it, &vp, p); err != nil {
			return err
		}
		if hp, err := objectAt(it, "hostPath", &vp); err != nil {
			return err
		} else if hp != nil {
			hpp := vp.field("hostPath")
			path, err := stringAt(hp, "path", &hpp)
			if err != nil {
				return err
			}
			p.hostPaths = append(p.hostPaths, path)
		}
		if err := readVolumeSecretRefs(it, &vp, p); err != nil {
			return err
		}
		if err := readEphemeral(it, &vp, p); err != nil {
			return err
		}
	}
	return nil
}

// volumeSecretRefs are the volume types that name a Secret besides secret and projected volumes: the node
// reads the Secret to mount the volume, so naming a share Secret there hands it to the driver for this pod.
// Each is {volume field, object holding the reference, the reference's name field}.
var volumeSecretRefs = [][3]string{
	{"csi", "nodePublishSecretRef", "name"},
	{"cephfs", "secretRef", "name"},
	{"rbd", "secretRef", "name"},
	{"iscsi", "secretRef", "name"},
	{"flexVolume", "secretRef", "name"},
	{"scaleIO", "secretRef", "name"},
	{"storageos", "secretRef", "name"},
}

// readVolumeSecretRefs appends the Secrets that a volume's driver reads (volumeSecretRefs, azureFile's
// secretName) to p.
func readVolumeSecretRefs(it *fastjson.Value, vp *fieldPath, p *podShape) error {
	for _, ref := range volumeSecretRefs {
		vol, err := objectAt(it, ref[0], vp)
		if err != nil {
			return err
		}
		if vol == nil {
			continue
		}
		volp := vp.field(ref[0])
		r, err := objectAt(vol, ref[1], &volp)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		rp := volp.field(ref[1])
		name, err := stringAt(r, ref[2], &rp)
		if err != nil {
			return err
		}
		if name != "" {
			p.secrets = append(p.secrets, name)
		}
	}
	az, err := objectAt(it, "azureFile", vp)
	if err != nil || az == nil {
		return err
	}
	azp := vp.field("azureFile")
	name, err := stringAt(az, "secretName", &azp)
	if err != nil {
		return err
	}
	if name != "" {
		p.secrets = append(p.secrets, name)
	}
	return nil
}

// readEphemeral appends the data sources of a generic ephemeral volume's claim template to p.clones.
func readEphemeral(it *fastjson.Value, vp *fieldPath, p *podShape) error {
	eph, err := objectAt(it, "ephemeral", vp)
	if err != nil || eph == nil {
		return err
	}
	ep := vp.field("ephemeral")
	vct, err := objectAt(eph, "volumeClaimTemplate", &ep)
	if err != nil || vct == nil {
		return err
	}
	vctp := ep.field("volumeClaimTemplate")
	spec, err := objectAt(vct, "spec", &vctp)
	if err != nil || spec == nil {
		return err
	}
	sp := vctp.field("spec")
	p.clones, err = readDataSources(spec, &sp, p.clones)
	return err
}

// dataSource is the source a claim is filled from: a PersistentVolumeClaim (a clone), a VolumeSnapshot (a
// restore) or a populator's object.
type dataSource struct{ kind, name string }

// readDataSources appends a claim spec's dataSource and dataSourceRef to out (both when they differ).
func readDataSources(spec *fastjson.Value, specPath *fieldPath, out []dataSource) ([]dataSource, error) {
	for _, key := range []string{"dataSource", "dataSourceRef"} {
		ds, err := objectAt(spec, key, specPath)
		if err != nil {
			return out, err
		}
		if ds == nil {
			continue
		}
		dp := specPath.field(key)
		kind, err := stringAt(ds, "kind", &dp)
		if err != nil {
			return out, err
		}
		name, err := stringAt(ds, "name", &dp)
		if err != nil {
			return out, err
		}
		d := dataSource{kind: kind, name: name}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// readProjected appends the secret names of a projected volume's sources to p.
func readProjected(it *fastjson.Value, vp *fieldPath, p *podShape) error {
	proj, err := objectAt(it, "projected", vp)
	if err != nil || proj == nil {
		return err
	}
	pp := vp.field("projected")
	sources, err := arrayAt(proj, "sources", &pp)
	if err != nil {
		return err
	}
	srcs := pp.field("sources")
	for j, src := range sources {
		sp := srcs.elem(j)
		if src.Type() != fastjson.TypeObject {
			return typeError(sp, "an object", src)
		}
		sec, err := objectAt(src, "secret", &sp)
		if err != nil {
			return err
		}
		if sec == nil {
			continue // a token, ConfigMap or downward API source
		}
		secp := sp.field("secret")
		name, err := stringAt(sec, "name", &secp)
		if err != nil {
			return err
		}
		p.secrets = append(p.secrets, name)
	}
	return nil
}

// readPodShape reads metadata and spec.volumes of a pod (the root) or a pod template (spec.template).
func readPodShape(v *fastjson.Value, at *fieldPath, p *podShape) error {
	var err error
	if p.meta, err = readMeta(v, at); err != nil {
		return err
	}
	spec, err := objectAt(v, "spec", at)
	if err != nil || spec == nil {
		return err
	}
	sp := at.field("spec")
	if err := readVolumes(spec, &sp, p); err != nil {
		return err
	}
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		if err := readContainerSecrets(spec, list, &sp, p); err != nil {
			return err
		}
	}
	eph, err := arrayAt(spec, "ephemeralContainers", &sp)
	p.ephemeral = len(eph)
	return err
}

// readOwner reads the controller among metadata.ownerReferences (the one with controller: true).
func readOwner(v *fastjson.Value, at *fieldPath) (dataSource, error) {
	md, err := objectAt(v, "metadata", at)
	if err != nil || md == nil {
		return dataSource{}, err
	}
	mp := at.field("metadata")
	refs, err := arrayAt(md, "ownerReferences", &mp)
	if err != nil {
		return dataSource{}, err
	}
	rp := mp.field("ownerReferences")
	for i, r := range refs {
		ip := rp.elem(i)
		if r.Type() != fastjson.TypeObject {
			return dataSource{}, typeError(ip, "an object", r)
		}
		c := child(r, "controller")
		if c == nil || c.Type() != fastjson.TypeTrue {
			continue
		}
		kind, err := stringAt(r, "kind", &ip)
		if err != nil {
			return dataSource{}, err
		}
		name, err := stringAt(r, "name", &ip)
		if err != nil {
			return dataSource{}, err
		}
		return dataSource{kind: kind, name: name}, nil
	}
	return dataSource{}, nil
}

// readContainerSecrets appends the Secrets that the containers of spec[list] read into their environment —
// env[].valueFrom.secretKeyRef and envFrom[].secretRef — to p: a Secret read that way is as much in the pod's
// hands as a mounted one.
func readContainerSecrets(spec *fastjson.Value, list string, specPath *fieldPath, p *podShape) error {
	items, err := arrayAt(spec, list, specPath)
	if err != nil {
		return err
	}
	lp := specPath.field(list)
	for i, c := range items {
		cp := lp.elem(i)
		if c.Type() != fastjson.TypeObject {
			return typeError(cp, "an object", c)
		}
		env, err := arrayAt(c, "env", &cp)
		if err != nil {
			return err
		}
		ep := cp.field("env")
		for j, e := range env {
			if err := readSecretRef(e, ep.elem(j), "valueFrom", "secretKeyRef", p); err != nil {
				return err
			}
		}
		envFrom, err := arrayAt(c, "envFrom", &cp)
		if err != nil {
			return err
		}
		fp := cp.field("envFrom")
		for j, e := range envFrom {
			if err := readSecretRef(e, fp.elem(j), "", "secretRef", p); err != nil {
				return err
			}
		}
	}
	return nil
}

// readSecretRef reads v (at path at) as an env or envFrom entry and appends the name of the Secret it
// references — under v[outer][inner], or v[inner] when outer is empty — to p.
func readSecretRef(v *fastjson.Value, at fieldPath, outer, inner string, p *podShape) error {
	if v.Type() != fastjson.TypeObject {
		return typeError(at, "an object", v)
	}
	parent := &at
	if outer != "" {
		o, err := objectAt(v, outer, &at)
		if err != nil || o == nil {
			return err
		}
		op := at.field(outer)
		v, parent = o, &op
	}
	ref, err := objectAt(v, inner, parent)
	if err != nil || ref == nil {
		return err
	}
	rp := parent.field(inner)
	name, err := stringAt(ref, "name", &rp)
	if err != nil || name == "" {
		return err
	}
	p.secrets = append(p.secrets, name)
	return nil
}

// readTemplate reads the pod template at v[key], or returns nil when there is none.
func readTemplate(v *fastjson.Value, key string, parent *fieldPath) (*podShape, error) {
	t, err := objectAt(v, key, parent)
	if err != nil || t == nil {
		return nil, err
	}
	var p podShape
	tp := parent.field(key)
	return &p, readPodShape(t, &tp, &p)
}

func readPod(d doc) (pod podShape, err error) {
	err = withObject(d, func(v *fastjson.Value) error {
		if err := readPodShape(v, &fieldPath{}, &pod); err != nil {
			return err
		}
		pod.owner, err = readOwner(v, &fieldPath{})
		return err
	})
	return pod, err
}

// readMetaSpec reads an object's metadata and returns its spec object (nil when absent) with the spec's path.
func readMetaSpec(v *fastjson.Value) (meta objectMeta, spec *fastjson.Value, specPath fieldPath, err error) {
	root := &fieldPath{}
	if meta, err = readMeta(v, root); err != nil {
		return meta, nil, specPath, err
	}
	spec, err = objectAt(v, "spec", root)
	return meta, spec, root.field("spec"), err
}

// readWorkload reads a workload's metadata and pod template: spec.template, or a CronJob's
// spec.jobTemplate.spec.template. A StatefulSet's volumeClaimTemplates add the claims of its first pod,
// <template>-<statefulset>-0, which stands for all its pods.
func readWorkload(d doc) (w workloadShape, err error) {
	err = withObject(d, func(v *fastjson.Value) error {
		var spec *fastjson.Value
		var sp fieldPath
		if w.meta, spec, sp, err = readMetaSpec(v); err != nil || spec == nil {
			return err
		}
		if w.template, err = readTemplate(spec, "template", &sp); err != nil {
			return err
		}
		vcts, err := arrayAt(spec, "volumeClaimTemplates", &sp)
		if err != nil {
			return err
		}
		vctPath := sp.field("volumeClaimTemplates")
		var vctClaims []string
		var vctClones []dataSource
		for i, vct := range vcts {
			p := vctPath.elem(i)
			if vct.Type() != fastjson.TypeObject {
				return typeError(p, "an object", vct)
			}
			m, err := readMeta(vct, &p)
			if err != nil {
				return err
			}
			vctClaims = append(vctClaims, m.Name+"-"+w.meta.Name+"-0")
			vspec, err := objectAt(vct, "spec", &p)
			if err != nil {
				return err
			}
			if vspec != nil {
				vsp := p.field("spec")
				if vctClones, err = readDataSources(vspec, &vsp, vctClones); err != nil {
					return err
				}
			}
		}
		jt, err := objectAt(spec, "jobTemplate", &sp)
		if err != nil {
			return err
		}
		if jt != nil {
			jp := sp.field("jobTemplate")
			jspec, err := objectAt(jt, "spec", &jp)
			if err != nil {
				return err
			}
			if jspec != nil {
				jsp := jp.field("spec")
				if w.template, err = readTemplate(jspec, "template", &jsp); err != nil {
					return err
				}
			}
		}
		if w.template != nil && len(vctClaims) > 0 {
			w.template.claims = append(vctClaims, w.template.claims...)
			w.template.clones = append(vctClones, w.template.clones...)
		}
		return nil
	})
	return w, err
}

// readBinding reads a Binding's metadata: the labels the API server copies onto the pod it binds.
func readBinding(d doc) (meta objectMeta, err error) {
	err = withObject(d, func(v *fastjson.Value) error {
		meta, err = readMeta(v, &fieldPath{})
		return err
	})
	return meta, err
}

// claimShape is what the policies read of a PersistentVolumeClaim or a VolumeSnapshot.
type claimShape struct {
	meta   objectMeta
	clones []dataSource // a claim's dataSource and dataSourceRef
	source string       // a snapshot's spec.source.persistentVolumeClaimName
}

// readClaim reads a PersistentVolumeClaim's metadata and data sources.
func readClaim(d doc) (c claimShape, err error) {
	err = withObject(d, func(v *fastjson.Value) error {
		var spec *fastjson.Value
		var sp fieldPath
		if c.meta, spec, sp, err = readMetaSpec(v); err != nil || spec == nil {
			return err
		}
		c.clones, err = readDataSources(spec, &sp, nil)
		return err
	})
	return c, err
}

// readSnapshot reads a VolumeSnapshot's metadata and the claim it copies.
func readSnapshot(d doc) (c claimShape, err error) {
	err = withObject(d, func(v *fastjson.Value) error {
		var spec *fastjson.Value
		var sp fieldPath
		if c.meta, spec, sp, err = readMetaSpec(v); err != nil || spec == nil {
			return err
		}
		src, err := objectAt(spec, "source", &sp)
		if err != nil || src == nil {
			return err
		}
		srcp := sp.field("source")
		c.source, err = stringAt(src, "persistentVolumeClaimName", &srcp)
		return err
	})
	return c, err
}

// readSession reads an MPCSession's metadata and its spec as sent, as a term (nil when absent): the policies
// judge the spec without trusting the CRD schema, so nothing here checks or converts it.
func readSession(d doc) (meta objectMeta, spec *ast.Term, err error) {
	err = withObject(d, func(v *fastjson.Value) error {
		root := &fieldPath{}
		if meta, err = readMeta(v, root); err != nil {
			return err
		}
		if s := child(v, "spec"); s != nil {
			spec, err = jsonTerm(s)
		}
		return err
	})
	return meta, spec, err
}

// jsonTerm converts a parsed JSON value into a term, numbers kept exact.
func jsonTerm(v *fastjson.Value) (*ast.Term, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		items := make([][2]*ast.Term, 0, o.Len())
		var err error
		o.Visit(func(k []byte, val *fastjson.Value) {
			if err != nil {
				return
			}
			var t *ast.Term
			if t, err = jsonTerm(val); err == nil {
				items = append(items, [2]*ast.Term{ast.StringTerm(string(k)), t})
			}
		})
		return ast.ObjectTerm(items...), err
	case fastjson.TypeArray:
		a, _ := v.Array()
		terms := make([]*ast.Term, len(a))
		for i, x := range a {
			t, err := jsonTerm(x)
			if err != nil {
				return nil, err
			}
			terms[i] = t
		}
		return ast.ArrayTerm(terms...), nil
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return ast.StringTerm(string(b)), nil
	case fastjson.TypeNumber:
		return ast.NumberTerm(json.Number(v.String())), nil
	case fastjson.TypeTrue:
		return ast.BooleanTerm(true), nil
	case fastjson.TypeFalse:
		return ast.BooleanTerm(false), nil
	default:
		return ast.NullTerm(), nil
	}
}

// deletedShape is what the policies read of an object being deleted: its metadata, the reason of its
// break-glass annotation ("" when it has none) and, for a StatefulSet, its pod template.
type deletedShape struct {
	meta     objectMeta
	reason   string
	template *podShape
}

// readDeleted reads the old object of a DELETE: a StatefulSet's metadata and pod template, or any other
// kind's metadata alone (a Secret's data is never read).
func readDeleted(d doc, kind string) (s deletedShape, err error) {
	err = withObject(d, func(v *fastjson.Value) error {
		root := &fieldPath{}
		if kind == "StatefulSet" {
			w, err := readWorkload(d)
			if err != nil {
				return err
			}
			s.meta, s.template = w.meta, w.template
		} else if s.meta, err = readMeta(v, root); err != nil {
			return err
		}
		md, err := objectAt(v, "metadata", root)
		if err != nil || md == nil {
			return err
		}
		mp := root.field("metadata")
		ann, err := objectAt(md, "annotations", &mp)
		if err != nil || ann == nil {
			return err
		}
		ap := mp.field("annotations")
		s.reason, err = stringAt(ann, vocab.BreakGlassAnnotation, &ap)
		return err
	})
	return s, err
}

// replicasAt reads v[key] as a whole, non-negative number of replicas; def when absent.
func replicasAt(v *fastjson.Value, key string, parent *fieldPath, def int) (int, error) {
	f := child(v, key)
	if f == nil {
		return def, nil
	}
	n, err := f.Int()
	if err != nil || n < 0 {
		return 0, typeError(parent.field(key), "a whole number of replicas, at least 0", f)
	}
	return n, nil
}

// readReplicas reads spec.replicas of a StatefulSet (absent is 1, the API server's default) or of a Scale
// (absent is 0: autoscaling/v1 omits a zero).
func readReplicas(d doc, kind string) (meta objectMeta, replicas int, err error) {
	def := 1
	if kind == vocab.ScaleKind {
		def = 0
	}
	err = withObject(d, func(v *fastjson.Value) error {
		var spec *fastjson.Value
		var sp fieldPath
		if meta, spec, sp, err = readMetaSpec(v); err != nil {
			return err
		}
		replicas = def
		if spec != nil {
			replicas, err = replicasAt(spec, "replicas", &sp, def)
		}
		return err
	})
	return meta, replicas, err
}

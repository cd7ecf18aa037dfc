package policy

import (
	"fmt"

	"github.com/valyala/fastjson"
)

// Pods and workloads are read with a pooled fastjson parser instead of encoding/json: for a typical 3 KB pod,
// reflection-based decoding cost as much as evaluating the policies. Only the fields the policies need are
// read, each with its type checked, so malformed objects still fail with the path of the bad field.

var parsers fastjson.ParserPool

// withObject parses raw and calls fill with its root object; parsed values are valid only inside fill.
func withObject(raw []byte, fill func(*fastjson.Value) error) error {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return fmt.Errorf("want a JSON object, got %s", v.Type())
	}
	return fill(v)
}

// child returns v[key], or nil when it is absent or null.
func child(v *fastjson.Value, key string) *fastjson.Value {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil
	}
	return f
}

func typeError(path string, want string, got *fastjson.Value) error {
	return fmt.Errorf("%s: want %s, got %s", path, want, got.Type())
}

func objectAt(v *fastjson.Value, key, path string) (*fastjson.Value, error) {
	f := child(v, key)
	if f != nil && f.Type() != fastjson.TypeObject {
		return nil, typeError(path, "an object", f)
	}
	return f, nil
}

func stringAt(v *fastjson.Value, key, path string) (string, error) {
	f := child(v, key)
	if f == nil {
		return "", nil
	}
	b, err := f.StringBytes()
	if err != nil {
		return "", typeError(path, "a string", f)
	}
	return string(b), nil
}

func arrayAt(v *fastjson.Value, key, path string) ([]*fastjson.Value, error) {
	f := child(v, key)
	if f == nil {
		return nil, nil
	}
	if f.Type() != fastjson.TypeArray {
		return nil, typeError(path, "an array", f)
	}
	return f.GetArray(), nil
}

func labelsAt(v *fastjson.Value, key, path string) (map[string]string, error) {
	obj, err := objectAt(v, key, path)
	if err != nil || obj == nil {
		return nil, err
	}
	o, _ := obj.Object()
	labels := make(map[string]string, o.Len())
	o.Visit(func(k []byte, val *fastjson.Value) {
		if err != nil {
			return
		}
		b, e := val.StringBytes()
		if e != nil {
			err = typeError(path+"."+string(k), "a string", val)
			return
		}
		labels[string(k)] = string(b)
	})
	return labels, err
}

func readMeta(v *fastjson.Value, path string) (objectMeta, error) {
	var m objectMeta
	md, err := objectAt(v, "metadata", path+"metadata")
	if err != nil || md == nil {
		return m, err
	}
	p := path + "metadata."
	if m.Name, err = stringAt(md, "name", p+"name"); err != nil {
		return m, err
	}
	if m.GenerateName, err = stringAt(md, "generateName", p+"generateName"); err != nil {
		return m, err
	}
	if m.Namespace, err = stringAt(md, "namespace", p+"namespace"); err != nil {
		return m, err
	}
	m.Labels, err = labelsAt(md, "labels", p+"labels")
	return m, err
}

// readVolumes appends the claim and secret names of spec.volumes to p, in volume order.
func readVolumes(spec *fastjson.Value, path string, p *podShape) error {
	items, err := arrayAt(spec, "volumes", path+"volumes")
	if err != nil {
		return err
	}
	for i, it := range items {
		vp := fmt.Sprintf("%svolumes[%d]", path, i)
		if it.Type() != fastjson.TypeObject {
			return typeError(vp, "an object", it)
		}
		if pvc, err := objectAt(it, "persistentVolumeClaim", vp+".persistentVolumeClaim"); err != nil {
			return err
		} else if pvc != nil {
			name, err := stringAt(pvc, "claimName", vp+".persistentVolumeClaim.claimName")
			if err != nil {
				return err
			}
			p.claims = append(p.claims, name)
		}
		if sec, err := objectAt(it, "secret", vp+".secret"); err != nil {
			return err
		} else if sec != nil {
			name, err := stringAt(sec, "secretName", vp+".secret.secretName")
			if err != nil {
				return err
			}
			p.secrets = append(p.secrets, name)
		}
		if err := readProjected(it, vp, p); err != nil {
			return err
		}
	}
	return nil
}

// readProjected appends the secret names of a projected volume's sources to p.
func readProjected(it *fastjson.Value, vp string, p *podShape) error {
	proj, err := objectAt(it, "projected", vp+".projected")
	if err != nil || proj == nil {
		return err
	}
	sources, err := arrayAt(proj, "sources", vp+".projected.sources")
	if err != nil {
		return err
	}
	for j, src := range sources {
		sp := fmt.Sprintf("%s.projected.sources[%d]", vp, j)
		if src.Type() != fastjson.TypeObject {
			return typeError(sp, "an object", src)
		}
		sec, err := objectAt(src, "secret", sp+".secret")
		if err != nil {
			return err
		}
		if sec == nil {
			continue // a token, ConfigMap or downward API source
		}
		name, err := stringAt(sec, "name", sp+".secret.name")
		if err != nil {
			return err
		}
		p.secrets = append(p.secrets, name)
	}
	return nil
}

// readPodShape reads metadata and spec.volumes of a pod (path "") or a pod template (path "spec.template.").
func readPodShape(v *fastjson.Value, path string, p *podShape) error {
	var err error
	if p.meta, err = readMeta(v, path); err != nil {
		return err
	}
	spec, err := objectAt(v, "spec", path+"spec")
	if err != nil || spec == nil {
		return err
	}
	return readVolumes(spec, path+"spec.", p)
}

// readTemplate reads the pod template at v[key], or returns nil when there is none.
func readTemplate(v *fastjson.Value, key, path string) (*podShape, error) {
	t, err := objectAt(v, key, path+key)
	if err != nil || t == nil {
		return nil, err
	}
	var p podShape
	return &p, readPodShape(t, path+key+".", &p)
}

func readPod(raw []byte) (pod podShape, err error) {
	err = withObject(raw, func(v *fastjson.Value) error { return readPodShape(v, "", &pod) })
	return pod, err
}

// readWorkload reads a workload's metadata and pod template: spec.template, or a CronJob's
// spec.jobTemplate.spec.template. A StatefulSet's volumeClaimTemplates add the claims of its first pod,
// <template>-<statefulset>-0, which stands for all its pods.
func readWorkload(raw []byte) (w workloadShape, err error) {
	err = withObject(raw, func(v *fastjson.Value) error {
		if w.meta, err = readMeta(v, ""); err != nil {
			return err
		}
		spec, err := objectAt(v, "spec", "spec")
		if err != nil || spec == nil {
			return err
		}
		if w.template, err = readTemplate(spec, "template", "spec."); err != nil {
			return err
		}
		vcts, err := arrayAt(spec, "volumeClaimTemplates", "spec.volumeClaimTemplates")
		if err != nil {
			return err
		}
		var vctClaims []string
		for i, vct := range vcts {
			p := fmt.Sprintf("spec.volumeClaimTemplates[%d]", i)
			if vct.Type() != fastjson.TypeObject {
				return typeError(p, "an object", vct)
			}
			m, err := readMeta(vct, p+".")
			if err != nil {
				return err
			}
			vctClaims = append(vctClaims, m.Name+"-"+w.meta.Name+"-0")
		}
		jt, err := objectAt(spec, "jobTemplate", "spec.jobTemplate")
		if err != nil {
			return err
		}
		if jt != nil {
			jspec, err := objectAt(jt, "spec", "spec.jobTemplate.spec")
			if err != nil {
				return err
			}
			if jspec != nil {
				if w.template, err = readTemplate(jspec, "template", "spec.jobTemplate.spec."); err != nil {
					return err
				}
			}
		}
		if w.template != nil && len(vctClaims) > 0 {
			w.template.claims = append(vctClaims, w.template.claims...)
		}
		return nil
	})
	return w, err
}

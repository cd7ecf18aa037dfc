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

func readVolumes(spec *fastjson.Value, path string) ([]volume, error) {
	items, err := arrayAt(spec, "volumes", path+"volumes")
	if err != nil {
		return nil, err
	}
	vols := make([]volume, 0, len(items))
	for i, it := range items {
		p := fmt.Sprintf("%svolumes[%d]", path, i)
		if it.Type() != fastjson.TypeObject {
			return nil, typeError(p, "an object", it)
		}
		var vol volume
		if pvc, err := objectAt(it, "persistentVolumeClaim", p+".persistentVolumeClaim"); err != nil {
			return nil, err
		} else if pvc != nil {
			vol.PersistentVolumeClaim = &struct {
				ClaimName string `json:"claimName"`
			}{}
			if vol.PersistentVolumeClaim.ClaimName, err = stringAt(pvc, "claimName", p+".persistentVolumeClaim.claimName"); err != nil {
				return nil, err
			}
		}
		if sec, err := objectAt(it, "secret", p+".secret"); err != nil {
			return nil, err
		} else if sec != nil {
			vol.Secret = &struct {
				SecretName string `json:"secretName"`
			}{}
			if vol.Secret.SecretName, err = stringAt(sec, "secretName", p+".secret.secretName"); err != nil {
				return nil, err
			}
		}
		if err := readProjected(it, p, &vol); err != nil {
			return nil, err
		}
		vols = append(vols, vol)
	}
	return vols, nil
}

func readProjected(it *fastjson.Value, p string, vol *volume) error {
	proj, err := objectAt(it, "projected", p+".projected")
	if err != nil || proj == nil {
		return err
	}
	sources, err := arrayAt(proj, "sources", p+".projected.sources")
	if err != nil {
		return err
	}
	vol.Projected = &projectedVolume{}
	for j, src := range sources {
		sp := fmt.Sprintf("%s.projected.sources[%d]", p, j)
		if src.Type() != fastjson.TypeObject {
			return typeError(sp, "an object", src)
		}
		sec, err := objectAt(src, "secret", sp+".secret")
		if err != nil {
			return err
		}
		var s projectedSource
		if sec != nil {
			name, err := stringAt(sec, "name", sp+".secret.name")
			if err != nil {
				return err
			}
			s.Secret = &struct {
				Name string `json:"name"`
			}{Name: name}
		}
		vol.Projected.Sources = append(vol.Projected.Sources, s)
	}
	return nil
}

// readTemplate reads a pod template (metadata and spec.volumes) at v[key].
func readTemplate(v *fastjson.Value, key, path string) (*podTemplate, error) {
	t, err := objectAt(v, key, path+key)
	if err != nil || t == nil {
		return nil, err
	}
	p := path + key + "."
	var tmpl podTemplate
	if tmpl.Metadata, err = readMeta(t, p); err != nil {
		return nil, err
	}
	spec, err := objectAt(t, "spec", p+"spec")
	if err != nil || spec == nil {
		return &tmpl, err
	}
	tmpl.Spec.Volumes, err = readVolumes(spec, p+"spec.")
	return &tmpl, err
}

func readPod(raw []byte) (pod podObject, err error) {
	err = withObject(raw, func(v *fastjson.Value) error {
		if pod.Metadata, err = readMeta(v, ""); err != nil {
			return err
		}
		spec, err := objectAt(v, "spec", "spec")
		if err != nil || spec == nil {
			return err
		}
		pod.Spec.Volumes, err = readVolumes(spec, "spec.")
		return err
	})
	return pod, err
}

func readWorkload(raw []byte) (w workloadObject, err error) {
	err = withObject(raw, func(v *fastjson.Value) error {
		if w.Metadata, err = readMeta(v, ""); err != nil {
			return err
		}
		spec, err := objectAt(v, "spec", "spec")
		if err != nil || spec == nil {
			return err
		}
		if w.Spec.Template, err = readTemplate(spec, "template", "spec."); err != nil {
			return err
		}
		vcts, err := arrayAt(spec, "volumeClaimTemplates", "spec.volumeClaimTemplates")
		if err != nil {
			return err
		}
		for i, vct := range vcts {
			p := fmt.Sprintf("spec.volumeClaimTemplates[%d]", i)
			if vct.Type() != fastjson.TypeObject {
				return typeError(p, "an object", vct)
			}
			m, err := readMeta(vct, p+".")
			if err != nil {
				return err
			}
			w.Spec.VolumeClaimTemplates = append(w.Spec.VolumeClaimTemplates, struct {
				Metadata objectMeta `json:"metadata"`
			}{Metadata: m})
		}
		jt, err := objectAt(spec, "jobTemplate", "spec.jobTemplate")
		if err != nil || jt == nil {
			return err
		}
		jspec, err := objectAt(jt, "spec", "spec.jobTemplate.spec")
		if err != nil || jspec == nil {
			return err
		}
		tmpl, err := readTemplate(jspec, "template", "spec.jobTemplate.spec.")
		if err != nil {
			return err
		}
		w.Spec.JobTemplate = &jobTemplate{}
		w.Spec.JobTemplate.Spec.Template = tmpl
		return nil
	})
	return w, err
}

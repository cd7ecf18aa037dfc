package webhook

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"

	"github.com/valyala/fastjson"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The AdmissionReview envelope is read with a pooled fastjson parser: decoding it with encoding/json cost
// more than evaluating the policies on the pod inside it. Only the fields the handler uses are read, each with
// its type checked; the object and old object are handed to the engine as the parsed values they are, so a
// review is parsed once. When it cannot read a body, the handler falls back to encoding/json, so a malformed
// review gets the same answer as before.

var reviewParsers fastjson.ParserPool

// scratch holds one review's body and the parser whose values point into it. Every review needs a few KiB,
// so they are pooled and reused once the answer is written; the parsed object stays valid until then.
type scratch struct {
	body   []byte
	parser *fastjson.Parser
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// maxPooled keeps an unusually large review's buffers out of the pool.
const maxPooled = 256 << 10

func (sc *scratch) release() {
	if sc.parser != nil {
		reviewParsers.Put(sc.parser)
		sc.parser = nil
	}
	if cap(sc.body) > maxPooled {
		return
	}
	sc.body = sc.body[:0]
	scratches.Put(sc)
}

// readBody reads the body up to MaxBodyBytes into sc.body, sized by Content-Length when the client sent one
// (the API server does).
func (sc *scratch) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	buf := bytes.NewBuffer(sc.body[:0])
	if n := r.ContentLength; n > 0 && n <= MaxBodyBytes {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	sc.body = buf.Bytes()
	return sc.body, err
}

// decodeReview reads an AdmissionReview: apiVersion, kind, and of the request its uid, kind, operation,
// namespace, name, dryRun, object and oldObject. The caller checks the version and that a request came.
func decodeReview(body []byte, sc *scratch) (*review, error) {
	// The parser reads lazily and would let through what it never looks at (a control character in an unused
	// field's string); the validator checks the whole body, as the API server's JSON always passes.
	if err := fastjson.ValidateBytes(body); err != nil {
		return nil, notAReview(err)
	}
	if sc.parser == nil {
		sc.parser = reviewParsers.Get()
	}
	v, err := sc.parser.ParseBytes(body)
	if err != nil {
		return nil, notAReview(err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, notAReview(fmt.Errorf("want a JSON object, got %s", v.Type()))
	}
	rv := &review{}
	if rv.APIVersion, err = stringField(v, "apiVersion", ""); err != nil {
		return nil, notAReview(err)
	}
	if rv.Kind, err = stringField(v, "kind", ""); err != nil {
		return nil, notAReview(err)
	}
	rq := present(v, "request")
	if rq == nil {
		return rv, nil
	}
	if rq.Type() != fastjson.TypeObject {
		return nil, notAReview(fmt.Errorf("request: want an object, got %s", rq.Type()))
	}
	if rv.Request, rv.object, rv.oldObject, err = decodeRequest(rq); err != nil {
		return nil, notAReview(err)
	}
	return rv, nil
}

func notAReview(err error) error {
	return fmt.Errorf("%w: body is not an AdmissionReview: %w", errBadRequest, err)
}

// decodeRequest reads the request; the object and old object are returned as parsed values, not copied.
func decodeRequest(rq *fastjson.Value) (r *admissionv1.AdmissionRequest, object, oldObject *fastjson.Value, err error) {
	r = &admissionv1.AdmissionRequest{}
	uid, err := stringField(rq, "uid", "request.")
	if err != nil {
		return nil, nil, nil, err
	}
	r.UID = types.UID(uid)
	if k := present(rq, "kind"); k != nil {
		if k.Type() != fastjson.TypeObject {
			return nil, nil, nil, fmt.Errorf("request.kind: want an object, got %s", k.Type())
		}
		for _, f := range []struct {
			key string
			dst *string
		}{{"group", &r.Kind.Group}, {"version", &r.Kind.Version}, {"kind", &r.Kind.Kind}} {
			if *f.dst, err = stringField(k, f.key, "request.kind."); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	var op string
	for _, f := range []struct {
		key string
		dst *string
	}{{"operation", &op}, {"namespace", &r.Namespace}, {"name", &r.Name}, {"subResource", &r.SubResource}} {
		if *f.dst, err = stringField(rq, f.key, "request."); err != nil {
			return nil, nil, nil, err
		}
	}
	if u := present(rq, "userInfo"); u != nil {
		if err := decodeUser(u, &r.UserInfo); err != nil {
			return nil, nil, nil, err
		}
	}
	r.Operation = admissionv1.Operation(op)
	if d := present(rq, "dryRun"); d != nil {
		b, err := d.Bool()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("request.dryRun: want a boolean, got %s", d.Type())
		}
		r.DryRun = &b
	}
	return r, present(rq, "object"), present(rq, "oldObject"), nil
}

// decodeUser reads request.userInfo's username and groups, the identity the policies check.
func decodeUser(u *fastjson.Value, dst *authenticationv1.UserInfo) error {
	if u.Type() != fastjson.TypeObject {
		return fmt.Errorf("request.userInfo: want an object, got %s", u.Type())
	}
	var err error
	if dst.Username, err = stringField(u, "username", "request.userInfo."); err != nil {
		return err
	}
	g := present(u, "groups")
	if g == nil {
		return nil
	}
	if g.Type() != fastjson.TypeArray {
		return fmt.Errorf("request.userInfo.groups: want an array, got %s", g.Type())
	}
	items, _ := g.Array()
	dst.Groups = make([]string, len(items))
	for i, it := range items {
		b, err := it.StringBytes()
		if err != nil {
			return fmt.Errorf("request.userInfo.groups[%d]: want a string, got %s", i, it.Type())
		}
		dst.Groups[i] = string(b)
	}
	return nil
}

// present returns v[key], or nil when it is absent or null.
func present(v *fastjson.Value, key string) *fastjson.Value {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil
	}
	return f
}

// stringField returns v[key] ("" when absent or null), or an error naming prefix+key when it is not a string.
func stringField(v *fastjson.Value, key, prefix string) (string, error) {
	f := present(v, key)
	if f == nil {
		return "", nil
	}
	b, err := f.StringBytes()
	if err != nil {
		return "", fmt.Errorf("%s%s: want a string, got %s", prefix, key, f.Type())
	}
	return string(b), nil
}

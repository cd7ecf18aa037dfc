package native

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"

	"github.com/mpcguard/mpcguard/policies/native"
)

// outcome is what the API server answered a request.
type outcome struct {
	code int // HTTP status: 200/201 allowed, 403 denied by admission, 422 invalid before admission...
	// denied are the policy ids in the denial; warned the ids in the warnings. Only ids with a native form
	// count: the webhook runs with the others off.
	denied, warned []string
	message        string
	// unnamed are warnings that name no policy id (an expression that failed to evaluate).
	unnamed []string
}

func (o outcome) allowed() bool { return o.code/100 == 2 }

var idPattern = regexp.MustCompile(`\[([a-z0-9-]+)\] `)

// ids are the native policy ids named as "[id] " in a message, sorted, each once.
func ids(msg string) []string {
	var out []string
	for _, m := range idPattern.FindAllStringSubmatch(msg, -1) {
		if native.Covers(m[1]) && !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// sender sends requests to the API server with the administrator's credentials, as raw HTTP so that each
// response's warnings stay with it.
type sender struct {
	client *http.Client
	host   string
}

func newSender(cfg *rest.Config) (*sender, error) {
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("an HTTP client for the API server: %w", err)
	}
	return &sender{client: c, host: strings.TrimSuffix(cfg.Host, "/")}, nil
}

// do sends one request as the administrator; dryRun=All runs admission and persists nothing.
func (s *sender) do(ctx context.Context, method, path string, body []byte, dryRun bool) (outcome, []byte, error) {
	return s.doAs(ctx, nil, method, path, body, dryRun)
}

// doAs sends one request as who (nil: the administrator), impersonated with the administrator's credentials;
// an impersonated user is also in system:masters.
func (s *sender) doAs(ctx context.Context, who *identity, method, path string, body []byte, dryRun bool) (outcome, []byte, error) {
	url := s.host + path + "?fieldValidation=Strict"
	if dryRun {
		url += "&dryRun=All"
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return outcome{}, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if who != nil {
		req.Header.Set("Impersonate-User", who.user)
		for _, g := range append([]string{"system:masters"}, who.groups...) {
			req.Header.Add("Impersonate-Group", g)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return outcome{}, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{}, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	o := outcome{code: resp.StatusCode}
	warnings, _ := utilnet.ParseWarningHeaders(resp.Header.Values("Warning"))
	var texts []string
	for _, w := range warnings {
		texts = append(texts, w.Text)
		if len(idPattern.FindStringSubmatch(w.Text)) == 0 {
			o.unnamed = append(o.unnamed, w.Text)
		}
	}
	o.warned = ids(strings.Join(texts, "\n"))
	if !o.allowed() {
		var st metav1.Status
		if err := json.Unmarshal(raw, &st); err == nil {
			o.message = st.Message
		} else {
			o.message = string(raw)
		}
		if o.code == http.StatusForbidden {
			o.denied = ids(o.message)
		}
	}
	return o, raw, nil
}

// sendAll sends every request with dryRun=All, eight at a time, and returns the outcomes in request order.
func (s *sender) sendAll(ctx context.Context, reqs []request) ([]outcome, error) {
	out := make([]outcome, len(reqs))
	errs := make([]error, len(reqs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], _, errs[i] = s.doAs(ctx, reqs[i].as, reqs[i].method, reqs[i].path, reqs[i].body, true)
			}
		}()
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("request %q: %w", reqs[i].name, err)
		}
	}
	return out, nil
}

// prepare makes the body of each PUT from the stored object: read it, apply the request's change.
func (s *sender) prepare(ctx context.Context, reqs []request) error {
	for i := range reqs {
		r := &reqs[i]
		if r.mutate == nil {
			continue
		}
		o, raw, err := s.do(ctx, http.MethodGet, r.path, nil, false)
		if err != nil {
			return err
		}
		if !o.allowed() {
			return fmt.Errorf("reading %s for %q: %d %s", r.path, r.name, o.code, o.message)
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("decoding %s: %w", r.path, err)
		}
		r.mutate(obj)
		if r.body, err = json.Marshal(obj); err != nil {
			return fmt.Errorf("encoding %s: %w", r.path, err)
		}
	}
	return nil
}

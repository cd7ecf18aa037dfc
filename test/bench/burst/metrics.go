package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// scrape is the API server's /metrics in the Prometheus text format, as samples.
type scrape []sample

// sample is one line: a metric name, its labels and its value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrapeMetrics reads /metrics with the cluster's administrator credentials.
func scrapeMetrics(ctx context.Context, cs kubernetes.Interface) (scrape, error) {
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scraping the API server's /metrics: %w", err)
	}
	return parseText(string(body))
}

// scrapeURL reads a plain HTTP /metrics (the webhook's, on 127.0.0.1).
func scrapeURL(ctx context.Context, url string) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: status %d: %w", url, resp.StatusCode, err)
	}
	return parseText(string(body))
}

// parseText reads the text exposition format: comments are skipped, each other line is
// name{label="value",...} value [timestamp].
func parseText(text string) (scrape, error) {
	var out scrape
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			s.name = line[:i]
			var err error
			if rest, err = parseLabels(line[i+1:], s.labels); err != nil {
				return nil, fmt.Errorf("metrics line %q: %w", line, err)
			}
		} else if i >= 0 {
			s.name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics line %q has no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	return out, nil
}

// parseLabels reads `a="x",b="y"}` into labels and returns what follows the closing brace.
func parseLabels(s string, labels map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return "", fmt.Errorf("malformed label at %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var b strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default:
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(s[i])
		}
		if i == len(s) {
			return "", fmt.Errorf("unterminated label value of %s", key)
		}
		labels[key] = b.String()
		s = s[i+1:]
	}
}

// matcher selects series by label values.
type matcher func(labels map[string]string) bool

func labelsIn(key string, values ...string) matcher {
	return func(l map[string]string) bool { return slices.Contains(values, l[key]) }
}

func all(ms ...matcher) matcher {
	return func(l map[string]string) bool {
		for _, m := range ms {
			if !m(l) {
				return false
			}
		}
		return true
	}
}

// sum adds the values of name's series that match.
func (s scrape) sum(name string, m matcher) float64 {
	var total float64
	for _, x := range s {
		if x.name == name && m(x.labels) {
			total += x.value
		}
	}
	return total
}

// buckets adds the cumulative buckets of histogram name's matching series, by upper bound.
func (s scrape) buckets(name string, m matcher) map[float64]float64 {
	out := map[float64]float64{}
	for _, x := range s {
		if x.name != name+"_bucket" || !m(x.labels) {
			continue
		}
		le, err := strconv.ParseFloat(x.labels["le"], 64)
		if err != nil {
			continue
		}
		out[le] += x.value
	}
	return out
}

// histogram is a histogram's observations between two scrapes.
type histogram struct {
	buckets map[float64]float64 // upper bound -> cumulative count
	count   float64
	sum     float64
}

// deltaHistogram is histogram name (matching series summed) of after minus before.
func deltaHistogram(before, after scrape, name string, m matcher) histogram {
	h := histogram{buckets: after.buckets(name, m)}
	for le, v := range before.buckets(name, m) {
		h.buckets[le] -= v
	}
	h.count = after.sum(name+"_count", m) - before.sum(name+"_count", m)
	h.sum = after.sum(name+"_sum", m) - before.sum(name+"_sum", m)
	return h
}

// quantile is PromQL's histogram_quantile: the bucket holding rank q*count, interpolated linearly within
// it (from 0 for the first bucket); a rank in the +Inf bucket gives the highest finite bound. NaN when empty.
func (h histogram) quantile(q float64) float64 {
	bounds := make([]float64, 0, len(h.buckets))
	for le := range h.buckets {
		bounds = append(bounds, le)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 || !math.IsInf(bounds[len(bounds)-1], 1) {
		return math.NaN()
	}
	total := h.buckets[math.Inf(1)]
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, le := range bounds {
		n := h.buckets[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return lower
			}
			if n == below {
				return le
			}
			return lower + (le-lower)*(rank-below)/(n-below)
		}
		lower, below = le, n
	}
	return lower
}

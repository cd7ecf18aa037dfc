package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Summary is one server at one concurrency over every round.
type Summary struct {
	Server      string `json:"server"`
	Concurrency int    `json:"concurrency"`
	Rounds      int    `json:"rounds"`
	Requests    int    `json:"requests"`
	Errors      int    `json:"errors"`
	Mismatches  int    `json:"mismatches"`
	// Throughput is every round's requests over every round's time; Min and Max are the rounds' extremes.
	Throughput    float64 `json:"throughput_rps"`
	ThroughputMin float64 `json:"throughput_min_rps"`
	ThroughputMax float64 `json:"throughput_max_rps"`
	// Latency percentiles over every request of every round.
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	// PeakRSS is the highest VmHWM of the rounds, in bytes.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// CPUPerRequest is the server's CPU time per request (user + system, all threads).
	CPUPerRequest time.Duration `json:"server_cpu_per_request_ns"`
}

// Summarize pools the cells by server and concurrency, in the order of servers and concurrencies given.
func Summarize(cells []Cell, servers []string, concurrencies []int) []Summary {
	var out []Summary
	for _, c := range concurrencies {
		for _, name := range servers {
			s := Summary{Server: name, Concurrency: c, ThroughputMin: math.Inf(1)}
			var lat []time.Duration
			var elapsed, cpu time.Duration
			for _, cell := range cells {
				if cell.Server != name || cell.Concurrency != c {
					continue
				}
				s.Rounds++
				s.Requests += cell.Requests
				s.Errors += cell.Errors
				s.Mismatches += cell.Mismatches
				elapsed += cell.Elapsed
				cpu += cell.CPU
				s.PeakRSS = max(s.PeakRSS, cell.PeakRSS)
				rps := float64(cell.Requests) / cell.Elapsed.Seconds()
				s.ThroughputMin = min(s.ThroughputMin, rps)
				s.ThroughputMax = max(s.ThroughputMax, rps)
				lat = append(lat, cell.Latencies...)
			}
			if s.Rounds == 0 {
				continue
			}
			s.Throughput = float64(s.Requests) / elapsed.Seconds()
			if s.Requests > 0 {
				s.CPUPerRequest = cpu / time.Duration(s.Requests)
			}
			slices.Sort(lat)
			s.P50, s.P99, s.P999 = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 0.999)
			out = append(out, s)
		}
	}
	return out
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Ratio compares mpcguard with another server at one concurrency: mpcguard's value over the other's.
type Ratio struct {
	Concurrency int     `json:"concurrency"`
	Versus      string  `json:"versus"`
	Throughput  float64 `json:"throughput"`
	P99         float64 `json:"p99"`
}

// Ratios are mpcguard/OPA and mpcguard/no-op throughput and p99 at each concurrency.
func Ratios(sums []Summary, concurrencies []int) []Ratio {
	find := func(name string, c int) *Summary {
		i := slices.IndexFunc(sums, func(s Summary) bool { return s.Server == name && s.Concurrency == c })
		if i < 0 {
			return nil
		}
		return &sums[i]
	}
	var out []Ratio
	for _, c := range concurrencies {
		m := find(Mpcguard, c)
		if m == nil {
			continue
		}
		for _, other := range []string{OPA, Noop} {
			o := find(other, c)
			if o == nil || o.Throughput == 0 || o.P99 == 0 {
				continue
			}
			out = append(out, Ratio{Concurrency: c, Versus: other, Throughput: m.Throughput / o.Throughput,
				P99: float64(m.P99) / float64(o.P99)})
		}
	}
	return out
}

// Identity is the decision check: mpcguard and OPA on the verification pass and on every load request.
type Identity struct {
	// Items is the number of reviews in the mix; Verified how many of them both servers decided identically
	// when each was sent once.
	Items    int `json:"items"`
	Verified int `json:"verified"`
	// Compared is how many load answers of mpcguard and OPA were checked against the verified decisions, and
	// Mismatches how many differed.
	Compared   int      `json:"compared"`
	Mismatches int      `json:"mismatches"`
	Samples    []string `json:"samples,omitempty"`
	// NoopAnswers were all checked to be plain allows; NoopMismatches were not.
	NoopAnswers    int `json:"noop_answers"`
	NoopMismatches int `json:"noop_mismatches"`
}

// Settings describe a run, for the report's header.
type Settings struct {
	Duration      time.Duration `json:"duration_ns"`
	MaxRequests   int           `json:"max_requests"`
	Rounds        int           `json:"rounds"`
	Concurrencies []int         `json:"concurrencies"`
	Items         int           `json:"mix_items"`
	CPUs          int           `json:"cpus"`
	GoVersion     string        `json:"go_version"`
	Servers       []string      `json:"servers"`
	// Commands are the server command lines.
	Commands map[string]string `json:"commands"`
}

// Report is a whole run.
type Report struct {
	Settings  Settings  `json:"settings"`
	Summaries []Summary `json:"summaries"`
	Ratios    []Ratio   `json:"ratios"`
	Decisions Identity  `json:"decisions"`
	Cells     []Cell    `json:"cells"`
}

// WriteTable writes the report as markdown tables.
func (r Report) WriteTable(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "## Side by side: mpcguard, OPA server, no-op\n\n")
	fmt.Fprintf(w, "%d rounds; per cell %s or %d requests, whichever first; %d-review mix over TLS, one HTTP/1.1 "+
		"keep-alive connection per client; client and servers share %d CPUs (%s).\n\n",
		s.Rounds, s.Duration, s.MaxRequests, s.Items, s.CPUs, s.GoVersion)
	fmt.Fprintln(w, "| server | conc | req/s | req/s range (rounds) | p50 | p99 | p99.9 | server CPU/req | peak RSS | requests | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Summaries {
		fmt.Fprintf(w, "| %s | %d | %s | %s–%s | %s | %s | %s | %s | %s | %d | %d |\n",
			x.Server, x.Concurrency, rps(x.Throughput), rps(x.ThroughputMin), rps(x.ThroughputMax),
			ms(x.P50), ms(x.P99), ms(x.P999), us(x.CPUPerRequest), mib(x.PeakRSS), x.Requests, x.Errors)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| conc | mpcguard/OPA req/s | mpcguard/OPA p99 | mpcguard/no-op req/s | mpcguard/no-op p99 |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|")
	for _, c := range s.Concurrencies {
		row := []string{fmt.Sprint(c)}
		for _, other := range []string{OPA, Noop} {
			i := slices.IndexFunc(r.Ratios, func(x Ratio) bool { return x.Concurrency == c && x.Versus == other })
			if i < 0 {
				row = append(row, "–", "–")
				continue
			}
			row = append(row, fmt.Sprintf("%.2f×", r.Ratios[i].Throughput), fmt.Sprintf("%.2f×", r.Ratios[i].P99))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintln(w)
	d := r.Decisions
	verdict := "IDENTICAL"
	if d.Verified != d.Items || d.Mismatches > 0 {
		verdict = "DIFFERENT"
	}
	fmt.Fprintf(w, "Decisions (allowed, denial messages, warnings), mpcguard vs OPA: %s — %d/%d reviews identical "+
		"when sent once; %d of %d load answers differed from them.\n", verdict, d.Verified, d.Items, d.Mismatches, d.Compared)
	fmt.Fprintf(w, "No-op: %d of %d answers were not a plain allow.\n", d.NoopMismatches, d.NoopAnswers)
	for _, m := range d.Samples {
		fmt.Fprintf(w, "\n  %s", strings.ReplaceAll(m, "\n", "\n  "))
	}
	if len(d.Samples) > 0 {
		fmt.Fprintln(w)
	}
	var errs []string
	for _, c := range r.Cells {
		errs = append(errs, c.ErrorSamples...)
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nFirst errors:\n")
		for _, e := range errs[:min(len(errs), maxSamples)] {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

func rps(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func mib(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// SortCells orders cells by round, concurrency and server, for the JSON output.
func SortCells(cells []Cell, servers []string) {
	slices.SortStableFunc(cells, func(a, b Cell) int {
		return cmp.Or(cmp.Compare(a.Round, b.Round), cmp.Compare(a.Concurrency, b.Concurrency),
			cmp.Compare(slices.Index(servers, a.Server), slices.Index(servers, b.Server)))
	})
}

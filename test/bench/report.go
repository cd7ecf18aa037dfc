package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
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
	// ClientCPUPerRequest is the load generator's CPU time per request.
	ClientCPUPerRequest time.Duration `json:"client_cpu_per_request_ns"`
}

// Summarize pools the cells by server and concurrency, in the order of servers and concurrencies given.
func Summarize(cells []Cell, servers []string, concurrencies []int) []Summary {
	var out []Summary
	for _, c := range concurrencies {
		for _, name := range servers {
			s := Summary{Server: name, Concurrency: c, ThroughputMin: math.Inf(1)}
			var lat []time.Duration
			var elapsed, cpu, clientCPU time.Duration
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
				clientCPU += cell.ClientCPU
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
				s.ClientCPUPerRequest = clientCPU / time.Duration(s.Requests)
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

// Versus are the servers mpcguard is compared with, in the report's order.
var Versus = []string{MpcguardUncached, OPADirect, OPA, Floor, Noop}

// Ratios are mpcguard's throughput and p99 over each other server's ([Versus]) at each concurrency.
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
		for _, other := range Versus {
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
	// Scaling are the further concurrencies at which only ScalingServers are loaded.
	Scaling        []int    `json:"scaling_concurrencies,omitempty"`
	ScalingServers []string `json:"scaling_servers,omitempty"`
	// PinServers and PinClient are the CPUs the servers and the load generator were pinned to (none: unpinned).
	PinServers []int `json:"pin_servers,omitempty"`
	PinClient  []int `json:"pin_client,omitempty"`
	// LoadAverage is the 1-minute load average before the run, for the reader to judge the noise.
	LoadAverage string `json:"load_average"`
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
	fmt.Fprintf(w, "## Side by side: mpcguard (memoised; uncached), OPA server (rules on input.request; modules behind a wrapper), floor, no-op\n\n")
	pin := "client and servers share them, unpinned"
	if len(s.PinServers) > 0 || len(s.PinClient) > 0 {
		pin = fmt.Sprintf("servers pinned to CPUs %v, the load generator to %v", s.PinServers, s.PinClient)
	}
	fmt.Fprintf(w, "%d rounds; per cell %s or %d requests, whichever first; %d-review mix over TLS, one HTTP/1.1 "+
		"keep-alive connection per client; %d CPUs, %s; load average %s before the run (%s).\n\n",
		s.Rounds, s.Duration, s.MaxRequests, s.Items, s.CPUs, pin, s.LoadAverage, s.GoVersion)
	WriteSummaries(w, r.Summaries)
	fmt.Fprintln(w)
	head, rule := []string{"conc"}, []string{"---:"}
	for _, other := range Versus {
		head = append(head, "mpcguard/"+other+" req/s", "mpcguard/"+other+" p99")
		rule = append(rule, "---:", "---:")
	}
	fmt.Fprintf(w, "| %s |\n|%s|\n", strings.Join(head, " | "), strings.Join(rule, "|"))
	for _, c := range s.Concurrencies {
		row := []string{fmt.Sprint(c)}
		for _, other := range Versus {
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
	fmt.Fprintf(w, "Decisions (allowed, denial messages, warnings), mpcguard vs mpcguard-uncached and both OPA set-ups: %s — %d/%d reviews "+
		"identical when sent once; %d of %d load answers differed from them.\n", verdict, d.Verified, d.Items, d.Mismatches, d.Compared)
	fmt.Fprintf(w, "No-op and floor: %d of %d answers were not a plain allow.\n", d.NoopMismatches, d.NoopAnswers)
	r.writeScaling(w)
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

// WriteSummaries writes the main table: one row per server and concurrency.
func WriteSummaries(w io.Writer, sums []Summary) {
	fmt.Fprintln(w, "| server | conc | req/s | req/s range (rounds) | p50 | p99 | p99.9 | server CPU/req | client CPU/req | peak RSS | requests | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range sums {
		fmt.Fprintf(w, "| %s | %d | %s | %s–%s | %s | %s | %s | %s | %s | %s | %d | %d |\n",
			x.Server, x.Concurrency, rps(x.Throughput), rps(x.ThroughputMin), rps(x.ThroughputMax),
			ms(x.P50), ms(x.P99), ms(x.P999), us(x.CPUPerRequest), us(x.ClientCPUPerRequest), mib(x.PeakRSS), x.Requests, x.Errors)
	}
}

// writeScaling writes throughput and p99 of the scaling servers at every concurrency they were loaded at.
func (r Report) writeScaling(w io.Writer) {
	s := r.Settings
	if len(s.Scaling) == 0 {
		return
	}
	concs := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(s.Concurrencies), s.Scaling...))))
	fmt.Fprintln(w)
	WriteScaling(w, r.Summaries, s.ScalingServers, concs)
}

// WriteScaling writes the scaling table: per server, throughput, p99 and server CPU per request at each
// concurrency ("–" where it was not loaded).
func WriteScaling(w io.Writer, sums []Summary, servers []string, concs []int) {
	fmt.Fprintf(w, "Scaling (req/s, p99, server CPU/req by concurrent clients):\n\n| server |")
	for _, c := range concs {
		fmt.Fprintf(w, " %d |", c)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---:|", len(concs)))
	for _, name := range servers {
		fmt.Fprintf(w, "| %s |", name)
		for _, c := range concs {
			i := slices.IndexFunc(sums, func(x Summary) bool { return x.Server == name && x.Concurrency == c })
			if i < 0 {
				fmt.Fprint(w, " – |")
				continue
			}
			x := sums[i]
			fmt.Fprintf(w, " %s req/s, %s, %s |", rps(x.Throughput), ms(x.P99), us(x.CPUPerRequest))
		}
		fmt.Fprintln(w)
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

// ParseCounts reads a comma-separated list of positive numbers (concurrency levels, rounds) from a flag.
func ParseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mpcguard/mpcguard/test/bench"
	"github.com/mpcguard/mpcguard/test/cluster"
)

// errFailed means the run completed but decisions differed or requests failed.
var errFailed = errors.New("decisions differed or requests failed")

type options struct {
	duration       time.Duration
	rounds         int
	maxRequests    int
	concurrencies  []int
	scaling        []int
	scalingServers []string
	pinServers     []int
	pinClient      []int
	output         string
	servers        []string
	mpcguardBin    string
	opaBin         string
}

func main() {
	var (
		o           options
		concurrency string
		servers     string
		scaling     string
		scalingSrv  string
		pinServers  string
		pinClient   string
	)
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "time per cell (one server at one concurrency in one round)")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	flag.IntVar(&o.maxRequests, "max-requests", 100000, "requests per cell at most (0: bounded by --duration only)")
	flag.StringVar(&concurrency, "concurrency", "1,16,64", "comma-separated concurrencies (connections) at which every server is loaded")
	flag.StringVar(&scaling, "scaling", "", "further concurrencies at which only --scaling-servers are loaded (a scaling curve), e.g. 4,256")
	flag.StringVar(&scalingSrv, "scaling-servers", bench.Mpcguard, "servers loaded at the --scaling concurrencies too")
	flag.StringVar(&pinServers, "pin-servers", "", "CPUs to pin every server to, e.g. 1 (default: unpinned)")
	flag.StringVar(&pinClient, "pin-client", "", "CPUs to pin the load generator to, e.g. 0 (default: unpinned)")
	flag.StringVar(&o.output, "o", "table", "output: table (markdown) or json")
	flag.StringVar(&servers, "servers", strings.Join(bench.AllServers, ","), "servers to load")
	flag.StringVar(&o.mpcguardBin, "mpcguard", "", "mpcguard binary (default $MPCGUARD_BIN, else ./cmd/mpcguard installed into the tool cache)")
	flag.StringVar(&o.opaBin, "opa", "", "opa binary (default the tool cache's, built by test/tools/build.sh if missing)")
	flag.Parse()
	var err error
	if o.concurrencies, err = bench.ParseCounts(concurrency); err != nil {
		fail(2, fmt.Errorf("--concurrency: %w", err))
	}
	if scaling != "" {
		if o.scaling, err = bench.ParseCounts(scaling); err != nil {
			fail(2, fmt.Errorf("--scaling: %w", err))
		}
	}
	o.scalingServers = strings.Split(scalingSrv, ",")
	if pinServers != "" {
		if o.pinServers, err = parseCPUs(pinServers); err != nil {
			fail(2, fmt.Errorf("--pin-servers: %w", err))
		}
	}
	if pinClient != "" {
		if o.pinClient, err = parseCPUs(pinClient); err != nil {
			fail(2, fmt.Errorf("--pin-client: %w", err))
		}
	}
	o.servers = strings.Split(servers, ",")
	switch {
	case o.output != "table" && o.output != "json":
		fail(2, fmt.Errorf("-o %q: want table or json", o.output))
	case o.rounds < 1 || o.duration <= 0 || o.maxRequests < 0:
		fail(2, errors.New("--rounds, --duration must be positive and --max-requests not negative"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = run(ctx, o)
	switch {
	case ctx.Err() != nil:
		fail(130, errors.New("interrupted"))
	case errors.Is(err, errFailed):
		fail(1, err)
	case err != nil:
		fail(1, err)
	}
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "sidebyside:", err)
	os.Exit(code)
}

func parseCPUs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a CPU number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func run(ctx context.Context, o options) (err error) {
	// A run killed before it could clean up leaves its directory (its servers die with it, by Pdeathsig; the
	// certificates and OPA's files stay): the next run removes it.
	dir, err := cluster.OwnedTempDir("mpcguard-sidebyside-")
	if err != nil {
		return fmt.Errorf("creating a working directory: %w", err)
	}
	defer os.RemoveAll(dir)
	srvs, err := bench.Start(ctx, bench.Options{Dir: dir, Servers: o.servers, MpcguardBin: o.mpcguardBin,
		OPABin: o.opaBin, Progress: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := srvs.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	load := bench.LoadAverage()
	if len(o.pinServers) > 0 {
		for _, s := range srvs.List {
			if err := bench.Pin(s.Pid(), o.pinServers); err != nil {
				return err
			}
		}
	}
	if len(o.pinClient) > 0 {
		if err := bench.Pin(0, o.pinClient); err != nil {
			return err
		}
	}
	mix, err := bench.Mix()
	if err != nil {
		return err
	}
	targets, identity, err := verify(ctx, srvs, mix)
	if err != nil {
		return err
	}
	rep := bench.Report{Settings: bench.Settings{Duration: o.duration, MaxRequests: o.maxRequests, Rounds: o.rounds,
		Concurrencies: o.concurrencies, Items: len(mix), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Servers: o.servers, Commands: map[string]string{}, Scaling: o.scaling, ScalingServers: o.scalingServers,
		PinServers: o.pinServers, PinClient: o.pinClient, LoadAverage: load}}
	for _, s := range srvs.List {
		rep.Settings.Commands[s.Name] = s.Bin + " " + strings.Join(s.Args, " ")
	}
	// Every server at each --concurrency; the scaling servers also at each --scaling concurrency.
	concs := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(o.concurrencies), o.scaling...))))
	loaded := func(name string, c int) bool {
		return slices.Contains(o.concurrencies, c) || slices.Contains(o.scalingServers, name)
	}
	total := 0
	for _, c := range concs {
		for _, s := range srvs.List {
			if loaded(s.Name, c) {
				total += o.rounds
			}
		}
	}
	n := 0
	for r := range o.rounds {
		for _, c := range concs {
			for i := range srvs.List {
				// The server order rotates by round, so no server always runs right after another.
				srv := srvs.List[(i+r)%len(srvs.List)]
				if !loaded(srv.Name, c) {
					continue
				}
				n++
				cell, err := bench.RunCell(ctx, srvs.CAPEM, targets[srv.Name], mix, bench.CellOptions{
					Concurrency: c, Duration: o.duration, MaxRequests: o.maxRequests, Round: r + 1})
				if err != nil {
					return err
				}
				progress("[%d/%d] round %d  c=%-3d %-10s %6.0f req/s  %6d requests  %d errors  %d mismatches  peak RSS %.1f MiB",
					n, total, r+1, c, srv.Name, float64(cell.Requests)/cell.Elapsed.Seconds(), cell.Requests,
					cell.Errors, cell.Mismatches, float64(cell.PeakRSS)/(1<<20))
				rep.Cells = append(rep.Cells, cell)
				if slices.Contains(bench.Deciders, srv.Name) {
					identity.Compared += cell.Requests - cell.Errors
					identity.Mismatches += cell.Mismatches
					for _, m := range cell.MismatchSamples {
						if len(identity.Samples) < 5 {
							identity.Samples = append(identity.Samples, m)
						}
					}
				} else {
					identity.NoopAnswers += cell.Requests - cell.Errors
					identity.NoopMismatches += cell.Mismatches
				}
				// A moment for the last round's connections to close and its garbage to be collected.
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	names := make([]string, 0, len(srvs.List))
	for _, s := range bench.AllServers {
		if srvs.Get(s) != nil {
			names = append(names, s)
		}
	}
	bench.SortCells(rep.Cells, names)
	rep.Summaries = bench.Summarize(rep.Cells, names, concs)
	rep.Ratios = bench.Ratios(rep.Summaries, o.concurrencies)
	rep.Decisions = identity
	if o.output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	} else {
		rep.WriteTable(os.Stdout)
	}
	errs := 0
	for _, c := range rep.Cells {
		errs += c.Errors
	}
	if identity.Verified != identity.Items || identity.Mismatches > 0 || identity.NoopMismatches > 0 || errs > 0 {
		return errFailed
	}
	return nil
}

// verify sends the mix once to each server, compares each OPA set-up's decisions with mpcguard's, and returns
// the decision each server must give on each item under load: mpcguard's (or, without mpcguard, the first OPA
// set-up's) for the servers that apply the policies, plain allows for the no-op and the floor.
func verify(ctx context.Context, srvs *bench.Servers, mix []bench.Item) (map[string]bench.Target, bench.Identity, error) {
	id := bench.Identity{Items: len(mix), Verified: len(mix)}
	got := map[string][]bench.Decision{}
	for _, s := range srvs.List {
		d, err := bench.Verify(ctx, srvs.CAPEM, s, mix)
		if err != nil {
			return nil, id, err
		}
		got[s.Name] = d
	}
	var ref []bench.Decision
	refName := ""
	for _, name := range bench.Deciders {
		if got[name] != nil {
			ref, refName = got[name], name
			break
		}
	}
	if ref != nil {
		for i, it := range mix {
			if ref[i].Allowed != it.WantAllowed {
				progress("warning: %q was %s, the mix means it to be %s (did the policies change?)",
					it.Name, verdictWord(ref[i].Allowed), verdictWord(it.WantAllowed))
			}
		}
	}
	for _, name := range bench.Deciders {
		if name == refName || got[name] == nil {
			continue
		}
		ms := bench.Compare(mix, got[name], ref)
		id.Verified = min(id.Verified, len(mix)-len(ms))
		for _, m := range ms[:min(len(ms), 5)] {
			id.Samples = append(id.Samples, name+" vs "+refName+" on "+m.String())
		}
		progress("==> verification: %s and %s decide %d/%d reviews identically", refName, name, len(mix)-len(ms), len(mix))
	}
	targets := map[string]bench.Target{}
	for _, s := range srvs.List {
		want := ref
		if !slices.Contains(bench.Deciders, s.Name) {
			want = bench.Allows(mix)
			if ms := bench.Compare(mix, got[s.Name], want); len(ms) > 0 {
				return nil, id, fmt.Errorf("%s does not allow everything: %s", s.Name, ms[0])
			}
		}
		targets[s.Name] = bench.Target{Server: s, Want: want}
	}
	return targets, id, nil
}

func verdictWord(allowed bool) string {
	return map[bool]string{true: "allowed", false: "denied"}[allowed]
}

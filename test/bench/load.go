package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Target is a server under load and the decision it must give on each item of the mix.
type Target struct {
	Server *Server
	// Want is, per item of the mix, the decision every answer must equal: mpcguard's own answer from [Verify]
	// for mpcguard and OPA (so both decide identically on every request), [Allow] for the no-op.
	Want []Decision
}

// CellOptions bound one run.
type CellOptions struct {
	Concurrency int
	// Duration and MaxRequests bound the run: it ends at whichever comes first (MaxRequests 0: no count bound).
	Duration    time.Duration
	MaxRequests int
	Round       int
}

// Cell is one bounded run of one server at one concurrency.
type Cell struct {
	Server      string        `json:"server"`
	Concurrency int           `json:"concurrency"`
	Round       int           `json:"round"`
	Requests    int           `json:"requests"`
	Errors      int           `json:"errors"`
	Mismatches  int           `json:"mismatches"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	// PeakRSS is the server's VmHWM during the run (reset before it), in bytes; 0 when unknown.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// CPU is the server process's user + system time during the run.
	CPU time.Duration `json:"server_cpu_ns"`
	// ClientCPU is the load generator's own user + system time during the run (this process: the clients'
	// TLS, HTTP and answer checks), which shares the machine with the server unless both are pinned.
	ClientCPU time.Duration `json:"client_cpu_ns"`
	// Latencies of the requests answered, in the order they completed per worker.
	Latencies []time.Duration `json:"-"`
	// ErrorSamples and MismatchSamples are the first few of each.
	ErrorSamples    []string `json:"error_samples,omitempty"`
	MismatchSamples []string `json:"mismatch_samples,omitempty"`
}

const maxSamples = 5

// worker is one connection's share of a run.
type worker struct {
	latencies  []time.Duration
	errors     int
	mismatches int
	errSamples []string
	misSamples []string
	// seen remembers, per item, answer bodies already checked: a server's answers to one review are the
	// same bytes, so only the first of them is decoded.
	seen []map[string]bool
}

// RunCell loads the target with the mix over opts.Concurrency keep-alive connections, each worker sending
// the items in turn (starting at a different one), until opts.Duration has passed or opts.MaxRequests have
// been sent. Each connection is opened and used once before the clock starts, so no TLS handshake is timed.
func RunCell(ctx context.Context, caPEM []byte, t Target, mix []Item, opts CellOptions) (Cell, error) {
	if opts.Concurrency < 1 || len(mix) == 0 || len(t.Want) != len(mix) {
		return Cell{}, fmt.Errorf("bench: bad run: concurrency %d, %d items, %d wanted decisions",
			opts.Concurrency, len(mix), len(t.Want))
	}
	srv := t.Server
	workers := make([]*worker, opts.Concurrency)
	var (
		ready, done sync.WaitGroup
		start       = make(chan struct{})
		sent        atomic.Int64
		warmErr     = make(chan error, opts.Concurrency)
		runCtx, end = context.WithCancel(ctx)
	)
	defer end()
	limit := int64(opts.MaxRequests)
	for w := range workers {
		wk := &worker{seen: make([]map[string]bool, len(mix))}
		workers[w] = wk
		ready.Add(1)
		done.Go(func() {
			client := NewClientFor(caPEM, srv.ServerName)
			defer client.CloseIdleConnections()
			var buf bytes.Buffer
			first := mix[w%len(mix)]
			status, body, err := Send(runCtx, client, srv.URL, first.Body, &buf)
			if err == nil {
				_, err = ParseAnswer(status, body, first.UID)
			}
			if err != nil {
				warmErr <- fmt.Errorf("bench: %s: warm-up request: %w", srv.Name, err)
			}
			ready.Done()
			<-start
			for i := w; runCtx.Err() == nil; i++ {
				if limit > 0 && sent.Add(1) > limit {
					return
				}
				k := i % len(mix)
				item := mix[k]
				t0 := time.Now()
				status, body, err := Send(runCtx, client, srv.URL, item.Body, &buf)
				lat := time.Since(t0)
				if err != nil && runCtx.Err() != nil {
					return // the run ended while this request was in flight: it does not count
				}
				wk.latencies = append(wk.latencies, lat)
				wk.check(srv.Name, k, item, t.Want[k], status, body, err)
			}
		})
	}
	ready.Wait()
	select {
	case err := <-warmErr:
		end()
		close(start)
		done.Wait()
		return Cell{}, err
	default:
	}
	pids := srv.pids()
	for _, pid := range pids {
		if err := resetPeakRSS(pid); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: cannot reset the peak RSS of %d (%v): reporting the peak since start\n", srv.Name, pid, err)
		}
	}
	cpu0, cpuErr := cpuTimes(pids)
	client0, clientErr := selfCPU()
	t0 := time.Now()
	timer := time.AfterFunc(opts.Duration, end)
	defer timer.Stop()
	close(start)
	done.Wait()
	cell := Cell{Server: srv.Name, Concurrency: opts.Concurrency, Round: opts.Round, Elapsed: time.Since(t0)}
	if cpu1, err := cpuTimes(pids); err == nil && cpuErr == nil {
		cell.CPU = cpu1 - cpu0
	}
	if client1, err := selfCPU(); err == nil && clientErr == nil {
		cell.ClientCPU = client1 - client0
	}
	for _, pid := range pids {
		if rss, err := peakRSS(pid); err == nil {
			cell.PeakRSS += rss // several processes: the sum of their peaks
		}
	}
	n := 0
	for _, wk := range workers {
		n += len(wk.latencies)
	}
	cell.Latencies = make([]time.Duration, 0, n)
	for _, wk := range workers {
		cell.Latencies = append(cell.Latencies, wk.latencies...)
		cell.Errors += wk.errors
		cell.Mismatches += wk.mismatches
		cell.ErrorSamples = appendSamples(cell.ErrorSamples, wk.errSamples)
		cell.MismatchSamples = appendSamples(cell.MismatchSamples, wk.misSamples)
	}
	cell.Requests = n
	if err := ctx.Err(); err != nil {
		return cell, fmt.Errorf("bench: %s at concurrency %d: %w", srv.Name, opts.Concurrency, err)
	}
	return cell, nil
}

func appendSamples(dst, src []string) []string {
	for _, s := range src {
		if len(dst) >= maxSamples {
			break
		}
		dst = append(dst, s)
	}
	return dst
}

// check counts an answer as an error (transport, HTTP status, not an answer) or a mismatch (a decision other
// than want).
func (wk *worker) check(server string, k int, item Item, want Decision, status int, body []byte, err error) {
	if err == nil {
		if known, ok := wk.seen[k][string(body)]; ok {
			if !known {
				wk.mismatches++
			}
			return
		}
		var d Decision
		if d, err = ParseAnswer(status, body, item.UID); err == nil {
			match := d.Equal(want)
			if wk.seen[k] == nil {
				wk.seen[k] = map[string]bool{}
			}
			wk.seen[k][string(body)] = match
			if !match {
				wk.mismatches++
				if len(wk.misSamples) < maxSamples {
					wk.misSamples = append(wk.misSamples, fmt.Sprintf("%s: %s: got %s\n  want %s", server, item.Name, d, want))
				}
			}
			return
		}
	}
	wk.errors++
	if len(wk.errSamples) < maxSamples {
		wk.errSamples = append(wk.errSamples, fmt.Sprintf("%s: %s: %v", server, item.Name, err))
	}
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux 4.0+: "5" into clear_refs).
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// peakRSS is the process's VmHWM in bytes.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the status of %d: %w", pid, err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM of %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// selfCPU is this process's user + system time (every thread).
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// Pin restricts every thread of the process pid to the given CPUs (threads it starts later inherit it), as
// taskset -a -p does; pid 0 is this process.
func Pin(pid int, cpus []int) error {
	if pid == 0 {
		pid = os.Getpid()
	}
	var mask [16]uint64 // 1024 CPUs
	for _, c := range cpus {
		if c < 0 || c >= 64*len(mask) {
			return fmt.Errorf("bench: CPU %d out of range", c)
		}
		mask[c/64] |= 1 << (c % 64)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return fmt.Errorf("bench: the threads of %d: %w", pid, err)
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(mask),
			uintptr(unsafe.Pointer(&mask)))
		if errno != 0 && errno != syscall.ESRCH {
			return fmt.Errorf("bench: pinning thread %d of %d to CPUs %v: %w", tid, pid, cpus, errno)
		}
	}
	return nil
}

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ, 100 on every Linux Go runs on.
const clockTick = 10 * time.Millisecond

// cpuTimes is the user + system time of the processes together (none: 0).
func cpuTimes(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		t, err := cpuTime(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// cpuTime is the user + system time of the process (all its threads).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the stat of %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	// After the name: state(3) ... utime(14) stime(15), so indexes 11 and 12 here.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("utime/stime of %d: %w", pid, err)
	}
	return time.Duration(u+s) * clockTick, nil
}

package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a child in its own process group, its output in a log file. The kernel kills it if the process
// that started it dies (Pdeathsig), so not even a SIGKILLed test leaves it running.
type Process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error
}

// StartProcess starts bin with args in its own process group, killed by the kernel if this process dies;
// stdout and stderr are appended to logPath. Every process of the test harnesses (the cluster's components,
// the webhook, the registry, the benchmark's servers) is one of these.
func StartProcess(name, bin string, args []string, logPath string, env []string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited tells whether the process has exited (and been reaped).
func (p *Process) Exited() bool { return p.exited() }

// ExitError describes an early exit (its status and the end of its log), for a caller waiting on it.
func (p *Process) ExitError() error { return p.exitError() }

// Tail is the last n lines of the process's log.
func (p *Process) Tail(n int) string { return p.tail(n) }

// Stop sends SIGTERM to the process group and SIGKILL after grace; the error says when it had to be killed.
func (p *Process) Stop(grace time.Duration) error { return stopProcesses([]*Process{p}, grace) }

func (p *Process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes an early exit, with the end of the log.
func (p *Process) exitError() error {
	//nolint:errorlint // the exit status is nil after a clean exit, which is early all the same
	return fmt.Errorf("%s exited early (%v); the end of %s:\n%s", p.name, p.waitErr, p.logPath, p.tail(25))
}

// signalGroup signals the whole process group; a group that is gone already is no error.
func (p *Process) signalGroup(sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = p.cmd.Process.Signal(sig)
	}
}

// tail is the last n lines of the log.
func (p *Process) tail(n int) string { return TailFile(p.logPath, n) }

// TailFile is the last n lines of the file at path (a process's log), or why it cannot be read.
func TailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stopProcesses sends SIGTERM to every group at once, waits up to grace for each to exit, then SIGKILLs the
// groups still there. Every group gets a final SIGKILL, so no grandchild outlives its parent. The error names
// the processes that had to be killed.
func stopProcesses(procs []*Process, grace time.Duration) error {
	for _, p := range procs {
		p.signalGroup(syscall.SIGTERM)
	}
	deadline := time.After(grace)
	var killed []string
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline:
			deadline = closedTimeChan()
		}
		if !p.exited() {
			killed = append(killed, p.name)
			p.signalGroup(syscall.SIGKILL)
			<-p.done
		}
		p.signalGroup(syscall.SIGKILL) // grandchildren, if any
	}
	if len(killed) > 0 {
		return fmt.Errorf("killed after %s without exiting on SIGTERM: %s", grace, strings.Join(killed, ", "))
	}
	return nil
}

func closedTimeChan() <-chan time.Time {
	ch := make(chan time.Time)
	close(ch)
	return ch
}

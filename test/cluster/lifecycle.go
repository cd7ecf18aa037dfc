package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	tempPrefix = "mpcguard-cluster-"
	ownerFile  = "owner.pid"
)

// OwnedTempDir creates a temporary directory prefix+random that names this process as its owner. It first
// removes the directories of that prefix left by owners that are gone (killed before they could clean up: their
// children died with them through Pdeathsig, only the directory remained), and those without an owner that are
// over an hour old. The caller removes the directory when it is done.
func OwnedTempDir(prefix string) (string, error) {
	removeStaleDirs(prefix)
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("writing the owner of %s: %w", dir, err)
	}
	return dir, nil
}

func removeStaleDirs(prefix string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			if info, statErr := os.Stat(dir); statErr == nil && time.Since(info.ModTime()) > time.Hour {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

// Stopper is something [StopOnInterrupt] can stop.
type Stopper interface{ Stop() error }

// StopperFunc adapts a function to [Stopper].
type StopperFunc func() error

// Stop calls f.
func (f StopperFunc) Stop() error { return f() }

var interrupts struct {
	sync.Mutex
	next     int
	stoppers map[int]Stopper
	signals  chan os.Signal
}

// StopOnInterrupt stops s when the process gets SIGINT or SIGTERM (everything registered is stopped at once),
// then re-raises the signal so that the process ends as it would have without this. Call the returned function
// once s is stopped otherwise. Tests use it for what t.Cleanup would not get to run: an interrupted go test.
func StopOnInterrupt(s Stopper) (unregister func()) {
	interrupts.Lock()
	defer interrupts.Unlock()
	if interrupts.stoppers == nil {
		interrupts.stoppers = map[int]Stopper{}
	}
	id := interrupts.next
	interrupts.next++
	interrupts.stoppers[id] = s
	if interrupts.signals == nil {
		interrupts.signals = make(chan os.Signal, 1)
		signal.Notify(interrupts.signals, syscall.SIGINT, syscall.SIGTERM)
		go stopAllOnSignal()
	}
	return func() {
		interrupts.Lock()
		defer interrupts.Unlock()
		delete(interrupts.stoppers, id)
	}
}

func stopAllOnSignal() {
	sig := <-interrupts.signals
	interrupts.Lock()
	stoppers := make([]Stopper, 0, len(interrupts.stoppers))
	for _, s := range interrupts.stoppers {
		stoppers = append(stoppers, s)
	}
	interrupts.Unlock()
	var wg sync.WaitGroup
	for _, s := range stoppers {
		wg.Go(func() { _ = s.Stop() })
	}
	wg.Wait()
	signal.Reset(syscall.SIGINT, syscall.SIGTERM)
	_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
}

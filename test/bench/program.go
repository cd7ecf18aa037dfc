package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// RunProgram is the main of a benchmark program that drives a local cluster (test/bench/inventory,
// test/bench/burst): it silences client-go's and controller-runtime's logs (an interrupted run's cancelled
// requests are no news), runs run until it returns or SIGINT/SIGTERM ends its context, and on an error prints
// "name: error" (with the interruption's cause) and exits 1.
func RunProgram(name string, run func(ctx context.Context) error) {
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
	}
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Step prints a progress line, "==> what [15:04:05]", on stderr.
func Step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "==> "+format+" [%s]\n", append(args, time.Now().Format("15:04:05"))...)
}

// LoadAverage is the 1-minute load average ("?" when unknown), for the reader to judge the noise.
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

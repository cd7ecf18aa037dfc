package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "standin" && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	var err error
	switch name {
	case "pause":
		err = pause()
	case "party":
		err = party()
	case "coordinator":
		err = coordinator()
	case "wget":
		err = wget(args)
	case "nc":
		err = nc(args)
	case "helm-test":
		err = errors.New("the helm-test image runs wget or nc: give the pod a command")
	default:
		err = fmt.Errorf("unknown mode %q (pause, party, coordinator, wget, nc)", name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// pause waits for SIGTERM or SIGINT and reaps the children it inherits, as a pod sandbox's pause process does.
func pause() error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		return nil
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// serve runs handler on :port until SIGTERM, and a TCP listener that accepts and closes on each extra port.
func serve(port string, handler http.Handler, extra ...string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	for _, p := range extra {
		ln, err := net.Listen("tcp", ":"+p)
		if err != nil {
			return fmt.Errorf("listening on port %s: %w", p, err)
		}
		defer ln.Close()
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		}()
	}
	srv := &http.Server{Addr: ":" + port, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving on port %s: %w", port, err)
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// party serves /health and the party port; with MPC_SHARE_DIR it writes its id there, proving the share volume
// is writable by the party's user and survives restarts (the file's first line is kept).
func party() error {
	id := envOr("PARTY_ID", "party")
	if dir := os.Getenv("MPC_SHARE_DIR"); dir != "" {
		path := filepath.Join(dir, "party-id")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
				return fmt.Errorf("writing the share directory: %w", err)
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok %s %s\n", id, os.Getenv("PARTY_ROLE"))
	})
	log.Printf("party %s (%s) serving", id, os.Getenv("PARTY_ROLE"))
	return serve(envOr("MPC_PARTY_HEALTH_PORT", "8080"), mux, envOr("MPC_PARTY_GRPC_PORT", "50051"))
}

// Party is one party pod the coordinator discovered.
type Party struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	IP        string `json:"ip"`
	Ready     bool   `json:"ready"`
}

// Report is what the coordinator serves on /parties.
type Report struct {
	Parties []Party `json:"parties"`
	// DiscoveryError is the last discovery failure, empty when the last round succeeded.
	DiscoveryError string `json:"discoveryError,omitempty"`
	// SecretsForbidden tells that listing Secrets was refused with 403, as least privilege requires.
	SecretsForbidden bool `json:"secretsForbidden"`
	// SecretsError is the error of listing Secrets.
	SecretsError string `json:"secretsError,omitempty"`
	Rounds       int    `json:"rounds"`
}

func coordinator() error {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("in-cluster configuration: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	ns := envOr("K8S_NAMESPACE", "default")
	namespaces := []string{ns}
	for _, extra := range strings.Split(os.Getenv("MPC_PARTY_DISCOVERY_NAMESPACES"), ",") {
		if extra = strings.TrimSpace(extra); extra != "" && !slices.Contains(namespaces, extra) {
			namespaces = append(namespaces, extra)
		}
	}
	selector := os.Getenv("MPC_PARTY_LABEL_SELECTOR")
	roleKey := envOr("MPC_PARTY_ROLE_LABEL_KEY", "party-role")
	interval := 5 * time.Second
	if d, err := time.ParseDuration(os.Getenv("MPC_PARTY_DISCOVERY_INTERVAL")); err == nil && d > 0 && d < interval {
		interval = d
	}

	var mu sync.Mutex
	var report Report
	ctx := context.Background()
	_, secretsErr := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{Limit: 1})
	report.SecretsForbidden = apierrors.IsForbidden(secretsErr)
	if secretsErr != nil {
		report.SecretsError = secretsErr.Error()
	}
	discover := func() {
		var parties []Party
		var errs []string
		for _, n := range namespaces {
			pods, err := client.CoreV1().Pods(n).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			for _, p := range pods.Items {
				ready := false
				for _, c := range p.Status.Conditions {
					if c.Type == "Ready" && c.Status == "True" {
						ready = true
					}
				}
				parties = append(parties, Party{Namespace: p.Namespace, Name: p.Name, Role: p.Labels[roleKey], IP: p.Status.PodIP, Ready: ready})
			}
		}
		mu.Lock()
		defer mu.Unlock()
		report.Parties = parties
		report.DiscoveryError = strings.Join(errs, "; ")
		report.Rounds++
		log.Printf("discovered %d parties in %s (errors: %q)", len(parties), strings.Join(namespaces, ","), report.DiscoveryError)
	}
	discover()
	go func() {
		for range time.Tick(interval) {
			discover()
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/parties", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(report)
	})
	return serve(envOr("MPC_COORDINATOR_HTTP_PORT", "8080"), mux, envOr("MPC_COORDINATOR_GRPC_PORT", "50051"))
}

// wget implements `wget [-q] -O- URL` (and -T SECS), the subset the chart's test pods use.
func wget(args []string) error {
	var url string
	timeout := 10 * time.Second
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-q", a == "-O-":
		case a == "-O" && i+1 < len(args) && args[i+1] == "-":
			i++
		case a == "-T" && i+1 < len(args):
			secs, err := strconv.Atoi(args[i+1])
			if err != nil {
				return fmt.Errorf("-T %q: %w", args[i+1], err)
			}
			timeout = time.Duration(secs) * time.Second
			i++
		case strings.HasPrefix(a, "http://"), strings.HasPrefix(a, "https://"):
			url = a
		default:
			return fmt.Errorf("unsupported argument %q (wget -q -O- [-T SECS] URL)", a)
		}
	}
	if url == "" {
		return errors.New("no URL")
	}
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("server returned %s", resp.Status)
	}
	return nil
}

// nc implements `nc -z [-w SECS] HOST PORT`.
func nc(args []string) error {
	timeout := 10 * time.Second
	var rest []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-z":
		case "-w":
			if i+1 >= len(args) {
				return errors.New("-w needs seconds")
			}
			secs, err := strconv.Atoi(args[i+1])
			if err != nil {
				return fmt.Errorf("-w %q: %w", args[i+1], err)
			}
			timeout = time.Duration(secs) * time.Second
			i++
		default:
			rest = append(rest, args[i])
		}
	}
	if len(rest) != 2 {
		return errors.New("usage: nc -z [-w SECS] HOST PORT")
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(rest[0], rest[1]), timeout)
	if err != nil {
		return err
	}
	return conn.Close()
}

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The real node's host-global footprint. There is one real node per machine at a time: these are fixed.
const (
	// nodeRoot holds the kubelet's root directory, containerd's root, the CNI configuration and IPAM state,
	// the pod logs and the local volumes.
	nodeRoot = "/var/lib/mpcguard-node"
	// nodeRun holds containerd's state and sockets and runc's state.
	nodeRun = "/run/mpcguard-node"
	// hostStateFile records what the host looked like before the node started (sysctls, which shared
	// directories existed), so that a sweep after a killed run can put it back. It lives outside nodeRoot
	// and is the last thing a sweep removes.
	hostStateFile = "/var/lib/mpcguard-node.host-state.json"
	// nodeCgroup is the kubelet's cgroupRoot, created under every cgroup v1 hierarchy.
	nodeCgroup = "mpcguard-node"
	// nodeBridge is the CNI bridge of the pod network.
	nodeBridge = "mpcg0"
	// PodSubnet is the real node's pod network, on nodeBridge only.
	PodSubnet = "10.245.0.0/24"
	// ServiceCIDR is the Service ClusterIP range. A local route (type local, on lo) keeps it from ever leaving the
	// machine: kube-proxy's DNAT rewrites it to an endpoint first, and without one it is delivered to the host
	// itself. (A blackhole route, the usual advice, makes the host's own connect() fail with EINVAL before
	// kube-proxy's OUTPUT rules can rewrite the address, so the host could not reach a ClusterIP.)
	ServiceCIDR = "10.96.0.0/16"
	// guardChain is the iptables chain that drops forwarded traffic from pods to anything off the machine.
	guardChain = "MPCGUARD-NODE-GUARD"
)

// nodeLockFile is flocked by the cluster that runs the real node, for as long as it runs: concurrent test
// processes take turns. The kernel releases it when its holder dies.
const nodeLockFile = "/run/mpcguard-node.lock"

// heldEnv tells a child process that its parent holds the real-node lock on its behalf.
const heldEnv = "MPCGUARD_REAL_NODE_LOCK_HELD"

var held struct {
	sync.Mutex
	f *os.File
}

// WaitForRealNode takes the machine's real-node lock for this process until release is called: clusters this
// process starts meanwhile, and child processes given HeldEnv, run their real node under it. A test that
// compares the host before and after a real node uses it so that no other test process runs one in between.
func WaitForRealNode(ctx context.Context) (release func(), err error) {
	f, err := lockRealNode(ctx, io.Discard)
	if err != nil {
		return nil, err
	}
	held.Lock()
	held.f = f
	held.Unlock()
	return func() {
		held.Lock()
		defer held.Unlock()
		if held.f != nil {
			held.f.Close()
			held.f = nil
		}
	}, nil
}

// HeldEnv is the environment entry that lets a child process run a real node under this process's lock.
func HeldEnv() string { return heldEnv + "=1" }

// lockRealNode waits (polling, bounded by ctx) for the machine's real-node lock. It returns nil when this
// process (WaitForRealNode) or its parent (HeldEnv) holds it already.
func lockRealNode(ctx context.Context, log io.Writer) (*os.File, error) {
	held.Lock()
	mine := held.f != nil
	held.Unlock()
	if mine || os.Getenv(heldEnv) == "1" {
		return nil, nil
	}
	f, err := os.OpenFile(nodeLockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", nodeLockFile, err)
	}
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", nodeLockFile, err)
		}
		if !waiting {
			fmt.Fprintf(log, "==> another cluster runs the real node; waiting for %s\n", nodeLockFile)
			waiting = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the real node (%s): %w", nodeLockFile, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// nodeSysctls are the sysctls the real node's components may change (the bridge plugin, the kubelet unless
// protectKernelDefaults, kube-proxy): saved before start and restored by every sweep.
var nodeSysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv4/conf/all/route_localnet",
	"net/bridge/bridge-nf-call-iptables",
	"net/bridge/bridge-nf-call-ip6tables",
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
	"net/netfilter/nf_conntrack_max",
	"net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait",
}

// sharedDirs are directories outside nodeRoot and nodeRun that the components create when missing
// (libcni's cache, the kubelet's container log links, the CRI network namespaces, containerd's shim sockets).
// A sweep removes those that did not exist before the node started, and in those that did only what the node
// put there.
var sharedDirs = []string{"/var/lib/cni", "/var/log/containers", "/var/log/pods", "/run/netns", "/run/containerd"}

// hostState is the content of hostStateFile.
type hostState struct {
	Sysctls map[string]string `json:"sysctls"`
	Existed map[string]bool   `json:"existed"`
	// NftTables are the nftables tables ("family name") that existed; iptables-nft makes the ones it needs.
	NftTables []string `json:"nftTables"`
}

// recordHostState writes hostStateFile unless it is there (a sweep that could not finish keeps the original).
func recordHostState() error {
	if _, err := os.Stat(hostStateFile); err == nil {
		return nil
	}
	st := hostState{Sysctls: map[string]string{}, Existed: map[string]bool{}}
	for _, key := range nodeSysctls {
		if data, err := os.ReadFile(filepath.Join("/proc/sys", key)); err == nil {
			st.Sysctls[key] = strings.TrimSpace(string(data))
		}
	}
	for _, dir := range sharedDirs {
		_, err := os.Stat(dir)
		st.Existed[dir] = err == nil
	}
	st.NftTables = nftTables()
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding the host state: %w", err)
	}
	if err := os.WriteFile(hostStateFile, data, 0o600); err != nil {
		return fmt.Errorf("recording the host state before the real node starts: %w", err)
	}
	return nil
}

// SweepRealNode removes everything a real node leaves on the host, whether it was stopped or killed: its
// processes (shims and containers live in their own sessions and outlive the kubelet and containerd), mounts,
// network namespaces, iptables and nftables rules, the bridge, the service range's local route, cgroups,
// sysctls and directories. It is safe to run when there is nothing to sweep. The error lists what could not
// be undone.
func SweepRealNode(binDir string) error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	killNodeProcesses()
	note(unmountUnder(nodeRoot, nodeRun, "/run/netns/cni-", "/run/containerd"))
	note(sweepNetfilter(binDir))
	_ = exec.Command("ip", "link", "delete", nodeBridge).Run()
	_ = exec.Command("ip", "route", "del", "local", ServiceCIDR, "dev", "lo", "table", "local").Run()
	note(removeNodeCgroups())

	st, stateErr := readHostState()
	if stateErr == nil {
		note(removeNewEmptyNftTables(st.NftTables))
	}
	for key, value := range st.Sysctls {
		path := filepath.Join("/proc/sys", key)
		if cur, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(cur)) != value {
			note(os.WriteFile(path, []byte(value), 0o644))
		}
	}
	netns, _ := filepath.Glob("/run/netns/cni-*")
	for _, path := range netns {
		note(os.Remove(path))
	}
	note(removeContainerLogLinks())
	for _, dir := range sharedDirs {
		if stateErr == nil && !st.Existed[dir] {
			note(os.RemoveAll(dir))
		}
	}
	note(os.RemoveAll(nodeRoot))
	note(os.RemoveAll(nodeRun))
	if len(errs) == 0 {
		note(os.RemoveAll(hostStateFile))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sweeping the real node's leftovers: %w", err)
	}
	return nil
}

func readHostState() (hostState, error) {
	var st hostState
	data, err := os.ReadFile(hostStateFile)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("reading %s: %w", hostStateFile, err)
	}
	return st, nil
}

// killNodeProcesses SIGKILLs the node's components, shims and every process in the node's cgroups.
func killNodeProcesses() {
	for range 3 {
		pids := nodeProcesses()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// nodeProcesses are the processes of a real node: its components and shims (by their binaries in the cache or
// a command line naming the node's directories) and everything in its cgroups.
func nodeProcesses() []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		exe, _ := os.Readlink(filepath.Join(dir, "exe"))
		own := strings.Contains(string(cmdline), nodeRun) || strings.Contains(string(cmdline), nodeRoot)
		component := slices.Contains(RealNodeTools, filepath.Base(args[0])) && strings.HasPrefix(exe, CacheDir())
		if own || component {
			pids = append(pids, pid)
		}
	}
	for _, pid := range cgroupPids() {
		if !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// cgroupHierarchies are the mounted cgroup hierarchies (directories under /sys/fs/cgroup with a cgroup.procs
// file): the v1 controllers, the named systemd one, and the unified (v2) one, where runc makes its cgroups too.
func cgroupHierarchies() []string {
	var out []string
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
			out = append(out, dir)
		}
	}
	return out
}

func cgroupPids() []int {
	var pids []int
	for _, h := range cgroupHierarchies() {
		_ = filepath.WalkDir(filepath.Join(h, nodeCgroup), func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			data, _ := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// createNodeCgroups makes the kubelet's cgroupRoot under every hierarchy; cpuset needs its cpus and mems set
// before a child can be made.
func createNodeCgroups() error {
	for _, h := range cgroupHierarchies() {
		dir := filepath.Join(h, nodeCgroup)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
		if filepath.Base(h) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				data, err := os.ReadFile(filepath.Join(h, f))
				if err != nil {
					return fmt.Errorf("reading %s: %w", f, err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
					return fmt.Errorf("writing %s of %s: %w", f, dir, err)
				}
			}
		}
	}
	return nil
}

// removeNodeCgroups removes the node's cgroups, deepest first, retrying while their last processes exit.
func removeNodeCgroups() error {
	var dirs []string
	for _, h := range cgroupHierarchies() {
		_ = filepath.WalkDir(filepath.Join(h, nodeCgroup), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	var left []string
	for _, dir := range dirs {
		var err error
		for range 20 {
			if err = syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			left = append(left, dir+": "+err.Error())
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("cgroups left: %s", strings.Join(left, "; "))
	}
	return nil
}

// unmountUnder lazily unmounts every mount point under the prefixes, deepest first.
func unmountUnder(prefixes ...string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("reading the mount table: %w", err)
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		point := unescapeMount(fields[4])
		for _, p := range prefixes {
			if strings.HasPrefix(point, p) {
				points = append(points, point)
				break
			}
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, point := range points {
		if err := syscall.Unmount(point, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) &&
			!errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", point, err))
		}
	}
	return errors.Join(errs...)
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeContainerLogLinks removes the kubelet's links in /var/log/containers that point into nodeRoot.
func removeContainerLogLinks() error {
	links, _ := filepath.Glob("/var/log/containers/*")
	var errs []error
	for _, link := range links {
		if target, err := os.Readlink(link); err == nil && strings.HasPrefix(target, nodeRoot) {
			errs = append(errs, os.Remove(link))
		}
	}
	return errors.Join(errs...)
}

// sweepNetfilter removes kube-proxy's rules (kube-proxy --cleanup), then every chain named KUBE-*, CNI-* or
// guardChain and every rule jumping to one, from every table of iptables and ip6tables, keeping all other rules
// as they are; and nftables tables kube-proxy may have made.
func sweepNetfilter(binDir string) error {
	if _, err := os.Stat(filepath.Join(binDir, "kube-proxy")); err == nil {
		_ = exec.Command(filepath.Join(binDir, "kube-proxy"), "--cleanup").Run()
	}
	var errs []error
	for _, tool := range []string{"iptables", "ip6tables"} {
		errs = append(errs, filterRules(tool))
	}
	for _, family := range []string{"ip", "ip6"} {
		_ = exec.Command("nft", "delete", "table", family, "kube-proxy").Run()
	}
	return errors.Join(errs...)
}

// ownChain tells whether an iptables chain is the node's.
func ownChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "CNI-") || name == guardChain
}

// filterRules rewrites each table of tool (iptables or ip6tables) without the node's chains and the rules
// that jump to them. Tables without any are left alone.
func filterRules(tool string) error {
	out, err := exec.Command(tool + "-save").Output()
	if err != nil {
		return nil // no such tool or no netfilter: nothing to sweep
	}
	var errs []error
	for _, table := range splitTables(string(out)) {
		kept, changed := filterTable(table.lines)
		if !changed {
			continue
		}
		// Restore without --noflush replaces the tables it is given, and only those: this one.
		cmd := exec.Command(tool + "-restore")
		cmd.Stdin = strings.NewReader(strings.Join(kept, "\n") + "\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			errs = append(errs, fmt.Errorf("%s-restore of table %s: %w: %s", tool, table.name, err, stderr.String()))
		}
	}
	return errors.Join(errs...)
}

type ruleTable struct {
	name  string
	lines []string
}

func splitTables(save string) []ruleTable {
	var tables []ruleTable
	for _, line := range strings.Split(save, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			tables = append(tables, ruleTable{name: line[1:], lines: []string{line}})
		case len(tables) > 0 && line != "" && !strings.HasPrefix(line, "#"):
			tables[len(tables)-1].lines = append(tables[len(tables)-1].lines, line)
		}
	}
	return tables
}

// filterTable drops the node's chain declarations, the rules in them and the rules that jump to them.
func filterTable(lines []string) (kept []string, changed bool) {
	for _, line := range lines {
		fields := strings.Fields(line)
		drop := false
		switch {
		case strings.HasPrefix(line, ":") && ownChain(strings.TrimPrefix(fields[0], ":")):
			drop = true
		case strings.HasPrefix(line, "-A ") && len(fields) > 1 && ownChain(fields[1]):
			drop = true
		case strings.HasPrefix(line, "-A "):
			for i, f := range fields {
				if (f == "-j" || f == "-g") && i+1 < len(fields) && ownChain(fields[i+1]) {
					drop = true
				}
			}
		}
		if drop {
			changed = true
			continue
		}
		kept = append(kept, line)
	}
	return kept, changed
}

// nftTables lists the nftables tables as "family name".
func nftTables() []string {
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return nil
	}
	var tables []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "table "); ok {
			tables = append(tables, rest)
		}
	}
	return tables
}

// removeNewEmptyNftTables deletes the nftables tables that did not exist before the node started and hold no
// rule (iptables-nft makes a table on first use and leaves it behind, empty, when its rules are gone).
func removeNewEmptyNftTables(before []string) error {
	var errs []error
	for _, table := range nftTables() {
		if slices.Contains(before, table) {
			continue
		}
		args := append([]string{"-j", "list", "table"}, strings.Fields(table)...)
		out, err := exec.Command("nft", args...).Output()
		if err != nil || strings.Contains(string(out), `"rule":`) {
			continue
		}
		if out, err := exec.Command("nft", append([]string{"delete", "table"}, strings.Fields(table)...)...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("nft delete table %s: %w: %s", table, err, out))
		}
	}
	return errors.Join(errs...)
}

// HostFootprint describes the host-global state a real node touches, one fact per line, for a test to compare
// before and after: iptables and ip6tables rules (without counters), nftables tables, network links and
// routes, mount points, the node's sysctls, the shared directories and network namespaces, the node's cgroups
// and the processes of the node's components, shims and containers.
func HostFootprint() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		out, _ := exec.Command(tool).Output()
		for _, l := range strings.Split(string(out), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if strings.HasPrefix(l, ":") {
				if i := strings.Index(l, " ["); i > 0 {
					l = l[:i]
				}
			}
			line("%s: %s", tool, l)
		}
	}
	for _, t := range nftTables() {
		line("nft table: %s", t)
	}
	links, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, l := range strings.Split(string(links), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			line("link: %s", strings.TrimSuffix(f[1], ":"))
		}
	}
	for _, table := range []string{"main", "local"} {
		routes, _ := exec.Command("ip", "route", "show", "table", table).Output()
		for _, l := range strings.Split(strings.TrimSpace(string(routes)), "\n") {
			line("route %s: %s", table, l)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			line("mount: %s", unescapeMount(f[4]))
		}
	}
	for _, key := range nodeSysctls {
		if data, err := os.ReadFile(filepath.Join("/proc/sys", key)); err == nil {
			line("sysctl %s = %s", key, strings.TrimSpace(string(data)))
		}
	}
	for _, path := range append([]string{nodeRoot, nodeRun, hostStateFile}, sharedDirs...) {
		_, err := os.Stat(path)
		line("exists %s: %t", path, err == nil)
	}
	netns, _ := filepath.Glob("/run/netns/*")
	for _, ns := range netns {
		line("netns: %s", ns)
	}
	for _, h := range cgroupHierarchies() {
		for _, name := range []string{nodeCgroup, "kubepods"} {
			if _, err := os.Stat(filepath.Join(h, name)); err == nil {
				line("cgroup: %s", filepath.Join(h, name))
			}
		}
	}
	for _, pid := range nodeProcesses() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		line("process: %s", strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return b.String()
}

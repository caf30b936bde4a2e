package pool_test

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// pinEngines gives each engine of hosts (unix socket addresses) a CPU of its own, the i-th engine the i-th
// CPU this process may use, as if each ran on a machine of one core: the threads of its dockerd and of that dockerd's children
// (its containerd, which starts every container's shim and runc, and which they inherit the CPU from) are
// restricted to that CPU until the benchmark ends, when each gets back the CPUs it had. It returns why it
// could not pin (fewer CPUs than engines, an address that is not a local socket, no permission), and ""
// when it did.
func pinEngines(b *testing.B, hosts ...string) string {
	cpus := cpusAllowed()
	if len(cpus) < len(hosts) {
		return fmt.Sprintf("this process may use %d CPUs, for %d engines", len(cpus), len(hosts))
	}
	var pids [][]int
	for _, h := range hosts {
		pid, err := daemonPID(h)
		if err != nil {
			return err.Error()
		}
		pids = append(pids, append([]int{pid}, childrenOf(pid)...))
	}
	for i, procs := range pids {
		for _, pid := range procs {
			var old unix.CPUSet
			if err := unix.SchedGetaffinity(pid, &old); err != nil {
				return fmt.Sprintf("read the CPUs of process %d: %v", pid, err)
			}
			b.Cleanup(func() { setAffinity(pid, old) })
			var one unix.CPUSet
			one.Set(cpus[i])
			if err := setAffinity(pid, one); err != nil {
				return fmt.Sprintf("pin process %d to CPU %d: %v", pid, cpus[i], err)
			}
		}
	}
	return ""
}

// cpusAllowed lists the CPUs this process may run on.
func cpusAllowed() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// daemonPID is the process that listens on the unix socket of host ("unix:///path"), from the socket's
// peer credentials.
func daemonPID(host string) (int, error) {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "unix" {
		return 0, fmt.Errorf("engine %s is not on a local socket", host)
	}
	conn, err := net.Dial("unix", u.Path)
	if err != nil {
		return 0, fmt.Errorf("engine %s: %w", host, err)
	}
	defer conn.Close()
	raw, err := conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	cerr := raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if cerr != nil || err != nil {
		return 0, fmt.Errorf("engine %s: peer credentials: %v %v", host, cerr, err)
	}
	return int(cred.Pid), nil
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var kids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses and may hold spaces: state, ppid, ...
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			kids = append(kids, child)
		}
	}
	return kids
}

// setAffinity sets the CPUs of every thread of process pid.
func setAffinity(pid int, set unix.CPUSet) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(t.Name())
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return err
		}
	}
	return nil
}

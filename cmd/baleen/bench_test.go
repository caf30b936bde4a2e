package main

import (
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkPush measures a push of a commit carrying 1 MiB of new data through Baleen's SSH git remote (to a
// branch without baleen.yml: the transport, storage and ref update alone) against the baseline of the same
// push by git over OpenSSH's own sshd to git's own receive-pack, in the same run. It reports both and their
// ratio (x-openssh: 1.0 is as fast as git over OpenSSH).
func BenchmarkPush(b *testing.B) {
	s, baseline := startBoth(b)
	bare := filepath.Join(b.TempDir(), "plain.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", bare).CombinedOutput(); err != nil {
		b.Fatalf("git init: %v %s", err, out)
	}
	r := s.newRepo(map[string]string{"README": "bench"})
	env := append(gitEnv(s.home), "GIT_SSH_COMMAND="+s.gitSSH(s.key))
	baseEnv := append(gitEnv(s.home), "GIT_SSH_COMMAND=ssh -F /dev/null -i "+s.key+" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "+baseline)
	push := func(env []string, url string) time.Duration {
		data := make([]byte, 1<<20)
		rand.Read(data)
		os.WriteFile(filepath.Join(r.dir, "blob"), data, 0o644)
		r.commit("bench")
		start := time.Now()
		res := s.exec(r.dir, env, "git", "push", "-q", url, "HEAD:refs/heads/bench")
		if res.code != 0 {
			b.Fatalf("push to %s: %s", url, res)
		}
		return time.Since(start)
	}
	var baleenTime, gitTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		baleenTime += push(env, s.url("bench"))
		gitTime += push(baseEnv, "ssh://root@127.0.0.1:"+baseline+bare)
	}
	b.StopTimer()
	b.ReportMetric(float64(baleenTime.Nanoseconds())/float64(b.N), "baleen-ns/push")
	b.ReportMetric(float64(gitTime.Nanoseconds())/float64(b.N), "openssh-ns/push")
	b.ReportMetric(float64(baleenTime)/float64(gitTime), "x-openssh")
}

// startBoth starts baleen serve and, as the baseline, OpenSSH's sshd authorizing the same key; it returns
// the server and sshd's port. Without sshd the benchmark is skipped.
func startBoth(b *testing.B) (*server, string) {
	b.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/sshd"); serr != nil {
			b.Skip("the OpenSSH baseline needs sshd (apt-get install openssh-server)")
		}
		sshd = "/usr/sbin/sshd"
	}
	s := newServer(b)
	s.start()
	return s, startSSHD(b, sshd, s.key+".pub")
}

// startSSHD runs OpenSSH's sshd on a free loopback port, authorizing key for root, and returns the port.
func startSSHD(b *testing.B, sshd, pubKey string) string {
	b.Helper()
	dir := b.TempDir()
	hostKey := filepath.Join(dir, "host_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		b.Fatalf("ssh-keygen: %v %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte(strings.Join([]string{
		"ListenAddress 127.0.0.1", "Port " + port, "HostKey " + hostKey, "AuthorizedKeysFile " + pubKey,
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
		"PermitRootLogin prohibit-password", "PidFile none",
	}, "\n")+"\n"), 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			b.Fatalf("sshd did not listen on %s", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// generatedRepo makes a work tree with files files in its first commit and commits commits in all, each
// after the first changing a few files, with git fast-import; it returns the work tree.
func generatedRepo(b *testing.B, files, commits int) string {
	b.Helper()
	dir := b.TempDir()
	if out, err := exec.Command("git", "init", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
		b.Fatalf("git init: %v %s", err, out)
	}
	var stream strings.Builder
	for c := 0; c < commits; c++ {
		var changed []int
		if c == 0 {
			for f := 0; f < files; f++ {
				changed = append(changed, f)
			}
		} else {
			for k := 0; k < 5; k++ {
				changed = append(changed, (c*7919+k*104729)%files)
			}
		}
		fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter t <t@example.com> %d +0000\ndata 8\ncommit %d\n", 1600000000+c, c%10)
		for _, f := range changed {
			fmt.Fprintf(&stream, "M 100644 inline dir%03d/file%05d.txt\ndata <<EOF\nfile %d version %d\n%s\nEOF\n", f%500, f, f, c, strings.Repeat("some content of a source file\n", 1+f%20))
		}
		stream.WriteString("\n")
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stream.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v %s", err, out)
	}
	if out, err := exec.Command("git", "-C", dir, "repack", "-adq").CombinedOutput(); err != nil {
		b.Fatalf("repack: %v %s", err, out)
	}
	return dir
}

// peakRSS is a process's peak resident memory in bytes (VmHWM).
func peakRSS(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkLargeRepo pushes and clones a generated repository of 20,000 files and 2,000 commits through
// Baleen (a branch without baleen.yml: git and the hook alone) and through git over OpenSSH's sshd, in
// the same run, and reports the ratios (x-openssh: 1.0 is as fast as git over OpenSSH) and the peak
// resident memory of baleen serve itself.
func BenchmarkLargeRepo(b *testing.B) {
	s, baseline := startBoth(b)
	work := generatedRepo(b, 20000, 2000)
	env := append(gitEnv(s.home), "GIT_SSH_COMMAND="+s.gitSSH(s.key))
	baseEnv := append(gitEnv(s.home), "GIT_SSH_COMMAND=ssh -F /dev/null -i "+s.key+" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "+baseline)
	timed := func(dir string, env []string, args ...string) time.Duration {
		start := time.Now()
		if res := s.exec(dir, env, "git", args...); res.code != 0 {
			b.Fatalf("git %s: %s", strings.Join(args, " "), res)
		}
		return time.Since(start)
	}
	var pushB, pushG, cloneB, cloneG time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		project := fmt.Sprintf("large%d", i)
		bare := filepath.Join(b.TempDir(), "plain.git")
		if out, err := exec.Command("git", "init", "-q", "--bare", bare).CombinedOutput(); err != nil {
			b.Fatalf("git init: %v %s", err, out)
		}
		pushB += timed(work, env, "push", "-q", s.url(project), "main:refs/heads/plain")
		pushG += timed(work, baseEnv, "push", "-q", "ssh://root@127.0.0.1:"+baseline+bare, "main:refs/heads/plain")
		cloneB += timed("", env, "clone", "-q", "--bare", s.url(project), filepath.Join(b.TempDir(), "b.git"))
		cloneG += timed("", baseEnv, "clone", "-q", "--bare", "ssh://root@127.0.0.1:"+baseline+bare, filepath.Join(b.TempDir(), "g.git"))
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(pushB.Nanoseconds())/n, "baleen-ns/push")
	b.ReportMetric(float64(pushG.Nanoseconds())/n, "openssh-ns/push")
	b.ReportMetric(float64(pushB)/float64(pushG), "push-x-openssh")
	b.ReportMetric(float64(cloneB.Nanoseconds())/n, "baleen-ns/clone")
	b.ReportMetric(float64(cloneG.Nanoseconds())/n, "openssh-ns/clone")
	b.ReportMetric(float64(cloneB)/float64(cloneG), "clone-x-openssh")
	b.ReportMetric(peakRSS(s.cmd.Process.Pid)/(1<<20), "serve-peak-MiB")
}

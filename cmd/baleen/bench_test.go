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
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/sshd"); serr != nil {
			b.Skip("the OpenSSH baseline needs sshd (apt-get install openssh-server)")
		}
		sshd = "/usr/sbin/sshd"
	}
	s := newServer(b)
	s.start()
	baseline := startSSHD(b, sshd, s.key+".pub")
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

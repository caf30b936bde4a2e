package gitd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// gitProtocolValue is what a client may send as GIT_PROTOCOL ("version=2", "version=2:object-format=sha1").
var gitProtocolValue = regexp.MustCompile(`^[a-z0-9=:._-]{1,100}$`)

// serviceConfig are the settings every git receive-pack or upload-pack the server starts runs with, on its
// command line (git -c), whatever the repository's own config says.
func (s *Server) serviceConfig(service string) []string {
	kv := [][2]string{
		{"core.hooksPath", s.hooksDir},
		{"transfer.fsckObjects", "true"},
		// Within the memory limit: pack windows are mapped in small pieces, so that a big repository does
		// not take the address space a delta needs.
		{"core.packedGitWindowSize", "32m"},
		{"core.packedGitLimit", "256m"},
		{"core.deltaBaseCacheLimit", "64m"},
		{"pack.windowMemory", "128m"},
	}
	if service == serviceReceivePack {
		kv = append(kv,
			[2]string{"receive.procReceiveRefs", "refs/"},
			[2]string{"receive.fsckObjects", "true"},
			[2]string{"receive.maxInputSize", strconv.FormatInt(s.maxInputSize, 10)},
			[2]string{"receive.advertisePushOptions", "true"},
			[2]string{"receive.advertiseAtomic", "true"},
			[2]string{"receive.denyDeletes", "false"},
			[2]string{"receive.denyNonFastForwards", "false"},
			[2]string{"receive.certNonceSeed", s.nonceSeed},
			[2]string{"gpg.ssh.allowedSignersFile", s.allowedSigners},
		)
	} else {
		kv = append(kv,
			[2]string{"uploadpack.allowFilter", "true"},
			[2]string{"uploadpack.allowAnySHA1InWant", "false"},
			[2]string{"uploadpack.allowTipSHA1InWant", "false"},
			[2]string{"uploadpack.allowReachableSHA1InWant", "false"},
		)
	}
	args := make([]string, 0, 2*len(kv))
	for _, p := range kv {
		args = append(args, "-c", p[0]+"="+p[1])
	}
	return args
}

// serveGit runs git's own upload-pack or receive-pack on a project's repository, wired to the ssh channel.
func (s *Server) serveGit(c *call, req gitRequest) int {
	log := s.log.With("project", req.project, "key", c.fingerprint)
	repo := s.repoPath(req.project)
	created := false
	if err := s.allowed(c, req); err != nil {
		log.Info("git command refused", "err", err)
		c.errorf("baleen: %v\n", err)
		return 1
	}
	if req.service == serviceUploadPack {
		exists, err := s.repoExists(req.project)
		if err != nil {
			log.Error("upload-pack", "err", err)
			c.errorf("baleen: cannot open %s; see the server log\n", req.project)
			return 1
		}
		if !exists {
			// Reading makes nothing: only a push by someone with write access makes a project.
			c.errorf("baleen: project %s does not exist\n", req.project)
			return 1
		}
	} else {
		select {
		case s.receiveSlots <- struct{}{}:
			defer func() { <-s.receiveSlots }()
		default:
			c.errorf("baleen: %d pushes are running, the most this server takes at once; try again shortly\n", cap(s.receiveSlots))
			return 1
		}
		var err error
		if created, err = s.openForPush(req.project); err != nil {
			log.Error("receive-pack", "err", err)
			c.errorf("baleen: cannot create the repository of %s; see the server log\n", req.project)
			return 1
		}
		defer s.closeForPush(req.project)
	}
	if f := objectFormat(repo); f != "sha1" {
		c.errorf("baleen: %s is a %s repository; only SHA-1 repositories are supported\n", req.project, f)
		return 1
	}
	var extra []string
	if c.gitProtocol != "" {
		extra = append(extra, "GIT_PROTOCOL="+c.gitProtocol)
	}
	// upload-pack ends with its client; receive-pack outlives it, so that a build goes on to its end.
	ctx := c.ctx
	if req.service == serviceReceivePack {
		ctx = s.base
		env, done, err := s.openPushSession(c, req.project, repo, created, log)
		if err != nil {
			log.Error("receive-pack", "err", err)
			c.errorf("baleen: internal error; see the server log\n")
			return 1
		}
		defer done()
		extra = append(extra, env...)
	}
	args := s.serviceConfig(req.service)
	if req.service == serviceReceivePack {
		args = append(args, "receive-pack", ".")
	} else {
		args = append(args, "upload-pack", "--strict", ".")
	}
	return s.runGit(ctx, c, repo, extra, args, log)
}

// runGit runs one git service with the channel as its standard streams and returns its exit status.
func (s *Server) runGit(ctx context.Context, c *call, repo string, extra, args []string, log *slog.Logger) int {
	cmd := s.git.command(ctx, repo, extra, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		log.Warn("git", "err", err)
		return 1
	}
	cmd.Stdout = &detachable{w: c.stdout}
	// git's messages may name files on the server; its standard output is the protocol, left alone.
	stderr := s.scrub.writer(c.stderr)
	defer stderr.Flush()
	cmd.Stderr = &detachable{w: stderr}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		log.Warn("start git", "err", err)
		c.errorf("baleen: cannot run git; see the server log\n")
		return 1
	}
	go func() {
		_, _ = io.Copy(stdin, c.stdin)
		_ = stdin.Close()
	}()
	stop := s.keepAlive(c)
	err = cmd.Wait()
	stop()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	default:
		log.Warn("git", "err", err)
		return 1
	}
}

// keepAlive sends an ssh keepalive request on the client's connection every keepalive interval until the
// returned func is called, so that a long build keeps the connection busy for the routers on its way.
func (s *Server) keepAlive(c *call) (stop func()) {
	if c.conn == nil {
		return func() {}
	}
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(s.keepalive)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-c.ctx.Done():
				return
			case <-t.C:
				if _, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil); err != nil {
					return
				}
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// detachable passes writes on to w until one fails (the client went away); from then on it discards them,
// so that git, which still has work to finish, never blocks on a dead connection.
type detachable struct {
	mu   sync.Mutex
	w    io.Writer
	dead bool
}

func (d *detachable) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.dead {
		if _, err := d.w.Write(p); err != nil {
			d.dead = true
		}
	}
	return len(p), nil
}

// allowed checks the caller's role on the project: read to clone or fetch, write to push (a push that
// creates the project needs write on a rule whose glob matches its name). It asks on every command, so
// that a key removed since the connection opened is refused.
func (s *Server) allowed(c *call, req gitRequest) error {
	if s.authz == nil {
		return nil
	}
	need := baleen.RoleRead
	if req.service == serviceReceivePack {
		need = baleen.RoleWrite
	}
	return baleen.Require(c.ctx, s.authz, c.identity, req.project, need)
}

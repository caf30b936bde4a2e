package pool

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// clientOptions returns the moby client options that reach the engine at ec.Host.
func clientOptions(ec EngineConfig) ([]client.Opt, error) {
	u, err := url.Parse(ec.Host)
	if err != nil {
		return nil, err
	}
	var opts []client.Opt
	switch u.Scheme {
	case "ssh":
		// The client speaks HTTP over the ssh command's stdio; the host in its URLs is never dialled.
		opts = append(opts, client.WithHost("http://docker.invalid"), client.WithDialContext(sshDialer(u, ec.SSH)))
	default:
		opts = append(opts, client.WithHost(ec.Host))
		if ec.TLS != nil {
			opts = append(opts, client.WithTLSClientConfig(ec.TLS.CA, ec.TLS.Cert, ec.TLS.Key))
		}
	}
	return opts, nil
}

// sshDialer returns a dialer that reaches the engine behind u (ssh://user@host[:port]) by running
// `docker system dial-stdio` there through the ssh client, in batch mode (keys and known_hosts from the
// server user's ssh configuration, or those of files).
func sshDialer(u *url.URL, files *SSHFiles) func(ctx context.Context, network, addr string) (net.Conn, error) {
	args := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=10"}
	if files != nil && files.Identity != "" {
		args = append(args, "-o", "IdentitiesOnly=yes", "-i", files.Identity)
	}
	if files != nil && files.KnownHosts != "" {
		args = append(args, "-o", "UserKnownHostsFile="+files.KnownHosts, "-o", "StrictHostKeyChecking=yes")
	}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	target := u.Hostname()
	if u.User != nil {
		target = u.User.Username() + "@" + target
	}
	args = append(args, "--", target, "docker", "system", "dial-stdio")
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		cmd := exec.Command("ssh", args...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("ssh to %s: %w", target, err)
		}
		return &cmdConn{cmd: cmd, r: stdout, w: stdin, remote: target}, nil
	}
}

// cmdConn is a net.Conn over a command's stdin and stdout. Deadlines are not supported: the engine's
// calls are bounded by their contexts.
type cmdConn struct {
	cmd    *exec.Cmd
	r      io.ReadCloser
	w      io.WriteCloser
	remote string
	once   sync.Once
}

func (c *cmdConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *cmdConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Close ends the command and waits for it.
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	return nil
}

func (c *cmdConn) LocalAddr() net.Addr              { return cmdAddr("ssh") }
func (c *cmdConn) RemoteAddr() net.Addr             { return cmdAddr(c.remote) }
func (c *cmdConn) SetDeadline(time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(time.Time) error { return nil }

// cmdAddr names one end of a cmdConn.
type cmdAddr string

func (a cmdAddr) Network() string { return "ssh" }
func (a cmdAddr) String() string  { return string(a) }

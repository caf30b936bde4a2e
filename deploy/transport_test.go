package deploy

import (
	"io"
	"net"
	"strings"
	"testing"
)

// TestLocalHost covers the "local" host's commands and dialling; its systemd half needs a system bus,
// which the suite's machines do not have.
func TestLocalHost(t *testing.T) {
	h := localHost{}
	tests := []struct {
		name    string
		cmd     string
		stdin   string
		want    string
		wantErr string
	}{
		{"output", "echo hello", "", "hello\n", ""},
		{"stdin", "tr a-z A-Z", "quiet", "QUIET", ""},
		{"failure carries stderr", "echo nope >&2; exit 3", "", "", "exit status 3: nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := h.run(t.Context(), tt.cmd, strings.NewReader(tt.stdin), &out)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "hi")
			c.Close()
		}
	}()
	c, err := h.dial(t.Context(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hi" {
		t.Errorf("dial: got %q, %v; want \"hi\"", b, err)
	}
}

func TestPrivileged(t *testing.T) {
	tests := []struct {
		name string
		sudo bool
		cmd  string
		want string
	}{
		{"root", false, "cat > '/etc/x'", "cat > '/etc/x'"},
		{"sudo", true, "cat > '/etc/x'", `sudo -n sh -c 'cat > '\''/etc/x'\'''`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := privileged(tt.cmd, tt.sudo); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

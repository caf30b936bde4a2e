package pool_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
)

func TestConfigValidate(t *testing.T) {
	tls := &pool.TLSFiles{CA: "ca.pem", Cert: "cert.pem", Key: "key.pem"}
	tests := []struct {
		name string
		cfg  pool.Config
		want string // "" for valid
	}{
		{"unix", pool.Config{"local": {Host: "unix:///var/run/docker.sock", Slots: 2}}, ""},
		{"ssh", pool.Config{"build-2": {Host: "ssh://builder@10.0.0.21", Slots: 4, Labels: []string{"amd64", "big"}}}, ""},
		{"ssh with port", pool.Config{"b": {Host: "ssh://builder@host:2222"}}, ""},
		{"ssh with files", pool.Config{"b": {Host: "ssh://builder@host", SSH: &pool.SSHFiles{Identity: "k", KnownHosts: "kh"}}}, ""},
		{"ssh files on unix", pool.Config{"b": {Host: "unix:///s", SSH: &pool.SSHFiles{Identity: "k"}}}, "engines.b: ssh: only for ssh:// engines"},
		{"tcp with tls", pool.Config{"b": {Host: "tcp://10.0.0.22:2376", TLS: tls}}, ""},
		{"tcp on loopback", pool.Config{"b": {Host: "tcp://127.0.0.1:2375"}}, ""},
		{"empty", pool.Config{}, "no engine listed"},
		{"plain tcp", pool.Config{"b": {Host: "tcp://10.0.0.22:2375"}}, "engines.b: host: \"tcp://10.0.0.22:2375\" is plain TCP"},
		{"partial tls", pool.Config{"b": {Host: "tcp://10.0.0.22:2376", TLS: &pool.TLSFiles{CA: "ca.pem"}}}, "tls: ca, cert and key are all required"},
		{"tls on unix", pool.Config{"b": {Host: "unix:///s", TLS: tls}}, "tls: only for tcp://"},
		{"no host", pool.Config{"b": {}}, "engines.b: host: \"\" is not an address"},
		{"http", pool.Config{"b": {Host: "http://x"}}, "scheme \"http\" is not unix, tcp or ssh"},
		{"ssh option injection", pool.Config{"b": {Host: "ssh://-oProxyCommand=x@host"}}, "is not ssh://user@host"},
		{"ssh path", pool.Config{"b": {Host: "ssh://u@host/var/run"}}, "takes no path"},
		{"negative slots", pool.Config{"b": {Host: "unix:///s", Slots: -1}}, "slots: -1 is negative"},
		{"bad label", pool.Config{"b": {Host: "unix:///s", Labels: []string{"Big Box"}}}, "labels: \"Big Box\" is not a valid label"},
		{"bad name", pool.Config{"Build 2": {Host: "unix:///s"}}, "engines.Build 2: not a valid engine name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate: got %v, want an error containing %q", err, tt.want)
			case tt.want != "" && !errors.Is(err, baleen.ErrInvalid):
				t.Errorf("Validate: got %v, want it to wrap ErrInvalid", err)
			}
		})
	}
}

func TestConfigCheckLabels(t *testing.T) {
	cfg := pool.Config{
		"local":   {Host: "unix:///var/run/docker.sock"},
		"build-2": {Host: "ssh://b@h", Labels: []string{"amd64", "big"}},
	}
	for _, ok := range [][]string{nil, {"big"}, {"amd64", "big"}} {
		if err := cfg.CheckLabels(ok); err != nil {
			t.Errorf("CheckLabels(%v): got %v, want none", ok, err)
		}
	}
	err := cfg.CheckLabels([]string{"big", "gpu"})
	if !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), "runs_on [big gpu]: no engine has all of these labels") {
		t.Errorf("CheckLabels([big gpu]): got %v, want ErrInvalid naming the labels", err)
	}
}

package deploy

import (
	"errors"
	"fmt"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestTargetHosts: a host without a port is reached on SSH's port 22, and a target that lists one host
// twice is refused before any host is touched: its two switches would run over each other on that host
// (at once under "all"; under "rolling" the second would return the first to the previous release).
func TestTargetHosts(t *testing.T) {
	tests := []struct {
		name    string
		hosts   []string
		want    string
		wantErr error
	}{
		{"ports kept", []string{"10.0.0.1:2222", "local", "[::1]:22"}, "[10.0.0.1:2222 local [::1]:22]", nil},
		{"port 22 by default", []string{"10.0.0.1", "db.example.com", "::1", "[::2]"}, "[10.0.0.1:22 db.example.com:22 [::1]:22 [::2]:22]", nil},
		{"twice", []string{"10.0.0.1:22", "10.0.0.2:22", "10.0.0.1:22"}, "", baleen.ErrInvalid},
		{"twice, once without port", []string{"10.0.0.1", "10.0.0.1:22"}, "", baleen.ErrInvalid},
		{"local twice", []string{"local", "local"}, "", baleen.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{Targets: map[string]Target{"prod": {Hosts: tt.hosts}}})
			got, err := d.target("prod")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err == nil && fmt.Sprint(got.Hosts) != tt.want {
				t.Errorf("got hosts %v, want %s", got.Hosts, tt.want)
			}
		})
	}
}

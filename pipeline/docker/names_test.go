package docker

import (
	"testing"

	"github.com/baleen-ci/baleen"
)

func TestContainerName(t *testing.T) {
	tests := []struct {
		name string
		spec baleen.ContainerSpec
		want string
	}{
		{"name", baleen.ContainerSpec{Name: "db", Role: "depends"}, "baleen-app-7-db"},
		{"role when no name", baleen.ContainerSpec{Role: "test"}, "baleen-app-7-test"},
		{"engine picks when neither", baleen.ContainerSpec{}, ""},
		{"engine picks when not a valid name", baleen.ContainerSpec{Name: "my db/1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := containerName("app-7", tt.spec); got != tt.want {
				t.Errorf("containerName(%+v): got %q, want %q", tt.spec, got, tt.want)
			}
		})
	}
}

func TestShortID(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"full id", "44690ed3bf95d01ec693e5deea85a2720c8c1fc3c6b34c5758373b1471ab2432", "44690ed3bf95"},
		{"short id", "44690ed3bf95", "44690ed3bf95"},
		{"name", "baleen-project-12-database-primary", "baleen-project-12-database-primary"},
		{"64 characters that are not hex", "baleen-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "baleen-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shortID(tt.in); got != tt.want {
				t.Errorf("shortID(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

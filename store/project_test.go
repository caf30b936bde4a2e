package store_test

import (
	"errors"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/google/go-cmp/cmp"
)

func TestCreateProject(t *testing.T) {
	tests := []struct {
		name    string
		project baleen.Project
		wantErr error
	}{
		{name: "new", project: baleen.Project{Name: "web", Created: t0, Src: "https://example.org/web.git"}},
		{name: "exists", project: baleen.Project{Name: "api"}, wantErr: baleen.ErrExists},
		{name: "invalid name", project: baleen.Project{Name: "../etc"}, wantErr: baleen.ErrInvalid},
		{name: "empty name", project: baleen.Project{}, wantErr: baleen.ErrInvalid},
		{name: "slash in name", project: baleen.Project{Name: "api/1"}, wantErr: baleen.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			mustProject(t, s, "api")
			err := s.CreateProject(t.Context(), tt.project)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CreateProject: got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			got, err := s.Project(t.Context(), tt.project.Name)
			if err != nil {
				t.Fatalf("Project: %v", err)
			}
			if diff := cmp.Diff(tt.project, got); diff != "" {
				t.Errorf("Project (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateProjectSetsCreated(t *testing.T) {
	s, _ := openStore(t)
	if err := s.CreateProject(t.Context(), baleen.Project{Name: "api"}); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	p, err := s.Project(t.Context(), "api")
	if err != nil {
		t.Fatalf("Project: %v", err)
	}
	if p.Created.IsZero() {
		t.Errorf("Created: got zero time, want the time of creation")
	}
}

func TestProjectNotFound(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	_, err := s.Project(t.Context(), "ap")
	if !errors.Is(err, baleen.ErrNotFound) {
		t.Fatalf("Project(ap): got error %v, want ErrNotFound", err)
	}
	if got, want := err.Error(), "project ap: not found: Key not found"; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
}

func TestProjects(t *testing.T) {
	s, _ := openStore(t)
	got, err := s.Projects(t.Context())
	if err != nil {
		t.Fatalf("Projects: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("Projects of an empty store: got %v, want none", got)
	}
	for _, name := range []string{"web", "api", "api-v2", "db"} {
		mustProject(t, s, name)
	}
	// Builds share no prefix with projects: they must not show up.
	mustBuild(t, s, baleen.Build{Project: "api"})
	got, err = s.Projects(t.Context())
	if err != nil {
		t.Fatalf("Projects: %v", err)
	}
	want := []baleen.Project{{Name: "api", Created: t0}, {Name: "api-v2", Created: t0}, {Name: "db", Created: t0}, {Name: "web", Created: t0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Projects (-want +got):\n%s", diff)
	}
}

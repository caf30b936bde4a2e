package store_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func ptr[T any](v T) *T { return &v }

func TestCreateBuild(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustProject(t, s, "web")
	ctx := t.Context()

	in := baleen.Build{Project: "api", Commit: "abc123", Branch: "main", Pusher: "SHA256:key", Created: t0, Status: baleen.StatusRunning, Number: 42}
	b1, err := s.CreateBuild(ctx, in)
	if err != nil {
		t.Fatalf("CreateBuild: %v", err)
	}
	want := in
	want.Number, want.Status = 1, baleen.StatusQueued
	if diff := cmp.Diff(want, b1); diff != "" {
		t.Errorf("CreateBuild (-want +got):\n%s", diff)
	}
	got, err := s.Build(ctx, "api", 1)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build (-want +got):\n%s", diff)
	}

	b2 := mustBuild(t, s, baleen.Build{Project: "api"})
	if b2.Number != 2 {
		t.Errorf("second build of api: got number %d, want 2", b2.Number)
	}
	if b2.Created.IsZero() {
		t.Errorf("second build: got zero Created, want the time of creation")
	}
	// Every project counts from 1.
	if w1 := mustBuild(t, s, baleen.Build{Project: "web"}); w1.Number != 1 {
		t.Errorf("first build of web: got number %d, want 1", w1.Number)
	}
}

func TestCreateBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		project string
		wantErr error
		wantMsg string
	}{
		{name: "no such project", project: "nope", wantErr: baleen.ErrNotFound, wantMsg: "create build: project nope: not found: Key not found"},
		{name: "invalid name", project: "Nope", wantErr: baleen.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			_, err := s.CreateBuild(t.Context(), baleen.Build{Project: tt.project})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CreateBuild: got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message: got %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

// TestCreateBuildConcurrent creates builds from many goroutines, for two projects at once, and checks that
// each project's builds get distinct consecutive numbers.
func TestCreateBuildConcurrent(t *testing.T) {
	const n = 40
	s, _ := openStore(t)
	projects := []string{"api", "web"}
	for _, p := range projects {
		mustProject(t, s, p)
	}
	var (
		mu      sync.Mutex
		numbers = map[string][]int{}
		wg      sync.WaitGroup
	)
	for i := range n {
		for _, p := range projects {
			wg.Go(func() {
				b, err := s.CreateBuild(t.Context(), baleen.Build{Project: p, Commit: string(rune('a' + i%26))})
				if err != nil {
					t.Errorf("CreateBuild(%s): %v", p, err)
					return
				}
				mu.Lock()
				numbers[p] = append(numbers[p], b.Number)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	for _, p := range projects {
		got := numbers[p]
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("build numbers of %s (-want +got):\n%s", p, diff)
		}
		latest, err := s.LatestBuild(t.Context(), p)
		if err != nil {
			t.Fatalf("LatestBuild(%s): %v", p, err)
		}
		if latest.Number != n {
			t.Errorf("LatestBuild(%s): got number %d, want %d", p, latest.Number, n)
		}
	}
}

func TestBuildNotFound(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustBuild(t, s, baleen.Build{Project: "api"})
	mustProject(t, s, "empty")
	ctx := t.Context()
	tests := []struct {
		name    string
		call    func() error
		wantErr error
		wantMsg string
	}{
		{name: "Build unknown number", call: func() error { _, err := s.Build(ctx, "api", 7); return err },
			wantErr: baleen.ErrNotFound, wantMsg: "build api#7: not found: Key not found"},
		{name: "Build number zero", call: func() error { _, err := s.Build(ctx, "api", 0); return err }, wantErr: baleen.ErrNotFound},
		{name: "Build negative number", call: func() error { _, err := s.Build(ctx, "api", -1); return err }, wantErr: baleen.ErrNotFound},
		{name: "Build unknown project", call: func() error { _, err := s.Build(ctx, "web", 1); return err }, wantErr: baleen.ErrNotFound},
		{name: "Build invalid project", call: func() error { _, err := s.Build(ctx, "a/b", 1); return err }, wantErr: baleen.ErrInvalid},
		{name: "LatestBuild no builds", call: func() error { _, err := s.LatestBuild(ctx, "empty"); return err },
			wantErr: baleen.ErrNotFound, wantMsg: "latest build: project empty has no builds: not found"},
		{name: "LatestBuild unknown project", call: func() error { _, err := s.LatestBuild(ctx, "web"); return err }, wantErr: baleen.ErrNotFound},
		{name: "UpdateBuild unknown", call: func() error { _, err := s.UpdateBuild(ctx, "api", 2, baleen.BuildPatch{}); return err },
			wantErr: baleen.ErrNotFound, wantMsg: "update build api#2: build api#2: not found: Key not found"},
		{name: "Builds unknown project", call: func() error { _, err := s.Builds(ctx, baleen.BuildFilter{Project: "web"}); return err }, wantErr: baleen.ErrNotFound},
		{name: "Builds negative limit", call: func() error { _, err := s.Builds(ctx, baleen.BuildFilter{Limit: -1}); return err }, wantErr: baleen.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message: got %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestLatestBuild(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	for range 3 {
		mustBuild(t, s, baleen.Build{Project: "api", Created: t0})
	}
	b, err := s.LatestBuild(t.Context(), "api")
	if err != nil {
		t.Fatalf("LatestBuild: %v", err)
	}
	if b.Number != 3 {
		t.Errorf("LatestBuild: got number %d, want 3", b.Number)
	}
}

func TestUpdateBuild(t *testing.T) {
	started := t0.Add(time.Second)
	finished := t0.Add(time.Minute)
	report := &baleen.TestReport{Passed: 3, Failed: 1, Failures: []baleen.TestFailure{{Name: "a.b.c", Message: "boom"}}, Coverage: ptr(81.5)}
	stages := []baleen.StageResult{{Stage: baleen.StageBuild, Status: baleen.StatusPassed, Duration: 2 * time.Second}}
	base := baleen.Build{
		Project: "api", Commit: "c1", Branch: "main", Pusher: "SHA256:key", Created: t0,
		Stages: stages, Artifacts: []string{"out.txt"}, Images: map[string]string{"app": "app:baleen-api-1"}, Message: "old",
	}
	tests := []struct {
		name  string
		patch baleen.BuildPatch
		want  func(b *baleen.Build)
	}{
		{name: "empty patch changes nothing", patch: baleen.BuildPatch{}, want: func(*baleen.Build) {}},
		{
			name:  "status and start",
			patch: baleen.BuildPatch{Status: ptr(baleen.StatusRunning), Started: &started},
			want:  func(b *baleen.Build) { b.Status, b.Started = baleen.StatusRunning, started },
		},
		{
			name: "finish as failed",
			patch: baleen.BuildPatch{
				Status: ptr(baleen.StatusFailed), Finished: &finished, FailedStage: ptr(baleen.StageTest), Message: ptr("1 test failed"),
				Report: report, Stages: append(slices.Clone(stages), baleen.StageResult{Stage: baleen.StageTest, Status: baleen.StatusFailed}),
			},
			want: func(b *baleen.Build) {
				b.Status, b.Finished, b.FailedStage, b.Message, b.Report = baleen.StatusFailed, finished, baleen.StageTest, "1 test failed", report
				b.Stages = append(slices.Clone(stages), baleen.StageResult{Stage: baleen.StageTest, Status: baleen.StatusFailed})
			},
		},
		{
			name:  "slices and maps replace",
			patch: baleen.BuildPatch{Artifacts: []string{"a", "b"}, Images: map[string]string{"db": "db:baleen-api-1"}},
			want: func(b *baleen.Build) {
				b.Artifacts, b.Images = []string{"a", "b"}, map[string]string{"db": "db:baleen-api-1"}
			},
		},
		{
			name:  "empty message clears it",
			patch: baleen.BuildPatch{Message: ptr("")},
			want:  func(b *baleen.Build) { b.Message = "" },
		},
		{
			// Stored as JSON with omitempty, an emptied slice or map reads back as nil.
			name:  "empty slices and maps clear them",
			patch: baleen.BuildPatch{Stages: []baleen.StageResult{}, Artifacts: []string{}, Images: map[string]string{}},
			want:  func(b *baleen.Build) { b.Stages, b.Artifacts, b.Images = nil, nil, nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			mustProject(t, s, "api")
			created := mustBuild(t, s, base)
			want := created
			tt.want(&want)

			got, err := s.UpdateBuild(t.Context(), "api", 1, tt.patch)
			if err != nil {
				t.Fatalf("UpdateBuild: %v", err)
			}
			// The returned build and the stored one agree, up to emptiness (JSON drops empty slices).
			stored, err := s.Build(t.Context(), "api", 1)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if diff := cmp.Diff(want, stored); diff != "" {
				t.Errorf("stored build (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(stored, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("returned build differs from stored (-stored +returned):\n%s", diff)
			}
		})
	}
}

// TestUpdateBuildConcurrent patches different fields of one build at once: each update reads and rewrites
// the whole record, so without transactions that retry on conflict some patches would be lost.
func TestUpdateBuildConcurrent(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustBuild(t, s, baleen.Build{Project: "api", Created: t0})
	started, finished := t0.Add(time.Second), t0.Add(time.Hour)
	patches := []baleen.BuildPatch{
		{Status: ptr(baleen.StatusPassed)},
		{Started: &started},
		{Finished: &finished},
		{Message: ptr("done")},
		{FailedStage: ptr(baleen.StageTag)},
		{Artifacts: []string{"x"}},
		{Images: map[string]string{"app": "app:t"}},
		{Report: &baleen.TestReport{Passed: 1}},
	}
	var wg sync.WaitGroup
	for _, p := range patches {
		wg.Go(func() {
			if _, err := s.UpdateBuild(t.Context(), "api", 1, p); err != nil {
				t.Errorf("UpdateBuild: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.Build(t.Context(), "api", 1)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	want := baleen.Build{
		Project: "api", Number: 1, Status: baleen.StatusPassed, Created: t0, Started: started, Finished: finished,
		Message: "done", FailedStage: baleen.StageTag, Artifacts: []string{"x"}, Images: map[string]string{"app": "app:t"},
		Report: &baleen.TestReport{Passed: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("build after concurrent patches (-want +got):\n%s", diff)
	}
}

func TestBuilds(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	for _, p := range []string{"api", "api-v2", "web"} {
		mustProject(t, s, p)
	}
	// Creation order across projects: api#1, web#1, api#2, api-v2#1, api#3, web#2.
	order := []string{"api", "web", "api", "api-v2", "api", "web"}
	for i, p := range order {
		mustBuild(t, s, baleen.Build{Project: p, Created: t0.Add(time.Duration(i) * time.Minute)})
	}
	set := func(p string, n int, st baleen.Status) {
		t.Helper()
		if _, err := s.UpdateBuild(ctx, p, n, baleen.BuildPatch{Status: &st}); err != nil {
			t.Fatalf("UpdateBuild: %v", err)
		}
	}
	set("api", 1, baleen.StatusPassed)
	set("api", 2, baleen.StatusFailed)
	set("web", 1, baleen.StatusPassed)
	set("api", 3, baleen.StatusRunning)

	type id struct {
		Project string
		Number  int
	}
	tests := []struct {
		name   string
		filter baleen.BuildFilter
		want   []id
	}{
		{name: "all", filter: baleen.BuildFilter{},
			want: []id{{"web", 2}, {"api", 3}, {"api-v2", 1}, {"api", 2}, {"web", 1}, {"api", 1}}},
		{name: "all limited", filter: baleen.BuildFilter{Limit: 2}, want: []id{{"web", 2}, {"api", 3}}},
		{name: "one project", filter: baleen.BuildFilter{Project: "api"}, want: []id{{"api", 3}, {"api", 2}, {"api", 1}}},
		{name: "prefix of another project's name", filter: baleen.BuildFilter{Project: "api-v2"}, want: []id{{"api-v2", 1}}},
		{name: "one project limited", filter: baleen.BuildFilter{Project: "api", Limit: 2}, want: []id{{"api", 3}, {"api", 2}}},
		{name: "limit above count", filter: baleen.BuildFilter{Project: "web", Limit: 10}, want: []id{{"web", 2}, {"web", 1}}},
		{name: "statuses", filter: baleen.BuildFilter{Statuses: []baleen.Status{baleen.StatusPassed, baleen.StatusFailed}},
			want: []id{{"api", 2}, {"web", 1}, {"api", 1}}},
		{name: "statuses in project limited", filter: baleen.BuildFilter{Project: "api", Statuses: []baleen.Status{baleen.StatusPassed, baleen.StatusFailed}, Limit: 1},
			want: []id{{"api", 2}}},
		{name: "queued", filter: baleen.BuildFilter{Statuses: []baleen.Status{baleen.StatusQueued}}, want: []id{{"web", 2}, {"api-v2", 1}}},
		{name: "no match", filter: baleen.BuildFilter{Statuses: []baleen.Status{baleen.StatusCancelled}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs, err := s.Builds(ctx, tt.filter)
			if err != nil {
				t.Fatalf("Builds: %v", err)
			}
			var got []id
			for _, b := range bs {
				got = append(got, id{b.Project, b.Number})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Builds(%+v) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

package store_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/google/go-cmp/cmp"
)

func TestCreateRelease(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustProject(t, s, "web")
	ctx := t.Context()

	in := baleen.Release{
		Project: "api", Number: 42, Build: 7, Commit: "abc123", Target: "production",
		Images: map[string]string{"api": "registry:5000/api@sha256:00"}, Started: t0, By: "push",
	}
	r1, err := s.CreateRelease(ctx, in)
	if err != nil {
		t.Fatalf("CreateRelease: %v", err)
	}
	want := in
	want.Number, want.Status = 1, baleen.StatusQueued
	if diff := cmp.Diff(want, r1); diff != "" {
		t.Errorf("CreateRelease (-want +got):\n%s", diff)
	}
	got, err := s.Release(ctx, "api", 1)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Release (-want +got):\n%s", diff)
	}
	r2, err := s.CreateRelease(ctx, baleen.Release{Project: "api", Build: 8})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Number != 2 || r2.Started.IsZero() {
		t.Errorf("second release: got number %d, started %v; want 2 and the time of creation", r2.Number, r2.Started)
	}
	// Release numbers are per project and apart from build numbers.
	if w1, err := s.CreateRelease(ctx, baleen.Release{Project: "web"}); err != nil || w1.Number != 1 {
		t.Errorf("first release of web: got %d, %v; want 1", w1.Number, err)
	}
}

func TestReleaseErrors(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	ctx := t.Context()
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"create for a missing project", func() error { _, err := s.CreateRelease(ctx, baleen.Release{Project: "nope"}); return err }, baleen.ErrNotFound},
		{"create with a bad name", func() error { _, err := s.CreateRelease(ctx, baleen.Release{Project: "../x"}); return err }, baleen.ErrInvalid},
		{"missing release", func() error { _, err := s.Release(ctx, "api", 1); return err }, baleen.ErrNotFound},
		{"release zero", func() error { _, err := s.Release(ctx, "api", 0); return err }, baleen.ErrNotFound},
		{"list a missing project", func() error { _, err := s.Releases(ctx, "nope", 0); return err }, baleen.ErrNotFound},
		{"negative limit", func() error { _, err := s.Releases(ctx, "api", -1); return err }, baleen.ErrInvalid},
		{"update a missing release", func() error { _, err := s.UpdateRelease(ctx, "api", 3, baleen.ReleasePatch{}); return err }, baleen.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestUpdateRelease(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	ctx := t.Context()
	r, err := s.CreateRelease(ctx, baleen.Release{Project: "api", Build: 3, Started: t0})
	if err != nil {
		t.Fatal(err)
	}
	hosts := []baleen.HostResult{
		{Host: "10.0.0.11:22", Status: baleen.StatusFailed, Message: "health check failed"},
		{Host: "10.0.0.12:22", Status: baleen.StatusQueued},
	}
	got, err := s.UpdateRelease(ctx, "api", r.Number, baleen.ReleasePatch{
		Status: ptr(baleen.StatusFailed), Message: ptr("host 10.0.0.11:22 failed"), Hosts: hosts, Finished: ptr(t0.Add(90e9)),
	})
	if err != nil {
		t.Fatalf("UpdateRelease: %v", err)
	}
	want := r
	want.Status, want.Message, want.Hosts, want.Finished = baleen.StatusFailed, "host 10.0.0.11:22 failed", hosts, t0.Add(90e9)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UpdateRelease (-want +got):\n%s", diff)
	}
	// An empty patch changes nothing.
	again, err := s.UpdateRelease(ctx, "api", r.Number, baleen.ReleasePatch{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("empty patch (-want +got):\n%s", diff)
	}
}

func TestReleases(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustProject(t, s, "api2")
	ctx := t.Context()
	for range 3 {
		if _, err := s.CreateRelease(ctx, baleen.Release{Project: "api"}); err != nil {
			t.Fatal(err)
		}
	}
	// A project whose name extends "api" must not leak into its listing.
	if _, err := s.CreateRelease(ctx, baleen.Release{Project: "api2"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		limit int
		want  []int
	}{
		{"all", 0, []int{3, 2, 1}},
		{"limited", 2, []int{3, 2}},
		{"above count", 10, []int{3, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := s.Releases(ctx, "api", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, r := range rs {
				if r.Project != "api" {
					t.Errorf("got a release of %s, want only api", r.Project)
				}
				got = append(got, r.Number)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("numbers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateReleaseConcurrent(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	const n = 20
	var wg sync.WaitGroup
	nums := make(chan int, n)
	for range n {
		wg.Go(func() {
			r, err := s.CreateRelease(t.Context(), baleen.Release{Project: "api"})
			if err != nil {
				t.Error(err)
				return
			}
			nums <- r.Number
		})
	}
	wg.Wait()
	close(nums)
	seen := map[int]bool{}
	for n := range nums {
		if seen[n] {
			t.Errorf("release number %d given twice", n)
		}
		seen[n] = true
	}
	for i := 1; i <= n; i++ {
		if !seen[i] {
			t.Errorf("release number %d missing", i)
		}
	}
}

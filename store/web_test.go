package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

func TestTokens(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	h := strings.Repeat("ab", 32)
	tok := baleen.APIToken{ID: h[:12], Hash: h, Identity: baleen.Identity{User: "ann"}, ReadOnly: true, Created: time.Now().UTC()}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, tok); !errors.Is(err, baleen.ErrExists) {
		t.Fatalf("second create: got %v, want ErrExists", err)
	}
	if err := s.CreateToken(ctx, baleen.APIToken{ID: "x", Hash: "short"}); !errors.Is(err, baleen.ErrInvalid) {
		t.Fatalf("bad hash: got %v, want ErrInvalid", err)
	}
	got, err := s.TokenByHash(ctx, h)
	if err != nil || got.Identity.User != "ann" || !got.ReadOnly || got.Hash != h {
		t.Fatalf("by hash: got %+v, %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, strings.Repeat("cd", 32)); !errors.Is(err, baleen.ErrNotFound) {
		t.Fatalf("unknown hash: got %v, want ErrNotFound", err)
	}
	if all, err := s.Tokens(ctx); err != nil || len(all) != 1 {
		t.Fatalf("list: got %d, %v", len(all), err)
	}
	if err := s.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteToken(ctx, tok.ID); !errors.Is(err, baleen.ErrNotFound) {
		t.Fatalf("second delete: got %v, want ErrNotFound", err)
	}
	if s.Size() <= 0 {
		t.Error("Size: want the database's bytes on disk")
	}
}

func TestLogSize(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.CreateProject(ctx, baleen.Project{Name: "p"}); err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateBuild(ctx, baleen.Build{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.LogWriter(ctx, "p", b.Number)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(strings.Repeat("x", 100<<10)))
	if n, err := s.LogSize(ctx, "p", b.Number); err != nil || n != 100<<10 {
		t.Fatalf("while writing: got %d, %v, want %d", n, err, 100<<10)
	}
	w.Close()
	if n, err := s.LogSize(ctx, "p", b.Number); err != nil || n != 100<<10 {
		t.Fatalf("after close: got %d, %v, want %d", n, err, 100<<10)
	}
}

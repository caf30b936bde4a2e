package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
)

// TestRefMoveGroupsAndRebuilds: ref move groups and owed rebuilds outlive a restart, are replaced when added
// again, forgotten by Done (forgetting one not recorded is no error), and names that could not make their
// keys alone are refused.
func TestRefMoveGroupsAndRebuilds(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	g := store.RefMoveGroup{Project: "app", ID: "0123abcd", Moves: []store.GroupMove{
		{Ref: "refs/heads/main", Old: a, New: b, Build: true}, {Ref: "refs/tags/v1", Old: strings.Repeat("0", 40), New: b}}}
	other := store.RefMoveGroup{Project: "web", ID: "ff", Moves: []store.GroupMove{{Ref: "refs/heads/dev", Old: a, New: b, Build: true}}}
	for _, grp := range []store.RefMoveGroup{other, g, g} {
		if err := st.AddRefMoveGroup(ctx, grp); err != nil {
			t.Fatal(err)
		}
	}
	rb := store.Rebuild{Project: "app", Ref: "refs/heads/feature/x", Commit: b, Dependent: "web", Branch: "main"}
	rb2 := rb
	rb2.Branch = "dev"
	if err := st.AddRebuilds(ctx, []store.Rebuild{rb, rb2, rb}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []store.RefMoveGroup{{Project: "app", ID: ""}, {Project: "app", ID: "../x"}, {Project: "App", ID: "1"}} {
		if err := st.AddRefMoveGroup(ctx, bad); !errors.Is(err, baleen.ErrInvalid) {
			t.Errorf("AddRefMoveGroup(%+v): got %v, want ErrInvalid", bad, err)
		}
	}
	bad := rb
	bad.Branch = "x\x00y"
	if err := st.AddRebuilds(ctx, []store.Rebuild{bad}); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("AddRebuilds with a NUL in a branch: got %v, want ErrInvalid", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = store.Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	groups, err := st.RefMoveGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.RefMoveGroup{g, other}, groups); diff != "" {
		t.Errorf("groups after a restart (-want +got):\n%s", diff)
	}
	rebuilds, err := st.Rebuilds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Rebuild{rb2, rb}, rebuilds); diff != "" {
		t.Errorf("rebuilds after a restart (-want +got):\n%s", diff)
	}
	for _, err := range []error{st.DoneRefMoveGroup(ctx, "app", g.ID), st.DoneRefMoveGroup(ctx, "app", "99"), st.DoneRebuild(ctx, rb)} {
		if err != nil {
			t.Errorf("done: %v", err)
		}
	}
	if groups, _ := st.RefMoveGroups(ctx); len(groups) != 1 || groups[0].ID != other.ID {
		t.Errorf("groups left: got %+v, want web's alone", groups)
	}
	if rebuilds, _ := st.Rebuilds(ctx); len(rebuilds) != 1 || rebuilds[0] != rb2 {
		t.Errorf("rebuilds left: got %+v, want %+v", rebuilds, rb2)
	}
}

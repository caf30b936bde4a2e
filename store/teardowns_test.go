package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
)

func TestPendingTeardowns(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for id, eng := range map[baleen.BuildID]string{"abcd-app-1": "local", "abcd-app-2": "build-2"} {
		if err := st.AddTeardown(ctx, id, eng); err != nil {
			t.Fatalf("AddTeardown %s: %v", id, err)
		}
	}
	if err := st.AddTeardown(ctx, "Bad ID/..", ""); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("AddTeardown of a bad id: got %v, want ErrInvalid", err)
	}
	if err := st.DoneTeardown(ctx, "abcd-app-1"); err != nil {
		t.Fatalf("DoneTeardown: %v", err)
	}
	if err := st.DoneTeardown(ctx, "abcd-app-9"); err != nil {
		t.Errorf("DoneTeardown of one not recorded: %v", err)
	}
	st.Close()
	// What is pending survives a restart.
	st, err = store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.PendingTeardowns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[baleen.BuildID]string{"abcd-app-2": "build-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PendingTeardowns = %v, want %v", got, want)
	}
}

package web

import (
	"strings"
	"testing"
)

// The frame links the engines page for the signed-in when the server has an engine pool, and for no one
// else.
func TestNavLinksEngines(t *testing.T) {
	const link = `<a href="/engines">Engines</a>`
	f, _ := engineFixture(t)
	if _, page := get(t, f.client("pat"), f.ts.URL+"/"); !strings.Contains(page, link) {
		t.Errorf("signed-in dashboard lacks the engines link:\n%s", page)
	}
	if _, page := get(t, f.client(""), f.ts.URL+"/"); strings.Contains(page, link) {
		t.Error("the dashboard links the engines page for a caller who is not signed in")
	}
	plain := newFixture(t, nil)
	if _, page := get(t, plain.client("rita"), plain.ts.URL+"/"); strings.Contains(page, link) {
		t.Error("the dashboard links the engines page on a server without an engine pool")
	}
}

package pipeline_test

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

const afterSpec = `
build:
  app: .
depends:
  migrate:
    image: app
    after: [db, cache]
  db:
    image: app
  cache:
    image: app
    after: [db]
  web:
    image: app
test:
  command: ["./test.sh"]
`

// TestDependsAfter starts db first, cache once db is ready and migrate once both are, while web, which
// waits for none, starts whenever; the engine's calls show the order.
func TestDependsAfter(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", afterSpec)
	b := sv.run("app", "c1", io.Discard)
	if b.Status != baleen.StatusPassed {
		t.Fatalf("got %s (%s), want passed", b.Status, b.Message)
	}
	var starts []string
	for _, c := range sv.eng.Calls() {
		if name, ok := strings.CutPrefix(c, "Start "); ok && name != "test" {
			starts = append(starts, name)
		}
	}
	at := func(name string) int { return slices.Index(starts, name) }
	if at("db") < 0 || at("cache") < at("db") || at("migrate") < at("cache") || at("web") < 0 {
		t.Errorf("dependencies started in the order %v; want db before cache before migrate, and web", starts)
	}
}

// TestDependsAfterFailed crashes db: cache and migrate, which run after it, never start and the build's
// message names db as the reason; web, which waits for nothing, still starts.
func TestDependsAfterFailed(t *testing.T) {
	sv := newServer(t, nil)
	sv.eng.Crash = map[string]int{"db": 3}
	sv.commit("app", "c1", afterSpec)
	var out syncBuffer
	b := sv.run("app", "c1", &out)
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageDepends {
		t.Fatalf("got %s at %s (%s), want failed at depends", b.Status, b.FailedStage, b.Message)
	}
	calls := sv.eng.Calls()
	for _, name := range []string{"cache", "migrate"} {
		if slices.Contains(calls, "Start "+name) {
			t.Errorf("%s started though db, which it runs after, failed", name)
		}
		if want := "dependency " + name + ": not started: "; !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !slices.Contains(calls, "Start web") {
		t.Errorf("web did not start; it waits for nothing. Calls: %v", calls)
	}
}

package pipeline_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
	"github.com/baleen-ci/baleen/pipeline"
)

// The tests of a dependency that names a project of the server: the build's identity needs the read role
// on it, through a real access.Policy, and the refusal says the same whether the project exists or not.

// accessServer is a scheduler whose Authorizer is a Policy where bob writes shop-* and carol also reads
// secret-svc; it returns their identities, as the keys they prove resolve to.
func accessServer(t *testing.T) (*server, baleen.Identity, baleen.Identity) {
	t.Helper()
	bobKey, carolKey := newKey(t), newKey(t)
	policy := access.New(access.Options{Config: access.Config{
		Users: map[string]access.User{
			"bob":   {Name: "bob", Keys: []gossh.PublicKey{bobKey}},
			"carol": {Name: "carol", Keys: []gossh.PublicKey{carolKey}},
		},
		Rules: []access.Rule{
			{Projects: []string{"shop-*"}, Users: []string{"bob", "carol"}, Role: baleen.RoleWrite},
			{Projects: []string{"secret-svc"}, Users: []string{"carol"}, Role: baleen.RoleRead},
		},
	}})
	bob, ok := policy.Lookup(bobKey)
	carol, ok2 := policy.Lookup(carolKey)
	if !ok || !ok2 {
		t.Fatal("the policy does not know its users' keys")
	}
	return newServer(t, func(c *pipeline.SchedulerConfig) { c.Authz = policy }), bob, carol
}

func newKey(t *testing.T) gossh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// dependsOn is a baleen.yml whose dependency svc names src.
func dependsOn(src string) string {
	return "build:\n  app: .\ndepends:\n  svc:\n    src: " + src + "\ntest:\n  command: [\"./test.sh\"]\n"
}

func (sv *server) runAs(id baleen.Identity, pusher, project, commit string) baleen.Build {
	sv.t.Helper()
	b, err := sv.s.Run(context.Background(), pipeline.Request{Project: project, Branch: "main", Commit: commit, Pusher: pusher, Identity: id, Out: io.Discard})
	if err != nil {
		sv.t.Fatalf("Run %s %s: %v", project, commit, err)
	}
	return b
}

// refusal checks that b was refused at the dependencies stage, and returns its message.
func refusal(t *testing.T, b baleen.Build, what string) string {
	t.Helper()
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageDependencies {
		t.Fatalf("%s: got %s at %q (%s), want failed at dependencies", what, b.Status, b.FailedStage, b.Message)
	}
	return b.Message
}

// A writer of shop-* cannot read secret-svc by naming it as a dependency: its build is refused before
// secret-svc is built, in the very words a missing project gets, naming the dependency's place.
func TestDependencyOnUnreadableProjectRefusedLikeMissing(t *testing.T) {
	sv, bob, _ := accessServer(t)
	sv.commit("secret-svc", "s1", appSpec)
	sv.commit("shop-web", "w1", dependsOn("secret-svc"))
	sv.commit("shop-api", "a1", dependsOn("missing-svc"))
	secret := refusal(t, sv.runAs(bob, "bob", "shop-web", "w1"), "secret-svc")
	missing := refusal(t, sv.runAs(bob, "bob", "shop-api", "a1"), "missing-svc")
	if !strings.Contains(secret, "depends.svc.src") || !strings.Contains(secret, "read role") {
		t.Errorf("refusal does not name the dependency's place and the role: %s", secret)
	}
	if a, b := strings.ReplaceAll(secret, "secret-svc", "X"), strings.ReplaceAll(missing, "missing-svc", "X"); a != b {
		t.Errorf("an unreadable project and a missing one are told apart:\n%s\n%s", secret, missing)
	}
	if bs, err := sv.st.Builds(t.Context(), baleen.BuildFilter{Project: "secret-svc"}); err != nil || len(bs) != 0 {
		t.Errorf("secret-svc was built for bob: %d builds, %v", len(bs), err)
	}
}

// The check holds down a chain: a project bob may read cannot reach secret-svc for him either.
func TestDependencyOfDependencyChecked(t *testing.T) {
	sv, bob, _ := accessServer(t)
	sv.commit("secret-svc", "s1", appSpec)
	sv.commit("shop-lib", "l1", dependsOn("secret-svc"))
	sv.commit("shop-web", "w1", dependsOn("shop-lib"))
	refusal(t, sv.runAs(bob, "bob", "shop-web", "w1"), "shop-web")
	if bs, err := sv.st.Builds(t.Context(), baleen.BuildFilter{Project: "secret-svc"}); err != nil || len(bs) != 0 {
		t.Errorf("secret-svc was built for bob through shop-lib: %d builds, %v", len(bs), err)
	}
}

// A user with the read role on secret-svc builds with it; a build the server starts itself then acts for
// that last pusher, and one with no pusher on record may name no project.
func TestDependencyOnReadableProjectBuilds(t *testing.T) {
	sv, bob, carol := accessServer(t)
	sv.commit("secret-svc", "s1", appSpec)
	sv.commit("shop-web", "w1", dependsOn("secret-svc"))
	pusher := "carol (" + carol.Fingerprint + ")"
	if b := sv.runAs(carol, pusher, "shop-web", "w1"); b.Status != baleen.StatusPassed || len(b.Dependencies) != 1 {
		t.Fatalf("carol: got %s (%s) %+v, want passed with secret-svc built", b.Status, b.Message, b.Dependencies)
	}
	if id, ok := pipeline.LastPusher(t.Context(), sv.st, "shop-web"); !ok || id != (baleen.Identity{User: "carol", Fingerprint: carol.Fingerprint}) {
		t.Errorf("LastPusher: got %+v %v, want carol", id, ok)
	}
	if b := sv.runAs(baleen.Identity{}, "mirror", "shop-web", "w1"); b.Status != baleen.StatusPassed {
		t.Errorf("server-started build after carol's: got %s (%s), want passed", b.Status, b.Message)
	}
	sv.commit("shop-new", "n1", dependsOn("secret-svc"))
	refusal(t, sv.runAs(baleen.Identity{}, "mirror", "shop-new", "n1"), "server-started build with no pusher")
	// bob's red push of shop-web does not become the identity server-started builds act for.
	sv.commit("shop-web", "w2", dependsOn("secret-svc"))
	refusal(t, sv.runAs(bob, "bob ("+bob.Fingerprint+")", "shop-web", "w2"), "bob")
	if id, _ := pipeline.LastPusher(t.Context(), sv.st, "shop-web"); id.User != "carol" {
		t.Errorf("LastPusher after bob's red build: got %+v, want carol", id)
	}
}

func TestParsePusher(t *testing.T) {
	for in, want := range map[string]baleen.Identity{
		"alice (SHA256:abc)": {User: "alice", Fingerprint: "SHA256:abc"},
		"SHA256:abc":         {User: "SHA256:abc", Fingerprint: "SHA256:abc"},
		"mirror":             {},
		"dependency of a#1":  {},
		"rebuild after a b":  {},
		"a b (SHA256:abc)":   {},
		"alice (abc)":        {},
		"alice (SHA256:a b)": {},
	} {
		got, ok := baleen.ParsePusher(in)
		if got != want || ok != (want != baleen.Identity{}) {
			t.Errorf("ParsePusher(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
}

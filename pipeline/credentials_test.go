package pipeline_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
	"github.com/baleen-ci/baleen/pipeline"
)

// TestSchedulerDependencyCredentialScope stops a project from handing a dependency a secret outside the
// project's scope: the config stage refuses it at the line and column it is named, with the words the
// server uses for a secret it does not have at all, so that a pusher learns nothing of other projects'
// secrets. A secret in scope passes, and reaches only the container that lists it.
func TestSchedulerDependencyCredentialScope(t *testing.T) {
	policy := access.New(access.Options{Config: access.Config{Credentials: map[string][]string{
		"SHOP_DB": {"shop-*"}, "OTHER_DB": {"other"}, "APP_KEY": {"shop-api"},
	}}})
	values := map[string]string{"SHOP_DB": "shop-db-value", "OTHER_DB": "other-db-value", "APP_KEY": "app-key-value"}
	sv := newServer(t, func(c *pipeline.SchedulerConfig) {
		c.CredentialScope = policy.CheckCredentials
		c.Secret = func(name string) (string, bool) { v, ok := values[name]; return v, ok }
	})
	const spec = "build:\n  app: .\ndepends:\n  db:\n    image: postgres:16\n    credentials: [%s]\n  cache:\n    image: redis:7\ntest:\n  command: [\"./test.sh\"]\n  credentials: [APP_KEY]\n"
	for _, tc := range []struct{ name, secret, want string }{
		{"another project's", "OTHER_DB", "baleen.yml:6:19: depends.db.credentials[0]: credential OTHER_DB is not available to project shop-api"},
		{"unknown", "NO_SUCH", "baleen.yml:6:19: depends.db.credentials[0]: credential NO_SUCH is not available to project shop-api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			commit := "c-" + tc.secret
			sv.commit("shop-api", commit, strings.ReplaceAll(spec, "%s", tc.secret))
			var out syncBuffer
			b := sv.run("shop-api", commit, &out)
			if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageConfig {
				t.Fatalf("got %s at %q, want failed at config; output:\n%s", b.Status, b.FailedStage, out.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}

	var testEnv map[string]string
	sv.eng.Test = func(_ context.Context, _ baleen.BuildID, c baleen.ContainerSpec, out io.Writer) (int, error) {
		testEnv = c.Env
		return 0, nil
	}
	sv.commit("shop-api", "c-ok", strings.ReplaceAll(spec, "%s", "SHOP_DB"))
	var out syncBuffer
	if b := sv.run("shop-api", "c-ok", &out); b.Status != baleen.StatusPassed {
		t.Fatalf("in scope: got %s (%s), want passed; output:\n%s", b.Status, b.Message, out.String())
	}
	if _, ok := testEnv["SHOP_DB"]; ok {
		t.Error("the test container got SHOP_DB, which only the dependency db lists")
	}
	if got := testEnv["APP_KEY"]; got != "app-key-value" {
		t.Errorf("the test container's APP_KEY (test.credentials): got %q, want its value", got)
	}
}

package spec

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const secretsFile = `build: {api: .}
credentials: [API_KEY]
depends:
  db:
    image: postgres:16
    credentials: [DB_PASSWORD]
  cache:
    image: redis:7
deploy:
  target: prod
  units:
    web: {image: api, credentials: [WEB_TOKEN, DB_PASSWORD]}
test:
  credentials: [TEST_ONLY, API_KEY]
`

// TestDependencyCredentials checks that each dependency keeps its own list of secrets, that a dependency
// without one gets none, that test.credentials adds to the subject's, and which secrets a build's
// containers get (deploy units' are not among them).
func TestDependencyCredentials(t *testing.T) {
	f, err := ParseFile("baleen.yml", []byte(secretsFile))
	if err != nil {
		t.Fatalf("ParseFile: got %v, want no error", err)
	}
	s := f.Spec
	if diff := cmp.Diff([]string{"DB_PASSWORD"}, s.Depends[0].Credentials); diff != "" {
		t.Errorf("depends.db.credentials (-want +got):\n%s", diff)
	}
	if got := s.Depends[1].Credentials; got != nil {
		t.Errorf("depends.cache.credentials: got %v, want none", got)
	}
	if diff := cmp.Diff([]string{"API_KEY", "TEST_ONLY"}, s.SubjectSecrets()); diff != "" {
		t.Errorf("SubjectSecrets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"API_KEY", "TEST_ONLY", "DB_PASSWORD"}, s.BuildSecrets()); diff != "" {
		t.Errorf("BuildSecrets (-want +got):\n%s", diff)
	}
	want := []SecretUse{
		{"API_KEY", "credentials[0]", 2, 15},
		{"DB_PASSWORD", "depends.db.credentials[0]", 6, 19},
		{"WEB_TOKEN", "deploy.units.web.credentials[0]", 12, 37},
		{"DB_PASSWORD", "deploy.units.web.credentials[1]", 12, 48},
		{"TEST_ONLY", "test.credentials[0]", 14, 17},
		{"API_KEY", "test.credentials[1]", 14, 28},
	}
	if diff := cmp.Diff(want, f.Secrets()); diff != "" {
		t.Errorf("Secrets (-want +got):\n%s", diff)
	}
}

// TestCheckSecrets: a secret the project may not name is refused where it is named, file:line:col, with
// the refusal's own words; one it may name passes.
func TestCheckSecrets(t *testing.T) {
	f, err := ParseFile("baleen.yml", []byte(secretsFile))
	if err != nil {
		t.Fatal(err)
	}
	refuse := func(name string) error {
		if name == "DB_PASSWORD" {
			return fmt.Errorf("credential %s is not available to project shop", name)
		}
		return nil
	}
	err = f.CheckSecrets(refuse)
	want := "baleen.yml:6:19: depends.db.credentials[0]: credential DB_PASSWORD is not available to project shop\n" +
		"baleen.yml:12:48: deploy.units.web.credentials[1]: credential DB_PASSWORD is not available to project shop"
	if err == nil || err.Error() != want {
		t.Fatalf("CheckSecrets: got %v, want\n%s", err, want)
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Errorf("CheckSecrets: got %T, want Errors of 2", err)
	}
	if err := f.CheckSecrets(func(string) error { return nil }); err != nil {
		t.Errorf("CheckSecrets refusing nothing: got %v, want nil", err)
	}
}

// TestDependencyCredentialsBad: a dependency's credentials are checked like the top-level list.
func TestDependencyCredentialsBad(t *testing.T) {
	in := "build: {api: .}\ndepends:\n  db: {image: postgres:16, credentials: [DB_PASSWORD, 1BAD, DB_PASSWORD]}\n"
	_, err := Parse("baleen.yml", []byte(in))
	want := "baleen.yml:3:55: depends.db.credentials[1]: \"1BAD\" is not a valid variable name: use letters, digits and '_', not starting with a digit\n" +
		"baleen.yml:3:61: depends.db.credentials[2]: DB_PASSWORD is listed twice (first at line 3)"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse: got %v, want\n%s", err, want)
	}
}

package forge_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/forge"
)

// A status API or repository given in the config that no call could be made with is refused at start,
// naming the key, rather than failing each status later.
func TestStatusConfigErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct {
		api, repo, want string
	}{
		{"api.github.com", "acme/shop-api", "mirrors.shop-api: status.api"},
		{"ftp://git.example.com/api/v1", "acme/shop-api", "mirrors.shop-api: status.api"},
		{"https://tok3n@git.example.com/api/v1", "acme/shop-api", "mirrors.shop-api: status.api"},
		{"https://git.example.com/api/v1", "../../admin", "mirrors.shop-api: status.repo"},
		{"https://git.example.com/api/v1", "acme/shop api?x=1", "mirrors.shop-api: status.repo"},
	} {
		m := forge.Mirror{URL: "https://git.example.com/acme/shop-api.git",
			Status: &forge.StatusConfig{Kind: "gitea", TokenFile: "/t", API: c.api, Repo: c.repo}}
		err := m.Validate("shop-api")
		if !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "tok3n") {
			t.Errorf("api %q repo %q: got %v, want ErrInvalid naming %s (without a credential)", c.api, c.repo, err, c.want)
		}
	}
	ok := forge.Mirror{URL: "git@git.example.com:acme/shop-api.git",
		Status: &forge.StatusConfig{Kind: "gitlab", TokenFile: "/t", API: "https://git.example.com/api/v4", Repo: "acme/sub/shop-api"}}
	if err := ok.Validate("shop-api"); err != nil {
		t.Errorf("a valid status config: got %v", err)
	}
}

// `mirror add`, which a project's admin may run, follows only repositories hosted elsewhere: a path on the
// server (another project's repository under the data directory, say) is refused, as a dependency's path
// outside local_sources is. The server config, written by the operator, may name one.
func TestMirrorAddRefusesPathsOnTheServer(t *testing.T) {
	f, err := forge.NewFollower(nil, filepath.Join(t.TempDir(), "mirrors.json"), nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"/var/lib/baleen/repos/other.git", "file:///var/lib/baleen/repos/other.git", "FILE:///x.git", "repos/other.git"} {
		if err := f.Add("billing", u, nil); !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), "url") {
			t.Errorf("mirror add %s: got %v, want ErrInvalid about the url", u, err)
		}
	}
	for _, u := range []string{"https://git.example.com/acme/billing.git", "git@git.example.com:acme/billing.git", "ssh://git@git.example.com/acme/billing.git"} {
		if err := f.Add("billing", u, nil); err != nil {
			t.Errorf("mirror add %s: got %v, want it followed", u, err)
		}
		if err := f.Remove("billing"); err != nil {
			t.Fatal(err)
		}
	}
}

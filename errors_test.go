package baleen_test

import (
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestLatestTagPerProject: two projects never share the latest tag of an image of the same name, and no
// per-build tag reads as a latest one (so pruning keeps only the latest).
func TestLatestTagPerProject(t *testing.T) {
	a, b := baleen.LatestTag("shop", "api"), baleen.LatestTag("shop-latest", "api")
	if a == b || a != "api:baleen-shop-latest" {
		t.Errorf("got %q and %q, want two tags, the first api:baleen-shop-latest", a, b)
	}
	for ref, want := range map[string]bool{
		a: true, "api:latest": true,
		baleen.BuildID("shop-3-66a1a15c").ImageTag("api"): false,
		"api:v1-latest": false,
	} {
		if got := baleen.IsLatestTag(ref); got != want {
			t.Errorf("IsLatestTag(%q): got %v, want %v", ref, got, want)
		}
	}
}

// TestRedactURLShortUserParts stops a URL's user part from reaching a message because it is short (a
// 6-character token is still a token).
func TestRedactURLShortUserParts(t *testing.T) {
	for in, want := range map[string]string{
		"https://tok123@git.example.com/a.git": "https://git.example.com/a.git",
		"https://u:p@git.example.com/a.git":    "https://git.example.com/a.git",
		"https://git.example.com/a.git":        "https://git.example.com/a.git",
		"git@git.example.com:a.git":            "git@git.example.com:a.git",
		"/srv/git/a.git":                       "/srv/git/a.git",
		"https://x@h/%zz":                      "(a URL that does not parse)",
	} {
		if got := baleen.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q): got %q, want %q", in, got, want)
		}
	}
	msg := "fetch https://tok123:pw@git.example.com/a.git: authentication required for tok123"
	got := baleen.RedactText(msg, "https://tok123:pw@git.example.com/a.git")
	if got != "fetch https://git.example.com/a.git: authentication required for xxxxx" {
		t.Errorf("RedactText: got %q", got)
	}
	if got := baleen.RedactText("git exited 128 with git-upload-pack", "ssh://git@h/a.git"); got != "git exited 128 with git-upload-pack" {
		t.Errorf("RedactText of an ssh login name, which is no secret: got %q", got)
	}
}

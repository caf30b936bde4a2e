package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen/api"
)

// TestSignedPushRecordsSigner: the key that signed a push's certificate (git push --signed with an SSH
// signature) is kept in the record of the push's build, and `status --json` and `status` show it; an
// unsigned push's build names no signer.
func TestSignedPushRecordsSigner(t *testing.T) {
	s := newServer(t)
	s.start()
	r := s.newRepo(projectFiles("e2e-signed", greenTest))
	signing := s.newKey("signing")
	pub, err := os.ReadFile(signing + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := gossh.FingerprintSHA256(pk)
	env := append(gitEnv(s.home), "GIT_SSH_COMMAND="+s.gitSSH(s.key))
	signed := s.exec(r.dir, env, "git", "-c", "gpg.format=ssh", "-c", "user.signingkey="+signing, "push", "--signed", s.url("signed"), "main")
	want(t, signed, 0, "push certificate signed by "+fingerprint)
	var b api.Build
	res := s.ssh("status", "signed", "--json")
	if err := json.Unmarshal([]byte(res.stdout), &b); err != nil {
		t.Fatalf("status --json: %v\n%s", err, res)
	}
	if b.Number != 1 || b.Signer != fingerprint {
		t.Errorf("build record: got #%d signed by %q, want #1 signed by %s", b.Number, b.Signer, fingerprint)
	}
	if res := s.ssh("status", "signed"); !strings.Contains(res.stdout, "signed  by "+fingerprint) {
		t.Errorf("status does not name the signer %s:\n%s", fingerprint, res)
	}
	r.write(map[string]string{"README": "unsigned"})
	r.commit("unsigned")
	want(t, r.push(s.url("signed"), "main"), 0)
	res = s.ssh("status", "signed", "--json")
	b = api.Build{}
	if err := json.Unmarshal([]byte(res.stdout), &b); err != nil {
		t.Fatalf("status --json: %v\n%s", err, res)
	}
	if b.Number != 2 || b.Signer != "" {
		t.Errorf("unsigned push's build: got #%d signed by %q, want #2 with no signer", b.Number, b.Signer)
	}
}

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen/pipeline/docker/registrytest"
)

func pushFiles(image, registry, tags string) map[string]string {
	files := projectFiles(image, greenTest)
	files["baleen.yml"] += "push:\n  registry: " + registry + "\n  tags: " + tags + "\n"
	return files
}

func TestServePushesToRegistry(t *testing.T) {
	anon := registrytest.Anonymous(t)
	authAddr, user, password := registrytest.WithAuth(t)
	s := newServer(t)
	pwFile := filepath.Join(s.data, "registry-password")
	if err := os.WriteFile(pwFile, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(s.data, "config.yml")
	os.WriteFile(config, []byte("registries:\n  "+authAddr+":\n    username: "+user+"\n    password_file: "+pwFile+"\n"), 0o600)
	s.start("--config", config)

	// Anonymous, with every kind of tag.
	r := s.newRepo(pushFiles("e2e-pushed", anon, "[commit, short, branch, build, latest]"))
	head := r.head()
	push := r.push(s.url("pushed"), "main")
	want(t, push, 0, "remote: ==> push", "remote: pushing to "+anon+" anonymously", "remote: pushed "+anon+"/pushed/e2e-pushed:"+head+"@sha256:", "remote: PASSED")
	tags := registrytest.Tags(t, anon, "pushed/e2e-pushed")
	for _, tag := range []string{head, head[:12], "main", "b1", "latest"} {
		if !slices.Contains(tags, tag) {
			t.Errorf("registry tags of e2e-pushed: got %v, want %s among them", tags, tag)
		}
	}
	bs := decodeBuilds(t, s.ssh("builds", "pushed", "--json").stdout)
	if len(bs) != 1 || len(bs[0].Pushed) != 5 {
		t.Fatalf("build record: got %+v, want 5 pushed references", bs)
	}
	for _, p := range bs[0].Pushed {
		tag := p.Ref[strings.LastIndex(p.Ref, ":")+1:]
		if got := registrytest.Digest(t, anon, "pushed/e2e-pushed", tag); got != p.Digest {
			t.Errorf("digest of %s: recorded %s, registry says %s", p.Ref, p.Digest, got)
		}
	}

	// A registry that is down fails the build, naming it.
	down := registrytest.Down(t)
	r = s.newRepo(pushFiles("e2e-nowhere", down, "[latest]"))
	want(t, r.push(s.url("nowhere"), "main"), 1, down, "(build #1 failed: push)")

	// Wrong credentials, then the right ones: the password file is read at each push.
	r = s.newRepo(pushFiles("e2e-private", authAddr, "[build]"))
	push = r.push(s.url("private"), "main")
	want(t, push, 1, "remote: pushing to "+authAddr+" as "+user, "unauthorized", "(build #1 failed: push)")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.write(map[string]string{"README": "again"})
	r.commit("again")
	push = r.push(s.url("private"), "main")
	want(t, push, 0, "pushed "+authAddr+"/private/e2e-private:b2@sha256:")
	if got := registrytest.Tags(t, authAddr, "private/e2e-private"); !slices.Contains(got, "b2") {
		t.Errorf("tags in the authenticated registry: got %v, want b2", got)
	}
	// The password reaches neither the pusher, nor the records, nor the server's log.
	everything := push.stderr + s.ssh("logs", "private", "1").stdout + s.ssh("logs", "private", "2").stdout +
		s.ssh("builds", "private", "--json").stdout + s.log.String()
	if strings.Contains(everything, password) {
		t.Error("the registry password appears in the output, the records or the server log")
	}
}

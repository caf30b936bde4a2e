package docker_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/pipeline/docker/registrytest"
)

// progressLine is what a line of a push's progress may look like: "<layer>: <state>" or a line of the
// engine's own, never a progress bar or a byte count.
var progressLine = regexp.MustCompile(`^([0-9a-f]{12}: (Preparing|Waiting|Pushing|Pushed|Layer already exists|Mounted from \S+)|The push refers to repository \[\S+\]|\S+: digest: sha256:[0-9a-f]{64} size: \d+)$`)

func loggedEngine(t *testing.T) (*docker.Engine, *dockertest.Buffer) {
	t.Helper()
	dockertest.Engine(t) // fails or skips the test when the engine does not answer
	log := &dockertest.Buffer{}
	e, err := docker.FromEnv(docker.Options{Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e, log
}

// pushable builds a small image under b's build id, tags it <addr>/baleen-test/<build id>:<tag> and
// returns the repository and the reference. The tag goes with the build's images when the test ends.
func (b build) pushable(t *testing.T, addr, tag string) (repo, ref string) {
	t.Helper()
	img := b.image(t, "push", "FROM busybox\nLABEL purpose=push\n", nil)
	repo = "baleen-test/" + string(b.id)
	ref = addr + "/" + repo + ":" + tag
	if err := b.e.Tag(t.Context(), img, ref); err != nil {
		t.Fatalf("Tag: %v", err)
	}
	return repo, ref
}

// checkProgress checks that out is one line per layer and state, with no byte counts.
func checkProgress(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if !progressLine.MatchString(l) {
			t.Errorf("progress line: got %q, want a layer and its state", l)
		}
		if seen[l] {
			t.Errorf("progress line %q: got it twice, want each state of a layer once", l)
		}
		seen[l] = true
	}
	if !slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasSuffix(l, ": Pushed") || strings.HasSuffix(l, ": Layer already exists") ||
			strings.Contains(l, ": Mounted from ")
	}) {
		t.Errorf("progress: got %q, want a line saying a layer was pushed, mounted or there already", out)
	}
}

func TestPushAnonymous(t *testing.T) {
	t.Parallel()
	addr := registrytest.Anonymous(t)
	b := newBuild(t)
	repo, ref := b.pushable(t, addr, "v1")

	var out strings.Builder
	digest, err := b.e.Push(t.Context(), ref, nil, &out)
	if err != nil {
		t.Fatalf("Push %s: %v\noutput:\n%s", ref, err, out.String())
	}
	t.Cleanup(func() { registrytest.Delete(t, addr, repo, digest) })
	if got := registrytest.Tags(t, addr, repo); !cmp.Equal(got, []string{"v1"}) {
		t.Errorf("tags of %s in the registry: got %v, want [v1]", repo, got)
	}
	if want := registrytest.Digest(t, addr, repo, "v1"); digest != want {
		t.Errorf("digest: got %q, want %q (the registry's)", digest, want)
	}
	checkProgress(t, out.String())
}

func TestPushWithAuth(t *testing.T) {
	t.Parallel()
	addr, user, password := registrytest.WithAuth(t)
	const wrong = "not-the-baleen-test-password"
	tests := []struct {
		name    string
		auth    *baleen.RegistryAuth
		wantErr string // "" when the push must pass
	}{
		{name: "right credentials", auth: &baleen.RegistryAuth{Username: user, Password: password, ServerAddress: addr}},
		{name: "server address filled in", auth: &baleen.RegistryAuth{Username: user, Password: password}},
		{name: "wrong password", auth: &baleen.RegistryAuth{Username: user, Password: wrong, ServerAddress: addr},
			wantErr: "registry " + addr + " refused the credentials: "},
		{name: "no credentials", wantErr: "registry " + addr + " requires credentials: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, log := loggedEngine(t)
			b := newBuild(t)
			repo, ref := b.pushable(t, addr, "v1")

			var out strings.Builder
			digest, err := e.Push(t.Context(), ref, tt.auth, &out)
			// Security: the credentials must reach neither the caller's error nor the build output nor the
			// server log, whether the registry took them or not.
			var text string
			if err != nil {
				text = err.Error()
			}
			for _, secret := range []string{password, wrong} {
				for where, s := range map[string]string{"error": text, "output": out.String(), "log": log.String()} {
					if strings.Contains(s, secret) {
						t.Errorf("%s: got %q, want no password in it", where, s)
					}
				}
			}
			if tt.wantErr != "" {
				if !errors.Is(err, baleen.ErrUnauthorized) {
					t.Fatalf("Push %s: got %v, want an error wrapping ErrUnauthorized", ref, err)
				}
				if !strings.Contains(text, tt.wantErr) {
					t.Errorf("Push error: got %q, want it to contain %q", text, tt.wantErr)
				}
				if got := registrytest.Tags(t, addr, repo); len(got) != 0 {
					t.Errorf("tags of %s after a refused push: got %v, want none", repo, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Push %s: %v\noutput:\n%s", ref, err, out.String())
			}
			t.Cleanup(func() { registrytest.Delete(t, addr, repo, digest) })
			if want := registrytest.Digest(t, addr, repo, "v1"); digest != want {
				t.Errorf("digest: got %q, want %q (the registry's)", digest, want)
			}
			checkProgress(t, out.String())
		})
	}
}

func TestPushRegistryDown(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	addr := registrytest.Down(t)
	_, ref := b.pushable(t, addr, "v1")
	_, err := b.e.Push(t.Context(), ref, nil, io.Discard)
	if !errors.Is(err, baleen.ErrUnavailable) {
		t.Fatalf("Push %s: got %v, want an error wrapping ErrUnavailable", ref, err)
	}
	if want := "registry " + addr + " unreachable: "; !strings.Contains(err.Error(), want) {
		t.Errorf("Push error: got %q, want it to contain %q", err, want)
	}
}

func TestPushRefused(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	tests := []struct {
		name string
		ref  string
		want error
	}{
		{"image not in the engine", "127.0.0.1:5000/baleen-test/" + string(b.id) + ":missing", baleen.ErrNotFound},
		{"not a reference", "127.0.0.1:5000/Baleen Test:x", baleen.ErrInvalid},
		{"digest reference", "127.0.0.1:5000/baleen-test/x@sha256:" + strings.Repeat("0", 64), baleen.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.e.Push(t.Context(), tt.ref, nil, io.Discard)
			if !errors.Is(err, tt.want) {
				t.Errorf("Push %s: got %v, want an error wrapping %v", tt.ref, err, tt.want)
			}
		})
	}
}

// pushEngine is an Engine on a fake engine that answers every push with status and body, and the
// X-Registry-Auth header of the last push.
func pushEngine(t *testing.T, status int, body string) (*docker.Engine, func() string) {
	t.Helper()
	var mu sync.Mutex
	var header string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/push") {
			http.Error(w, `{"message":"not here"}`, http.StatusNotFound)
			return
		}
		mu.Lock()
		header = r.Header.Get(registry.AuthHeader)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(client.WithHost("tcp://"+srv.Listener.Addr().String()), client.WithAPIVersion("1.41"))
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	e := docker.New(c, docker.Options{})
	t.Cleanup(func() { e.Close() })
	return e, func() string {
		mu.Lock()
		defer mu.Unlock()
		return header
	}
}

// TestPushStream feeds Push the streams of engines and registries that misbehave, which the real ones
// here cannot be made to produce.
func TestPushStream(t *testing.T) {
	t.Parallel()
	const (
		ref    = "registry.example:5000/team/api:v1"
		secret = "s3cret-password"
		digest = "sha256:b0315e48f8155dd1d8f8f24ba7829f39936f2b6c0c9550c5822ac12f5ee64600"
	)
	tests := []struct {
		name     string
		stream   string
		want     string
		wantErr  string // "" for no error
		wantKind error
	}{
		{
			name: "one line per layer and state, digest from aux",
			stream: `{"status":"The push refers to repository [registry.example:5000/team/api]"}
{"status":"Preparing","progressDetail":{},"id":"4a2ee9b115bb"}
{"status":"Pushing","progressDetail":{"current":512,"total":3216},"progress":"[=>  ]  512B/3.216kB","id":"4a2ee9b115bb"}
{"status":"Pushing","progressDetail":{"current":3216,"total":3216},"progress":"[===>]  3.216kB","id":"4a2ee9b115bb"}
{"status":"Pushed","progressDetail":{},"id":"4a2ee9b115bb"}
{"status":"v1: digest: ` + digest + ` size: 736"}
{"progressDetail":{},"aux":{"Tag":"v1","Digest":"` + digest + `","Size":736}}`,
			want: "The push refers to repository [registry.example:5000/team/api]\n4a2ee9b115bb: Preparing\n" +
				"4a2ee9b115bb: Pushing\n4a2ee9b115bb: Pushed\nv1: digest: " + digest + " size: 736\n",
		},
		{
			name:     "no digest",
			stream:   `{"status":"Pushed","id":"4a2ee9b115bb"}`,
			want:     "4a2ee9b115bb: Pushed\n",
			wantErr:  "registry registry.example:5000: the engine reported no digest for the pushed image",
			wantKind: nil,
		},
		{
			name:     "401 code",
			stream:   `{"errorDetail":{"code":401,"message":"access to the resource needs a login"},"error":"access to the resource needs a login"}`,
			wantErr:  "registry registry.example:5000 refused the credentials: access to the resource needs a login",
			wantKind: baleen.ErrUnauthorized,
		},
		{
			name:     "denied",
			stream:   `{"errorDetail":{"message":"denied: requested access to the resource is denied"}}`,
			wantErr:  "registry registry.example:5000 refused the credentials: denied: requested access to the resource is denied",
			wantKind: baleen.ErrUnauthorized,
		},
		{
			name:     "no such host",
			stream:   `{"errorDetail":{"message":"Get \"https://registry.example:5000/v2/\": dial tcp: lookup registry.example on 127.0.0.53:53: no such host"}}`,
			wantErr:  "registry registry.example:5000 unreachable: Get \"https://registry.example:5000/v2/\": dial tcp: lookup registry.example",
			wantKind: baleen.ErrUnavailable,
		},
		{
			name:    "old engine: error only",
			stream:  `{"status":"Preparing","id":"4a2ee9b115bb"}{"error":"blob upload unknown"}`,
			want:    "4a2ee9b115bb: Preparing\n",
			wantErr: "registry registry.example:5000: blob upload unknown",
		},
		{
			// Security: a registry or an engine that echoes the password must not carry it into the build
			// output or an error.
			name:     "password echoed",
			stream:   `{"status":"Preparing as baleen:` + secret + `","id":"4a2ee9b115bb"}{"errorDetail":{"message":"unauthorized: bad password ` + secret + `"}}`,
			want:     "4a2ee9b115bb: Preparing as baleen:****\n",
			wantErr:  "registry registry.example:5000 refused the credentials: unauthorized: bad password ****",
			wantKind: baleen.ErrUnauthorized,
		},
		{
			name:    "broken stream",
			stream:  `{"status":"Preparing","id":"4a2ee9b115bb"}{"status":`,
			want:    "4a2ee9b115bb: Preparing\n",
			wantErr: "registry registry.example:5000: read engine output: unexpected EOF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, header := pushEngine(t, http.StatusOK, tt.stream)
			var out strings.Builder
			auth := &baleen.RegistryAuth{Username: "baleen", Password: secret}
			got, err := e.Push(t.Context(), ref, auth, &out)
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Push: got %v, want no error", err)
				}
				if got != digest {
					t.Errorf("digest: got %q, want %q", got, digest)
				}
			} else {
				if err == nil {
					t.Fatalf("Push: got digest %q and no error, want an error containing %q", got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Push error: got %q, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Push error: got %q, want no password in it", err)
				}
				for _, kind := range []error{baleen.ErrUnauthorized, baleen.ErrUnavailable, baleen.ErrNotFound} {
					if want := kind == tt.wantKind; errors.Is(err, kind) != want {
						t.Errorf("errors.Is(%v, %v): got %t, want %t", err, kind, !want, want)
					}
				}
			}
			cfg, derr := authconfig.Decode(header())
			if derr != nil {
				t.Fatalf("decode the X-Registry-Auth the engine got: %v", derr)
			}
			want := registry.AuthConfig{Username: "baleen", Password: secret, ServerAddress: "registry.example:5000"}
			if diff := cmp.Diff(want, *cfg); diff != "" {
				t.Errorf("credentials the engine got (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPushEngineErrorMasked stops an engine that echoes the password in a refusal, before any stream,
// from carrying it into the error.
func TestPushEngineErrorMasked(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-password"
	e, _ := pushEngine(t, http.StatusInternalServerError, `{"message":"cannot use password `+secret+`"}`)
	_, err := e.Push(t.Context(), "registry.example:5000/team/api:v1", &baleen.RegistryAuth{Username: "u", Password: secret}, io.Discard)
	if err == nil {
		t.Fatal("Push: got no error, want the engine's")
	}
	if want := "cannot use password ****"; !strings.Contains(err.Error(), want) {
		t.Errorf("Push error: got %q, want it to contain %q", err, want)
	}
	for e := error(err); e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), secret) {
			t.Errorf("Push error chain: got %q, want no password in it", e)
		}
	}
}

func TestPushAnonymousHeader(t *testing.T) {
	t.Parallel()
	e, header := pushEngine(t, http.StatusOK, `{"aux":{"Tag":"v1","Digest":"sha256:00","Size":1}}`)
	if _, err := e.Push(t.Context(), "registry.example:5000/team/api:v1", nil, io.Discard); err != nil {
		t.Fatalf("Push: %v", err)
	}
	// An engine of API 1.41 refuses a push without the header, so an anonymous push sends an empty one.
	if got, want := header(), "e30="; got != want {
		t.Errorf("X-Registry-Auth of an anonymous push: got %q, want %q (base64url of {})", got, want)
	}
}

func TestListImages(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	a := b.image(t, "list-a", "FROM busybox\nLABEL baleen-test.kind=a\n", nil)
	c := b.image(t, "list-c", "FROM busybox\nLABEL baleen-test.kind=c\n", nil)
	extra := "baleen-test/list-extra:" + string(b.id)
	if err := b.e.Tag(t.Context(), c, extra); err != nil {
		t.Fatalf("Tag: %v", err)
	}
	ctx := t.Context()

	tests := []struct {
		name  string
		label string
		want  [][]string // the tags of each image listed, sorted
	}{
		{"by build", baleen.LabelBuild + "=" + string(b.id), [][]string{{a}, {c, extra}}},
		{"by key and value", "baleen-test.kind=c", [][]string{{c, extra}}},
		{"by value nobody has", baleen.LabelBuild + "=" + string(b.id) + "-nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs, err := b.e.ListImages(ctx, tt.label)
			if err != nil {
				t.Fatalf("ListImages(%q): %v", tt.label, err)
			}
			var got [][]string
			for _, img := range imgs {
				if img.Labels[baleen.LabelBuild] != string(b.id) && tt.name != "by key and value" {
					t.Errorf("image %s: got label %s=%q, want %q", img.ID, baleen.LabelBuild, img.Labels[baleen.LabelBuild], b.id)
				}
				if !strings.HasPrefix(img.ID, "sha256:") {
					t.Errorf("image id: got %q, want sha256:…", img.ID)
				}
				// Other tests' images may carry the kind label too: keep this build's.
				if img.Labels[baleen.LabelBuild] != string(b.id) {
					continue
				}
				tags := slices.Clone(img.Tags)
				slices.Sort(tags)
				got = append(got, tags)
			}
			slices.SortFunc(got, func(x, y []string) int { return strings.Compare(x[len(x)-1], y[len(y)-1]) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ListImages(%q) tags (-want +got):\n%s", tt.label, diff)
			}
		})
	}
	t.Run("by key", func(t *testing.T) {
		imgs, err := b.e.ListImages(ctx, "baleen-test.kind")
		if err != nil {
			t.Fatalf("ListImages: %v", err)
		}
		n := 0
		for _, img := range imgs {
			if img.Labels[baleen.LabelBuild] == string(b.id) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("images of this build labelled baleen-test.kind: got %d, want 2", n)
		}
	})
	t.Run("no label", func(t *testing.T) {
		if _, err := b.e.ListImages(ctx, ""); !errors.Is(err, baleen.ErrInvalid) {
			t.Errorf("ListImages(\"\"): got %v, want an error wrapping ErrInvalid", err)
		}
	})
}

// exists reports whether ref is in the engine, failing the test on an error.
func (b build) exists(t *testing.T, ref string) bool {
	t.Helper()
	ok, err := b.e.ImageExists(t.Context(), ref)
	if err != nil {
		t.Fatalf("ImageExists(%s): %v", ref, err)
	}
	return ok
}

func TestRemoveImage(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	ctx := t.Context()
	ref := b.image(t, "remove", "FROM busybox\nLABEL purpose=remove\n", nil)
	other := "baleen-test/remove-other:" + string(b.id)
	if err := b.e.Tag(ctx, ref, other); err != nil {
		t.Fatalf("Tag: %v", err)
	}
	ins, err := b.e.Client().ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	id := ins.ID

	if err := b.e.RemoveImage(ctx, other); err != nil {
		t.Fatalf("RemoveImage(%s): %v", other, err)
	}
	for r, want := range map[string]bool{other: false, ref: true, id: true} {
		if got := b.exists(t, r); got != want {
			t.Errorf("after removing %s, ImageExists(%s): got %t, want %t", other, r, got, want)
		}
	}
	if err := b.e.RemoveImage(ctx, other); err != nil {
		t.Errorf("RemoveImage(%s) again: got %v, want nil (a missing reference is not an error)", other, err)
	}

	// An image a container uses stays, and the engine's refusal comes back.
	b.setup(t)
	if _, _, err := b.e.Run(ctx, b.id, baleen.ContainerSpec{Name: "user", Image: ref, Cmd: []string{"true"}}, io.Discard); err != nil {
		t.Fatalf("Run: %v", err)
	}
	err = b.e.RemoveImage(ctx, ref)
	if !errors.Is(err, baleen.ErrConflict) {
		t.Fatalf("RemoveImage(%s) used by a container: got %v, want an error wrapping ErrConflict", ref, err)
	}
	if !strings.Contains(err.Error(), "remove image "+ref+": ") {
		t.Errorf("RemoveImage error: got %q, want it to name %s", err, ref)
	}
	if !b.exists(t, ref) {
		t.Errorf("ImageExists(%s) after a refused removal: got false, want true", ref)
	}

	if err := b.e.Teardown(ctx, b.id); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if err := b.e.RemoveImage(ctx, ref); err != nil {
		t.Fatalf("RemoveImage(%s) once unused: %v", ref, err)
	}
	for _, r := range []string{ref, id} {
		if b.exists(t, r) {
			t.Errorf("ImageExists(%s) after its last reference went: got true, want false", r)
		}
	}
}

func TestSaveImages(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	ctx := t.Context()
	ref := b.image(t, "save", "FROM busybox\nLABEL purpose=save\n", nil)

	rc, err := b.e.SaveImages(ctx, []string{ref})
	if err != nil {
		t.Fatalf("SaveImages: %v", err)
	}
	defer rc.Close()
	var manifest []struct {
		Config           string
		RepoTags, Layers []string
	}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read the saved tar: %v", err)
		}
		if hdr.Name != "manifest.json" {
			continue
		}
		if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
			t.Fatalf("decode manifest.json: %v", err)
		}
	}
	if len(manifest) != 1 {
		t.Fatalf("manifest.json: got %d entries, want 1", len(manifest))
	}
	if diff := cmp.Diff([]string{ref}, manifest[0].RepoTags); diff != "" {
		t.Errorf("manifest.json RepoTags (-want +got):\n%s", diff)
	}
	if len(manifest[0].Layers) == 0 {
		t.Errorf("manifest.json Layers: got none, want the busybox layer")
	}

	tests := []struct {
		name string
		refs []string
		want error
	}{
		{"missing image", []string{ref, "baleen-test/no-such-image:" + string(b.id)}, baleen.ErrNotFound},
		{"nothing named", nil, baleen.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := b.e.SaveImages(ctx, tt.refs)
			if err == nil {
				rc.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("SaveImages(%q): got %v, want an error wrapping %v", tt.refs, err, tt.want)
			}
		})
	}
}

package registrytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// The test registries scripts/registry.sh starts.
const (
	// AnonymousAddr is the registry anyone may push to.
	AnonymousAddr = "127.0.0.1:5000"
	// AuthAddr is the registry that wants User and Password (htpasswd, basic auth).
	AuthAddr = "127.0.0.1:5001"
	// User is the one user of the registry at AuthAddr.
	User = "baleen-test"
	// Password is User's password.
	Password = "baleen-test-password"
)

// manifestAccept is the Accept header of Digest: the manifest media types it takes. The registry answers
// with the digest of the manifest as it was pushed only when its type is among them.
const manifestAccept = "application/vnd.docker.distribution.manifest.v2+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, " +
	"application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.oci.image.index.v1+json"

// requestTimeout bounds each request made to a registry.
const requestTimeout = 30 * time.Second

// Anonymous returns the address of the anonymous test registry, "127.0.0.1:5000", once it answers GET
// /v2/. When it does not, the test fails if the environment variable CI is set and is skipped otherwise.
func Anonymous(t testing.TB) string {
	t.Helper()
	need(t, AnonymousAddr, false)
	return AnonymousAddr
}

// WithAuth returns the address of the test registry with basic auth, "127.0.0.1:5001", and its user and
// password, once it answers GET /v2/ with them (and refuses it without them). When it does not, the test
// fails if CI is set and is skipped otherwise.
func WithAuth(t testing.TB) (addr, user, password string) {
	t.Helper()
	need(t, AuthAddr, true)
	return AuthAddr, User, Password
}

// need checks that the registry at addr answers /v2/ as it should, or fails or skips the test.
func need(t testing.TB, addr string, auth bool) {
	t.Helper()
	err := check(t, addr, auth)
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("the test registries are required when CI is set (bash scripts/registry.sh starts them): %v", err)
	}
	t.Skipf("test registry not available, skipping (bash scripts/registry.sh starts it; set CI to make this a failure): %v", err)
}

// check asks the registry at addr for /v2/, anonymously and, when auth is set, with the credentials.
func check(t testing.TB, addr string, auth bool) error {
	t.Helper()
	code, _, err := do(t, http.MethodGet, addr, "/v2/", nil, false)
	if err != nil {
		return err
	}
	if !auth {
		if code != http.StatusOK {
			return fmt.Errorf("GET http://%s/v2/: got status %d, want %d", addr, code, http.StatusOK)
		}
		return nil
	}
	if code != http.StatusUnauthorized {
		return fmt.Errorf("GET http://%s/v2/ without credentials: got status %d, want %d", addr, code, http.StatusUnauthorized)
	}
	code, _, err = do(t, http.MethodGet, addr, "/v2/", nil, true)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET http://%s/v2/ as %s: got status %d, want %d", addr, User, code, http.StatusOK)
	}
	return nil
}

// Tags returns the tags of repo in the registry at addr, as GET /v2/<repo>/tags/list lists them; nil
// when the registry does not know repo. The registry at AuthAddr is asked with the test credentials.
func Tags(t testing.TB, addr, repo string) []string {
	t.Helper()
	path := "/v2/" + repo + "/tags/list"
	code, body, err := do(t, http.MethodGet, addr, path, nil, addr == AuthAddr)
	if err != nil {
		t.Fatal(err)
	}
	switch code {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil
	default:
		t.Fatalf("GET http://%s%s: got status %d, want %d: %s", addr, path, code, http.StatusOK, body)
	}
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("GET http://%s%s: decode %q: %v", addr, path, body, err)
	}
	return list.Tags
}

// Digest returns the digest of the manifest repo:tag in the registry at addr, from the
// Docker-Content-Digest header of HEAD /v2/<repo>/manifests/<tag>; "" when the registry has no such
// manifest.
func Digest(t testing.TB, addr, repo, tag string) string {
	t.Helper()
	path := "/v2/" + repo + "/manifests/" + tag
	hdr := http.Header{"Accept": {manifestAccept}}
	code, body, h, err := request(t, http.MethodHead, addr, path, hdr, addr == AuthAddr)
	if err != nil {
		t.Fatal(err)
	}
	switch code {
	case http.StatusOK:
	case http.StatusNotFound:
		return ""
	default:
		t.Fatalf("HEAD http://%s%s: got status %d, want %d: %s", addr, path, code, http.StatusOK, body)
	}
	d := h.Get("Docker-Content-Digest")
	if d == "" {
		t.Fatalf("HEAD http://%s%s: got no Docker-Content-Digest header, want one", addr, path)
	}
	return d
}

// Delete deletes the manifest repo@digest from the registry at addr (both test registries allow it), so
// that the tags pointing at it go; a manifest that is not there is not an error. The blobs stay until the
// registry's garbage collection, which the tests never run.
func Delete(t testing.TB, addr, repo, digest string) {
	t.Helper()
	path := "/v2/" + repo + "/manifests/" + digest
	code, body, err := do(t, http.MethodDelete, addr, path, nil, addr == AuthAddr)
	if err != nil {
		t.Error(err)
		return
	}
	if code != http.StatusAccepted && code != http.StatusNotFound {
		t.Errorf("DELETE http://%s%s: got status %d, want %d: %s", addr, path, code, http.StatusAccepted, body)
	}
}

// Down returns an address on 127.0.0.1 where nothing listens: a port the system handed out and that was
// closed again.
func Down(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1:0: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close listener on %s: %v", addr, err)
	}
	return addr
}

// do makes a request to the registry at addr and returns its status and body.
func do(t testing.TB, method, addr, path string, hdr http.Header, auth bool) (int, []byte, error) {
	t.Helper()
	code, body, _, err := request(t, method, addr, path, hdr, auth)
	return code, body, err
}

// request makes a request to the registry at addr, with the test credentials when auth is set, and
// returns its status, body and header. It works in a cleanup too, after the test's context has ended.
func request(t testing.TB, method, addr, path string, hdr http.Header, auth bool) (int, []byte, http.Header, error) {
	t.Helper()
	url := "http://" + addr + path
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if auth {
		req.SetBasicAuth(User, Password)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, nil, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return res.StatusCode, body, res.Header, nil
}

package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
)

var (
	_ baleen.Images      = (*Engine)(nil)
	_ baleen.ImagePusher = (*Engine)(nil)
	_ baleen.ImageStore  = (*Engine)(nil)
	_ baleen.ImageSaver  = (*Engine)(nil)
)

// masked is what a password is replaced with wherever the engine or the registry would echo it.
const masked = "****"

// Push pushes ref ("host:port/name:tag"; "latest" when it names no tag) to its registry with auth, nil
// meaning anonymously, and returns the digest the registry gave the manifest ("sha256:…"). The progress
// goes to out, one line per layer and state ("5f70bf18a086: Pushed"), never the byte counts.
//
// The errors name the registry but not ref, which the caller adds: a registry that cannot be reached
// wraps baleen.ErrUnavailable ("registry 127.0.0.1:5000 unreachable: …"), one that refuses the
// credentials or wants some wraps baleen.ErrUnauthorized, an image the engine does not have wraps
// baleen.ErrNotFound, and a ref that is not a valid reference wraps baleen.ErrInvalid. The password
// never appears in the errors or in out.
func (e *Engine) Push(ctx context.Context, ref string, auth *baleen.RegistryAuth, out io.Writer) (string, error) {
	if out == nil {
		out = io.Discard
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %v: %w", ref, err, baleen.ErrInvalid)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("image reference %q: a digest cannot be pushed, only a tag: %w", ref, baleen.ErrInvalid)
	}
	host := reference.Domain(named)
	cfg := registry.AuthConfig{}
	var password string
	if auth != nil {
		password = auth.Password
		cfg = registry.AuthConfig{Username: auth.Username, Password: auth.Password, ServerAddress: auth.ServerAddress}
		if cfg.ServerAddress == "" {
			cfg.ServerAddress = host
		}
	}
	// Sent even when anonymous: an engine of API 1.41 refuses a push without the header.
	encoded, err := authconfig.Encode(cfg)
	if err != nil {
		return "", fmt.Errorf("encode credentials for registry %s: %w", host, baleen.ErrInvalid)
	}
	wctx, stop := e.watch(ctx)
	defer stop()
	res, err := e.client.ImagePush(wctx, ref, client.ImagePushOptions{RegistryAuth: encoded})
	if err != nil {
		return "", redact(e.fail(e.callError(wctx, err), "push to registry "+host), password)
	}
	defer res.Close()
	digest, err := decodePush(res, out, password)
	var unavailable *unavailableError
	switch {
	case errors.As(e.callError(wctx, err), &unavailable):
		return "", fmt.Errorf("push to registry %s: %w", host, unavailable)
	case ctx.Err() != nil:
		return "", fmt.Errorf("push to registry %s: %w", host, ctx.Err())
	case err != nil:
		return "", redact(pushError(err, host, auth != nil), password)
	case digest == "":
		return "", fmt.Errorf("registry %s: the engine reported no digest for the pushed image", host)
	}
	return digest, nil
}

// pushMessage is one message of the JSON stream a push answers with; aux carries the pushed manifest's
// {"Tag","Digest","Size"}.
type pushMessage struct {
	streamMessage
	Aux json.RawMessage `json:"aux"`
}

// pushResult is the aux message at the end of a push.
type pushResult struct {
	Tag    string
	Digest string
	Size   int
}

// decodePush writes the progress of a push to out, one line per status change of each layer, and returns
// the digest of its aux message. An error inside the stream comes back as a *pushStreamError. Secret is
// masked in all of it.
func decodePush(r io.Reader, out io.Writer, secret string) (string, error) {
	dec := json.NewDecoder(r)
	last := make(map[string]string)
	var digest string
	for {
		var m pushMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return digest, nil
			}
			return "", fmt.Errorf("read engine output: %w", err)
		}
		if m.ErrorDetail != nil && (m.ErrorDetail.Message != "" || m.ErrorDetail.Code != 0) {
			msg := m.ErrorDetail.Message
			if msg == "" {
				msg = m.Error
			}
			return "", &pushStreamError{msg: mask(msg, secret), code: m.ErrorDetail.Code}
		}
		if m.Error != "" {
			return "", &pushStreamError{msg: mask(m.Error, secret)}
		}
		if len(m.Aux) > 0 {
			var aux pushResult
			if json.Unmarshal(m.Aux, &aux) == nil && aux.Digest != "" {
				digest = aux.Digest
			}
			continue
		}
		if m.Status == "" || last[m.ID] == m.Status {
			continue
		}
		last[m.ID] = m.Status
		text := m.Status + "\n"
		if m.ID != "" {
			text = m.ID + ": " + text
		}
		if _, err := io.WriteString(out, mask(text, secret)); err != nil {
			return "", fmt.Errorf("write output: %w", err)
		}
	}
}

// pushStreamError is an error the engine reported inside a push's stream, with its code when it gave one
// (the registry's HTTP status for some).
type pushStreamError struct {
	msg  string
	code int
}

func (e *pushStreamError) Error() string { return e.msg }

// pushError gives an error from a push's stream the sentinel that says what went wrong, naming the
// registry host.
func pushError(err error, host string, withAuth bool) error {
	var se *pushStreamError
	if !errors.As(err, &se) {
		return fmt.Errorf("push to registry %s: %w", host, err)
	}
	msg := strings.ToLower(se.msg)
	has := func(words ...string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(msg, w) })
	}
	switch {
	case has("does not exist locally", "no such image"):
		return fmt.Errorf("push to registry %s: %w", host, &kindError{kind: baleen.ErrNotFound, err: err})
	case se.code == 401 || se.code == 403 || has("unauthorized", "authentication required",
		"no basic auth credentials", "denied"):
		what := "requires credentials"
		if withAuth {
			what = "refused the credentials"
		}
		return fmt.Errorf("registry %s %s: %w", host, what, &kindError{kind: baleen.ErrUnauthorized, err: err})
	case has("connection refused", "no such host", "no route to host", "network is unreachable",
		"i/o timeout", "dial tcp", "server misbehaving"):
		return fmt.Errorf("registry %s unreachable: %w", host, &kindError{kind: baleen.ErrUnavailable, err: err})
	}
	return fmt.Errorf("registry %s: %w", host, err)
}

// ImageExists reports whether ref, a reference or an image id, is present in the engine.
func (e *Engine) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := e.inspectImage(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, e.fail(err, "inspect image "+ref)
}

// ListImages lists the images that carry label, a "key=value" or a "key", with their tags ("<none>"
// tags left out) and labels, sorted by id. An empty label is refused with baleen.ErrInvalid rather than
// taken to mean every image.
func (e *Engine) ListImages(ctx context.Context, label string) ([]baleen.Image, error) {
	if label == "" {
		return nil, fmt.Errorf("list images: no label to select them by: %w", baleen.ErrInvalid)
	}
	res, err := call(ctx, e, func(ctx context.Context) (client.ImageListResult, error) {
		return e.client.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", label)})
	})
	if err != nil {
		return nil, e.fail(err, "list images labelled "+label)
	}
	imgs := make([]baleen.Image, 0, len(res.Items))
	for _, s := range res.Items {
		var tags []string
		for _, t := range s.RepoTags {
			if t != "<none>:<none>" {
				tags = append(tags, t)
			}
		}
		imgs = append(imgs, baleen.Image{ID: s.ID, Tags: tags, Labels: s.Labels})
	}
	slices.SortFunc(imgs, func(a, b baleen.Image) int { return strings.Compare(a.ID, b.ID) })
	return imgs, nil
}

// RemoveImage removes the reference ref; the image itself goes, with its untagged parents, when no
// reference is left. A reference that does not exist is not an error. Nothing is forced: an image a
// container uses, or an id with several references, gives the engine's error, wrapping baleen.ErrConflict.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := call(ctx, e, func(ctx context.Context) (client.ImageRemoveResult, error) {
		return e.client.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
	})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("remove image %s: %w", ref, &kindError{kind: baleen.ErrConflict, err: err})
	}
	return e.fail(err, "remove image "+ref)
}

// SaveImages returns `docker save` of refs: a tar stream, with a manifest.json, that `docker load` takes.
// Every ref is checked first, so that a missing one gives an error wrapping baleen.ErrNotFound rather than
// a broken stream. The caller closes the stream; it also ends with ctx.
func (e *Engine) SaveImages(ctx context.Context, refs []string) (io.ReadCloser, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("save images: no image named: %w", baleen.ErrInvalid)
	}
	for _, ref := range refs {
		if _, err := e.inspectImage(ctx, ref); err != nil {
			return nil, e.fail(err, "save image "+ref)
		}
	}
	wctx, stop := e.watch(ctx)
	rc, err := e.client.ImageSave(wctx, refs)
	if err != nil {
		stop()
		return nil, e.fail(e.callError(wctx, err), "save images "+strings.Join(refs, " "))
	}
	return &watchedReader{ReadCloser: rc, stop: stop}, nil
}

// mask replaces every occurrence of secret in s; an empty secret leaves s as it is.
func mask(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, masked)
}

// redact returns err with secret masked in its text. An error whose text holds the secret is replaced by
// one that keeps only its text, masked, and the sentinels it wrapped, so that not even unwrapping it
// reaches the secret.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	var kinds []error
	for _, k := range []error{baleen.ErrUnavailable, baleen.ErrUnauthorized, baleen.ErrNotFound, baleen.ErrInvalid,
		context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	return &redactedError{msg: mask(err.Error(), secret), kinds: kinds}
}

// redactedError is an error with a secret masked out of its text; it unwraps to its sentinels only.
type redactedError struct {
	msg   string
	kinds []error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() []error { return e.kinds }

// inspectImage inspects image ref under the call deadline.
func (e *Engine) inspectImage(ctx context.Context, ref string) (client.ImageInspectResult, error) {
	return call(ctx, e, func(ctx context.Context) (client.ImageInspectResult, error) {
		return e.client.ImageInspect(ctx, ref)
	})
}

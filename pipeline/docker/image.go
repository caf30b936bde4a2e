package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
)

// BuildImage builds req.Image from the context req.Context, streamed as a tar through a pipe, and tags it
// req.Ref. It builds through BuildKit where the engine offers it (with req.Secrets for RUN --mount=type=secret
// and BuildKit's progress rendered one line per step), and with the classic builder where it does not,
// saying so once per build, or when req.Image.Builder or Options.Classic asks for it. The image carries the label baleen.build=id; intermediate
// containers are removed whether the build passes or fails. The builder's output goes to out as text. A
// failing Dockerfile step gives an error carrying the builder's message; when ctx ends first, the build is
// abandoned and ctx's error returned.
func (e *Engine) BuildImage(ctx context.Context, id baleen.BuildID, req baleen.ImageRequest, out io.Writer) error {
	name := req.Image.Name
	if name == "" {
		name = req.Ref
	}
	what := "build " + name
	if req.Context == nil {
		return fmt.Errorf("%s: no build context: %w", what, baleen.ErrInvalid)
	}
	dockerfile := req.Image.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	dockerfile = path.Clean(dockerfile)
	if !fs.ValidPath(dockerfile) || dockerfile == "." {
		return fmt.Errorf("%s: dockerfile %q is not a path inside the build context: %w", what, req.Image.Dockerfile, baleen.ErrInvalid)
	}

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := writeContext(pw, req.Context, dockerfile)
		pw.CloseWithError(err)
		done <- err
	}()
	// finish stops the context writer, if it still runs, and returns its error unless it only stopped
	// because the engine stopped reading.
	finish := func() error {
		pr.Close()
		if err := <-done; err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}

	builder, err := e.chooseBuilder(ctx, id, req, out)
	if err != nil {
		finish()
		return fmt.Errorf("%s: %w", what, err)
	}
	args := make(map[string]*string, len(req.Image.Args))
	for k, v := range req.Image.Args {
		args[k] = &v
	}
	opts := client.ImageBuildOptions{
		Tags:        []string{req.Ref},
		Dockerfile:  dockerfile,
		BuildArgs:   args,
		Target:      req.Image.Target,
		Labels:      map[string]string{baleen.LabelBuild: string(id)},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	}
	wctx, stop := e.watch(ctx)
	defer stop()
	if builder == BuilderBuildKit {
		err = e.buildKitBuild(wctx, id, req, pr, opts, out)
	} else {
		err = e.classicBuild(wctx, pr, opts, out)
	}
	err = e.callError(wctx, err)
	cerr := finish()
	var unavailable *unavailableError
	switch {
	case errors.As(err, &unavailable):
		return e.fail(err, what)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", what, ctx.Err())
	case cerr != nil:
		// A context that could not be read explains the failure better than the request that broke off.
		return cerr
	case err != nil:
		return e.fail(err, what)
	}
	e.log.Debug("image built", "build", id)
	return nil
}

// classicBuild builds with the classic builder, writing its output to out.
func (e *Engine) classicBuild(ctx context.Context, body io.Reader, opts client.ImageBuildOptions, out io.Writer) error {
	res, err := e.client.ImageBuild(ctx, body, opts)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return decodeStream(res.Body, out)
}

// EnsureImage makes sure ref is present, pulling it when it is not; the pull's progress goes to out,
// compactly. An image that is neither present nor pullable gives an error wrapping baleen.ErrNotFound.
func (e *Engine) EnsureImage(ctx context.Context, ref string, out io.Writer) error {
	_, err := e.inspectImage(ctx, ref)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return e.fail(err, "inspect image "+ref)
	}
	wctx, stop := e.watch(ctx)
	defer stop()
	if err := e.pull(wctx, ref, out); err != nil {
		err = e.callError(wctx, err)
		var unavailable *unavailableError
		if ctx.Err() != nil || isConnectionFailure(err) || errors.As(err, &unavailable) {
			return e.fail(err, "pull image "+ref)
		}
		return fmt.Errorf("image %s not found locally and could not be pulled: %w", ref,
			&kindError{kind: baleen.ErrNotFound, err: err})
	}
	return nil
}

// pull pulls ref, writing its progress to out.
func (e *Engine) pull(ctx context.Context, ref string, out io.Writer) error {
	res, err := e.client.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer res.Close()
	return decodeStream(res, out)
}

// Tag gives the image src the further reference ref.
func (e *Engine) Tag(ctx context.Context, src, ref string) error {
	_, err := call(ctx, e, func(ctx context.Context) (client.ImageTagResult, error) {
		return e.client.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: ref})
	})
	return e.fail(err, fmt.Sprintf("tag %s as %s", src, ref))
}

// streamMessage is one message of the JSON stream a build or a pull answers with. Older engines put the
// error text in "error", newer ones only in "errorDetail".
type streamMessage struct {
	Stream      string            `json:"stream"`
	Status      string            `json:"status"`
	ID          string            `json:"id"`
	Error       string            `json:"error"`
	ErrorDetail *jsonstream.Error `json:"errorDetail"`
	// Aux carries out-of-band data, such as BuildKit's progress.
	Aux json.RawMessage `json:"aux"`
}

// streamError is an error the engine reported inside a JSON stream.
type streamError struct{ msg string }

func (e *streamError) Error() string { return e.msg }

// readStream reads the JSON message stream of a build or a pull, handing each message to each until the
// stream ends. An error inside the stream ends it and comes back as a *streamError carrying the engine's
// message; so does an error each returns.
func readStream(r io.Reader, each func(*streamMessage) error) error {
	dec := json.NewDecoder(r)
	for {
		var m streamMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read engine output: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return &streamError{msg: m.ErrorDetail.Message}
		}
		if m.Error != "" {
			return &streamError{msg: m.Error}
		}
		if err := each(&m); err != nil {
			return err
		}
	}
}

// decodeStream turns the JSON message stream of a build or a pull into text on out: "stream" as it comes,
// "status" one line per change of status of each id (not one per progress tick).
func decodeStream(r io.Reader, out io.Writer) error {
	last := make(map[string]string)
	return readStream(r, func(m *streamMessage) error {
		var text string
		switch {
		case m.Stream != "":
			text = m.Stream
		case m.Status != "" && last[m.ID] != m.Status:
			last[m.ID] = m.Status
			text = m.Status + "\n"
			if m.ID != "" {
				text = m.ID + ": " + text
			}
		}
		if text == "" {
			return nil
		}
		if _, err := io.WriteString(out, text); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	})
}

package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"

	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/baleen-ci/baleen"
)

// The builders an image may be built with (baleen.ImageBuild.Builder).
const (
	// BuilderBuildKit builds through the engine's BuildKit, with a session for secrets; the default where
	// the engine offers it.
	BuilderBuildKit = "buildkit"
	// BuilderClassic builds with the engine's legacy builder, one step after another.
	BuilderClassic = "classic"
)

// minBuildKitAPI is the first API version whose engines build through BuildKit with a session.
const minBuildKitAPI = "1.39"

// buildKitSupport reports whether the engine builds through BuildKit and, when it does not, why. The
// answer is asked once per Engine and remembered; an engine that does not answer is asked again next time.
func (e *Engine) buildKitSupport(ctx context.Context) (bool, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.buildKitKnown {
		return e.buildKit, e.noBuildKitWhy, nil
	}
	pctx, cancel := e.callContext(ctx)
	defer cancel()
	ping, err := e.client.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		return false, "", e.fail(e.callError(pctx, err), "ping engine")
	}
	api := e.client.ClientVersion()
	switch {
	case ping.OSType == "windows":
		e.noBuildKitWhy = "the engine runs Windows containers, which BuildKit does not build"
	case api != "" && versions.LessThan(api, minBuildKitAPI):
		e.noBuildKitWhy = fmt.Sprintf("the engine's API version %s is older than %s", api, minBuildKitAPI)
	default:
		e.buildKit = true
	}
	e.buildKitKnown = true
	return e.buildKit, e.noBuildKitWhy, nil
}

// chooseBuilder returns the builder for req on this engine, telling out once per build when BuildKit was
// wanted but the engine lacks it.
func (e *Engine) chooseBuilder(ctx context.Context, id baleen.BuildID, req baleen.ImageRequest, out io.Writer) (string, error) {
	if req.Image.Builder == BuilderClassic || e.forceClassic {
		return BuilderClassic, nil
	}
	ok, why, err := e.buildKitSupport(ctx)
	if err != nil {
		return "", err
	}
	if ok {
		return BuilderBuildKit, nil
	}
	if _, told := e.toldClassic.LoadOrStore(id, true); !told {
		fmt.Fprintf(out, "building with the classic builder: %s (BuildKit features such as RUN --mount are not available)\n", why)
	}
	return BuilderClassic, nil
}

// buildKitBuild builds through BuildKit: the context goes as the request's body, as for the classic
// builder; a session attached through the engine's /session endpoint serves the build's secrets. Progress
// comes back as BuildKit status messages, rendered on out one line per step. When ctx ends, the request is
// dropped and the engine asked to cancel the build.
func (e *Engine) buildKitBuild(ctx context.Context, id baleen.BuildID, req baleen.ImageRequest, body io.Reader, opts client.ImageBuildOptions, out io.Writer) error {
	sess, err := session.NewSession(ctx, "baleen-"+string(id))
	if err != nil {
		return fmt.Errorf("start build session: %w", err)
	}
	secrets := make(map[string][]byte, len(req.Secrets))
	for k, v := range req.Secrets {
		secrets[k] = []byte(v)
	}
	sess.Allow(secretsprovider.FromMap(secrets))
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	dial := func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
		return e.client.DialHijack(ctx, "/session", proto, meta)
	}
	go func() {
		if err := sess.Run(sctx, dial); err != nil {
			e.log.Warn("build session ended", "build", id, "err", err)
		}
	}()
	defer sess.Close()

	opts.Version = build.BuilderBuildKit
	opts.SessionID = sess.ID()
	opts.BuildID = randomID()
	opts.Remove, opts.ForceRemove = false, false
	res, err := e.client.ImageBuild(ctx, body, opts)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	stopCancel := context.AfterFunc(ctx, func() { e.cancelBuild(ctx, id, opts.BuildID) })
	defer stopCancel()
	r := newStepRenderer(out, e.onStep)
	err = decodeBuildKitStream(res.Body, r)
	r.flush()
	return err
}

// cancelBuild asks the engine to stop the BuildKit build buildID, whose caller went away.
func (e *Engine) cancelBuild(ctx context.Context, id baleen.BuildID, buildID string) {
	cctx, cancel := e.cleanupContext(ctx)
	defer cancel()
	if _, err := e.client.BuildCancel(cctx, buildID, client.BuildCancelOptions{}); err != nil {
		e.log.Warn("cancel image build", "build", id, "err", err)
	}
}

// randomID returns 16 random bytes in hex, for naming a BuildKit build so that it can be cancelled.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

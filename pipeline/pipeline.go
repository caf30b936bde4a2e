package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/report"
)

// TeardownTimeout bounds the cleanup of a build, which runs with a context of its own so that a cancelled
// build still removes its containers.
const TeardownTimeout = 2 * time.Minute

// Pipeline runs builds on an Engine. It holds no per-build state: one Pipeline serves many builds at once.
type Pipeline struct {
	engine baleen.Engine
	logger *slog.Logger
}

// New returns a Pipeline that runs builds on engine and logs to logger (nil: discard).
func New(engine baleen.Engine, logger *slog.Logger) *Pipeline {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{engine: engine, logger: logger}
}

// Run is one build to run.
type Run struct {
	ID   baleen.BuildID
	Spec *baleen.Spec
	// Source is the repository's tree, rooted at its root.
	Source fs.FS
	// ArtifactsDir receives the artifacts, one folder per kind (xunit, coverage, coverage_html, files).
	ArtifactsDir string
	// Secrets holds the value of every credential the spec names.
	Secrets map[string]string
	// Dependencies holds the image each repository dependency (depends.NAME.src) runs, by NAME, as
	// ResolveDependencies found it.
	Dependencies map[string]string
	// Out receives the build's output as a person reads it. Secrets are masked before it is written.
	Out io.Writer
	// StageDone, when set, is called as each stage ends.
	StageDone func(baleen.StageResult)
	// Report, when set, is called once the test report's summary is printed, to write what follows it
	// (the test history's verdicts).
	Report func(w io.Writer, r *baleen.TestReport)
	// Stages, when set, runs the stages (the server's runner, which has the build's events and its record);
	// when nil, Run makes one from Out, Secrets and StageDone.
	Stages *StageRunner

	// Cleanup, when set, removes the build's Docker objects in Run's stead: it is given the build's context,
	// which may have ended, and decides whether to wait (the scheduler's detaches a cancelled build's
	// teardown so that its queue is freed at once). Its error is reported as Teardown's would be.
	Cleanup func(ctx context.Context, id baleen.BuildID) error

	// Project is the project built; its green images are tagged baleen.LatestTag(Project, name).
	Project string
	// Commit, Branch and Number name what is built, for the tags the push stage makes.
	Commit string
	Branch string
	Number int
	// Registry, when set, pushes the images after the tests pass as the spec's push section says;
	// without it a spec's push section is skipped with a note.
	Registry *Registry
	// BeforeRelease, when set, is asked once the tests and artifacts passed, just before the release stages
	// (tag, push): its error, a *StageError, ends the build there (the scheduler's check that the pushed
	// branch has not moved meanwhile).
	BeforeRelease func(ctx context.Context) error
}

// RegistryImages is what the push stage needs of the engine's images: it pushes a registry tag, then
// removes that tag again (the per-build tag keeps the image). Both are called from one build at a time per
// reference.
type RegistryImages interface {
	baleen.ImagePusher
	RemoveImage(ctx context.Context, ref string) error
}

// Registry is what the push stage needs: the engine's images and the credentials of registries.
type Registry struct {
	Images RegistryImages
	// Auth returns the credentials for a registry ("host:port"), or nil to push anonymously.
	Auth func(registry string) *baleen.RegistryAuth
}

// Run runs the pipeline of r and returns its result. A build that fails or is cancelled is a Result; the
// error is reserved for infrastructure that could not be used (it wraps baleen.ErrUnavailable), and comes
// with a Result that records how far the build got. Whatever happens, the build's containers, network and
// volumes are removed before Run returns.
func (p *Pipeline) Run(ctx context.Context, r Run) (res baleen.Result, err error) {
	stages := r.Stages
	if stages == nil {
		stages = NewStageRunner(StageConfig{Out: r.Out, Secrets: secretValues(r.Secrets), Done: r.StageDone})
		defer stages.Close()
	}
	b := &build{Run: r, p: p, stages: stages, out: stages.Out(), start: time.Now(), images: map[string]string{}}
	log := p.logger.With("build", string(r.ID))

	defer func() {
		if terr := b.teardown(ctx); terr != nil {
			log.Error("teardown", "err", terr)
			fmt.Fprintf(b.out, "warning: cleanup incomplete: %v\n", terr)
			if err == nil && errors.Is(terr, baleen.ErrUnavailable) {
				err = terr
			}
		}
		res.Duration = time.Since(b.start)
		b.verdict(&res, err)
	}()

	if err := p.engine.Ping(ctx); err != nil {
		return b.result(ctx, &StageError{Stage: baleen.StageBuild, Status: baleen.StatusFailed, Message: reason(err), Err: err}), err
	}
	ferr := b.runStages(ctx)
	res = b.result(ctx, ferr)
	if ferr != nil && errors.Is(ferr, baleen.ErrUnavailable) {
		return res, ferr
	}
	return res, nil
}

// teardown removes the build's Docker objects, through Cleanup when it is set, with a context of its own.
func (b *build) teardown(ctx context.Context) error {
	if b.Cleanup != nil {
		return b.Cleanup(ctx, b.ID)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TeardownTimeout)
	defer cancel()
	return b.p.engine.Teardown(cctx, b.ID)
}

// runStages runs the stages from build to push and returns the error of the first that did not pass.
func (b *build) runStages(ctx context.Context) error {
	ferr := b.stages.Run(ctx, baleen.StageBuild, b.buildImages)
	if ferr == nil {
		ferr = b.stages.Run(ctx, baleen.StageDepends, b.startDepends)
	}
	var subject string
	if ferr == nil {
		ferr = b.stages.Run(ctx, baleen.StageTest, func(ctx context.Context) error {
			var err error
			subject, err = b.test(ctx)
			return err
		})
	}
	if subject != "" {
		// Artifacts are collected whether the tests passed or not, even when the build was cancelled.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TeardownTimeout)
		aerr := b.stages.Run(actx, baleen.StageArtifacts, func(ctx context.Context) error { return b.collect(ctx, subject) })
		cancel()
		if ferr == nil {
			ferr = aerr
		}
	}
	if ferr == nil && b.BeforeRelease != nil {
		ferr = b.BeforeRelease(ctx)
	}
	if ferr == nil {
		ferr = b.stages.Run(ctx, baleen.StageTag, b.tag)
	}
	if ferr == nil && b.Spec.Push != nil {
		if b.Registry == nil {
			fmt.Fprintf(b.out, "==> %s\nskipped: this run pushes nothing (baleen build -push pushes)\n", baleen.StagePush)
		} else {
			ferr = b.stages.Run(ctx, baleen.StagePush, b.push)
		}
	}
	return ferr
}

// build is the state of one Run while it runs.
type build struct {
	Run
	p      *Pipeline
	stages *StageRunner
	out    io.Writer
	start  time.Time
	images map[string]string
	report *baleen.TestReport
	files  []string
	pushed []baleen.PushedImage
}

func (b *build) result(ctx context.Context, err error) baleen.Result {
	res := b.stages.Result(ctx, err)
	res.Report, res.Artifacts, res.Images, res.Pushed = b.report, b.files, b.images, b.pushed
	return res
}

// verdict prints the last line of the output.
func (b *build) verdict(res *baleen.Result, err error) {
	switch {
	case err != nil && res.Status == baleen.StatusFailed:
		fmt.Fprintf(b.out, "FAILED (infrastructure) in %s: %s: %s\n", round(res.Duration), res.FailedStage, res.Message)
	case err != nil:
		fmt.Fprintf(b.out, "ERROR after %s: %s%v\n", round(res.Duration), baleen.InfrastructureReason, err)
	case res.Status == baleen.StatusPassed:
		fmt.Fprintf(b.out, "PASSED in %s\n", round(res.Duration))
	case res.Status == baleen.StatusCancelled || res.Status == baleen.StatusInterrupted:
		fmt.Fprintf(b.out, "%s after %s\n", strings.ToUpper(string(res.Status)), round(res.Duration))
	default:
		fmt.Fprintf(b.out, "FAILED in %s: %s: %s\n", round(res.Duration), res.FailedStage, res.Message)
	}
}

// buildSecrets are the values of the spec's credentials, for RUN --mount=type=secret in its Dockerfiles.
func (b *build) buildSecrets() map[string]string {
	secrets := make(map[string]string, len(b.Spec.Credentials))
	for _, name := range b.Spec.Credentials {
		secrets[name] = b.Secrets[name]
	}
	return secrets
}

func (b *build) buildImages(ctx context.Context) error {
	for _, img := range b.Spec.Build {
		ref := b.ID.ImageTag(img.Name)
		fmt.Fprintf(b.out, "--- image %s (context %s, %s)\n", img.Name, img.Context, img.Dockerfile)
		sub, err := fs.Sub(b.Source, img.Context)
		if err != nil {
			return fmt.Errorf("image %s: context %s: %w", img.Name, img.Context, err)
		}
		if err := b.p.engine.BuildImage(ctx, b.ID, baleen.ImageRequest{Image: img, Context: sub, Ref: ref, Secrets: b.buildSecrets()}, b.out); err != nil {
			return fmt.Errorf("image %s: %w", img.Name, err)
		}
		b.images[img.Name] = ref
	}
	return nil
}

// imageRef resolves an image named in a spec: one of the build's own images, or an outside reference made
// present in the engine.
func (b *build) imageRef(ctx context.Context, name string) (string, error) {
	if ref, ok := b.images[name]; ok {
		return ref, nil
	}
	if err := b.p.engine.EnsureImage(ctx, name, b.out); err != nil {
		return "", err
	}
	return name, nil
}

// env joins a container's own environment with the secrets it is given by name: the subject those of
// Spec.SubjectSecrets, a dependency its own; no container gets any other.
func (b *build) env(own map[string]string, secrets []string) map[string]string {
	env := make(map[string]string, len(own)+len(secrets))
	for k, v := range own {
		env[k] = v
	}
	for _, name := range secrets {
		env[name] = b.Secrets[name]
	}
	return env
}

func (b *build) startDepends(ctx context.Context) error {
	if len(b.Spec.Depends) == 0 {
		fmt.Fprintln(b.out, "no dependencies")
	}
	if err := b.p.engine.Setup(ctx, b.ID); err != nil {
		return fmt.Errorf("create network: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(b.Spec.Depends))
	gate := newDepGate(b.Spec.Depends)
	for i, d := range b.Spec.Depends {
		if d.Src != "" && b.Dependencies[d.Name] == "" {
			errs[i] = fmt.Errorf("dependency %s: its repository (src) was not resolved", d.Name)
			gate.finish(d.Name, errs[i])
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = gate.wait(ctx, d); errs[i] == nil {
				errs[i] = b.startDepend(ctx, d)
			}
			gate.finish(d.Name, errs[i])
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *build) startDepend(ctx context.Context, d baleen.Dependency) error {
	ref := b.Dependencies[d.Name]
	if d.Src == "" {
		var err error
		if ref, err = b.imageRef(ctx, d.Image); err != nil {
			return fmt.Errorf("dependency %s: %w", d.Name, err)
		}
	}
	c := baleen.ContainerSpec{Name: d.Name, Role: "depends", Image: ref, Cmd: d.Command.Argv(), Env: b.env(d.Env, d.Credentials)}
	id, err := b.p.engine.Start(ctx, b.ID, c)
	if err != nil {
		return fmt.Errorf("dependency %s: start: %w", d.Name, err)
	}
	fmt.Fprintf(b.out, "%s: started (%s), waiting until ready\n", d.Name, ref)
	start := time.Now()
	how, err := b.waitReady(ctx, id, d)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, baleen.ErrUnavailable) {
			b.tailLogs(id, d.Name)
		}
		return fmt.Errorf("dependency %s: %w", d.Name, err)
	}
	fmt.Fprintf(b.out, "%s: ready (%s) after %s\n", d.Name, how, round(time.Since(start)))
	return nil
}

// readyPoll is how often a dependency's readiness is checked. It is no sleep standing in for readiness: every
// tick checks the real condition, until the dependency's timeout.
const readyPoll = 250 * time.Millisecond

// waitReady polls until the dependency is ready by its own definition and says which it was.
func (b *build) waitReady(ctx context.Context, id string, d baleen.Dependency) (string, error) {
	timeout := d.Ready.Timeout
	if timeout <= 0 {
		timeout = baleen.DefaultReadyTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errNotReady)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	var last lastLines
	for {
		st, err := b.p.engine.Inspect(ctx, id)
		if err != nil {
			return "", b.readyErr(ctx, timeout, last, err)
		}
		if !st.Running {
			return "", exited(st)
		}
		switch {
		case !d.Ready.Command.IsZero():
			// The attempt writes to a buffer of its own, so that one the timeout cuts short does not lose
			// what the last complete attempt said.
			var attempt lastLines
			code, err := b.p.engine.Exec(ctx, id, d.Ready.Command.Argv(), &attempt)
			if err != nil {
				// The dependency may have died between the inspection and the exec: say so rather than
				// pass on the engine's complaint.
				if st, ierr := b.p.engine.Inspect(ctx, id); ierr == nil && !st.Running {
					return "", exited(st)
				}
				return "", b.readyErr(ctx, timeout, last, err)
			}
			if code == 0 {
				return "ready command", nil
			}
			attempt.exit = code
			last = attempt
		case st.Health == "healthy":
			return "healthcheck", nil
		case st.Health == "unhealthy":
			return "", errors.New("its HEALTHCHECK reports unhealthy")
		case st.Health == "":
			return "running", nil
		}
		select {
		case <-ctx.Done():
			return "", b.readyErr(ctx, timeout, last, ctx.Err())
		case <-tick.C:
		}
	}
}

var errNotReady = errors.New("not ready")

func exited(st baleen.ContainerState) error {
	msg := fmt.Sprintf("exited with code %d before it was ready", st.ExitCode)
	if st.Error != "" {
		msg += ": " + st.Error
	}
	return errors.New(msg)
}

func (b *build) readyErr(ctx context.Context, timeout time.Duration, last lastLines, err error) error {
	if context.Cause(ctx) == errNotReady {
		msg := fmt.Sprintf("not ready after %s", timeout)
		if last.exit != 0 {
			msg += fmt.Sprintf(" (ready command last exited %d", last.exit)
			if s := strings.TrimSpace(last.String()); s != "" {
				msg += ": " + s
			}
			msg += ")"
		}
		return errors.New(msg)
	}
	return err
}

// lastLines keeps the last few hundred bytes written to it.
type lastLines struct {
	b    []byte
	exit int
}

func (l *lastLines) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > 512 {
		l.b = l.b[len(l.b)-512:]
	}
	return len(p), nil
}

func (l *lastLines) String() string { return string(l.b) }

// DependencyLogLines is how many of a failed dependency's last log lines are shown.
const DependencyLogLines = 20

// tailLogs shows a failed dependency's last log lines under a header; a dependency that wrote none gets one
// line saying so rather than an empty frame.
func (b *build) tailLogs(id, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var tail bytes.Buffer
	err := b.p.engine.Logs(ctx, id, DependencyLogLines, false, &tail)
	switch {
	case err != nil:
		fmt.Fprintf(b.out, "--- the log of %s is unavailable: %v\n", name, err)
	case tail.Len() == 0:
		fmt.Fprintf(b.out, "--- %s wrote nothing to its log\n", name)
	default:
		fmt.Fprintf(b.out, "--- last %d log lines of %s:\n", DependencyLogLines, name)
		b.out.Write(bytes.TrimSuffix(tail.Bytes(), []byte("\n")))
		fmt.Fprintln(b.out, "\n---")
	}
}

func (b *build) test(ctx context.Context) (string, error) {
	t := b.Spec.Test
	ref, err := b.imageRef(ctx, t.Image)
	if err != nil {
		return "", fmt.Errorf("test image: %w", err)
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = baleen.DefaultTestTimeout
	}
	tctx, cancel := context.WithTimeoutCause(ctx, timeout, errTestTimeout)
	defer cancel()
	fmt.Fprintf(b.out, "running %s\n", ref)
	c := baleen.ContainerSpec{Name: "test", Role: "test", Image: ref, Cmd: t.Command.Argv(), Env: b.env(t.Env, b.Spec.SubjectSecrets()), Workdir: t.Workdir}
	id, code, err := b.p.engine.Run(tctx, b.ID, c, b.out)
	switch {
	case err != nil && ctx.Err() == nil && context.Cause(tctx) == errTestTimeout:
		return id, fmt.Errorf("tests timed out after %s", timeout)
	case err != nil:
		return id, err
	case code != 0:
		return id, fmt.Errorf("tests exited with code %d", code)
	}
	return id, nil
}

var errTestTimeout = errors.New("test timeout")

// artifactKinds are the folders of the artifacts directory, one per key of the spec's artifacts.
func artifactKinds(a baleen.Artifacts) []struct {
	dir   string
	paths []string
} {
	return []struct {
		dir   string
		paths []string
	}{{"xunit", a.XUnit}, {"coverage", a.Coverage}, {"coverage_html", a.CoverageHTML}, {"files", a.Files}}
}

func (b *build) collect(ctx context.Context, container string) error {
	budget := int64(MaxArtifactBytes)
	warn := func(s string) { fmt.Fprintf(b.out, "warning: %s\n", s) }
	local := map[string][]string{}
	for _, k := range artifactKinds(b.Spec.Artifacts) {
		dir := filepath.Join(b.ArtifactsDir, k.dir)
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clear %s: %w", dir, err)
		}
		for _, p := range k.paths {
			rc, err := b.p.engine.CopyFrom(ctx, container, p)
			if errors.Is(err, baleen.ErrNotFound) {
				warn(fmt.Sprintf("artifact %s: %s does not exist in the test container", k.dir, p))
				continue
			}
			if err != nil {
				return fmt.Errorf("copy %s: %w", p, err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				rc.Close()
				return fmt.Errorf("create %s: %w", dir, err)
			}
			// Names are masked for every kind, contents for the reports, which the build record quotes.
			files, err := extractTar(rc, dir, &budget, warn, b.stages.Masker(), k.dir != "files")
			rc.Close()
			if err != nil {
				return err
			}
			for _, f := range files {
				b.files = append(b.files, k.dir+"/"+f)
			}
			fmt.Fprintf(b.out, "%s: %s (%d files)\n", k.dir, p, len(files))
			local[k.dir] = append(local[k.dir], filepath.Join(dir, filepath.Base(b.stages.Mask(p))))
		}
	}
	sort.Strings(b.files)
	if len(local["xunit"])+len(local["coverage"]) > 0 {
		b.report = report.Read(local["xunit"], local["coverage"])
		// The reports are kept with the build and shown by `ssh HOST report`: no secret in them either.
		maskReport(b.report, b.stages.Mask)
		// Warnings name the files as the artifacts directory holds them, not by this machine's paths.
		for i, w := range b.report.Warnings {
			b.report.Warnings[i] = strings.ReplaceAll(w, b.ArtifactsDir+string(filepath.Separator), "")
			warn(b.report.Warnings[i])
		}
		b.printReport()
		if b.Report != nil {
			b.Report(b.out, b.report)
		}
		b.stages.Publish(baleen.Event{Kind: baleen.EventTestSummary, Report: b.report, Text: b.report.Summary()})
	}
	return b.requireTests()
}

// MaxFailuresShown caps the failed tests listed after the summary.
const MaxFailuresShown = 20

func (b *build) printReport() {
	fmt.Fprintln(b.out, b.report.Summary())
	for i, f := range b.report.Failures {
		if i == MaxFailuresShown {
			fmt.Fprintf(b.out, "  ... and %d more\n", len(b.report.Failures)-i)
			break
		}
		if f.Message != "" {
			fmt.Fprintf(b.out, "  FAIL %s: %s\n", f.Name, firstLine(f.Message))
		} else {
			fmt.Fprintf(b.out, "  FAIL %s\n", f.Name)
		}
	}
}

func (b *build) tag(ctx context.Context) error {
	for _, img := range b.Spec.Build {
		ref := baleen.LatestTag(b.Project, img.Name)
		if err := b.p.engine.Tag(ctx, b.images[img.Name], ref); err != nil {
			return fmt.Errorf("tag %s: %w", ref, err)
		}
		fmt.Fprintf(b.out, "%s -> %s\n", b.images[img.Name], ref)
	}
	return nil
}

func secretValues(m map[string]string) []string {
	vs := make([]string, 0, len(m))
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Teardown removes what build id left in the engine: for builds a crash cut short.
func (p *Pipeline) Teardown(ctx context.Context, id baleen.BuildID) error {
	return p.engine.Teardown(ctx, id)
}

package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
)

// execPollInterval is how often Exec asks whether a command whose output has ended has exited too.
const execPollInterval = 50 * time.Millisecond

// Setup creates the build's bridge network "baleen-<id>", labelled with the build's id. It is idempotent:
// a network of that name that exists already is used as it is.
func (e *Engine) Setup(ctx context.Context, id baleen.BuildID) error {
	name := networkName(id)
	what := "set up network " + name
	list, err := call(ctx, e, func(ctx context.Context) (client.NetworkListResult, error) {
		return e.client.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	})
	if err != nil {
		return e.fail(err, what)
	}
	for _, n := range list.Items {
		// The name filter matches substrings.
		if n.Name == name {
			return nil
		}
	}
	_, err = call(ctx, e, func(ctx context.Context) (client.NetworkCreateResult, error) {
		return e.client.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver: "bridge",
			Labels: map[string]string{baleen.LabelBuild: string(id)},
		})
	})
	if err != nil {
		return e.fail(err, what)
	}
	e.log.Debug("network created", "build", id)
	return nil
}

// Start creates and starts a container on the build's network, reachable there by c.Name, and returns its
// id. When the container was created but could not start, its id comes back with the error, so that its
// logs can be read; Teardown removes it either way.
func (e *Engine) Start(ctx context.Context, id baleen.BuildID, c baleen.ContainerSpec) (string, error) {
	cid, err := e.create(ctx, id, c)
	if err != nil {
		return "", err
	}
	if err := e.start(ctx, cid); err != nil {
		return cid, e.fail(err, "start container "+describe(c))
	}
	e.log.Debug("container started", "build", id, "container", describe(c))
	return cid, nil
}

// create creates the container c of build id on the build's network.
func (e *Engine) create(ctx context.Context, id baleen.BuildID, c baleen.ContainerSpec) (string, error) {
	env := make([]string, 0, len(c.Env))
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	labels := map[string]string{baleen.LabelBuild: string(id)}
	if c.Role != "" {
		labels[LabelRole] = c.Role
	}
	if c.Name != "" {
		labels[LabelName] = c.Name
	}
	net := networkName(id)
	endpoint := &network.EndpointSettings{}
	if c.Name != "" {
		endpoint.Aliases = []string{c.Name}
	}
	opts := client.ContainerCreateOptions{
		Name: containerName(id, c),
		Config: &container.Config{
			Image:      c.Image,
			Cmd:        c.Cmd,
			Env:        env,
			WorkingDir: c.Workdir,
			Hostname:   c.Name,
			Labels:     labels,
		},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(net)},
		NetworkingConfig: &network.NetworkingConfig{
			EndpointsConfig: map[string]*network.EndpointSettings{net: endpoint},
		},
	}
	res, err := call(ctx, e, func(ctx context.Context) (client.ContainerCreateResult, error) {
		return e.client.ContainerCreate(ctx, opts)
	})
	if err != nil {
		return "", e.fail(err, fmt.Sprintf("create container %s from image %s", describe(c), c.Image))
	}
	for _, w := range res.Warnings {
		e.log.Warn("container created with a warning", "build", id, "container", describe(c), "err", w)
	}
	return res.ID, nil
}

// start starts container cid under the call deadline.
func (e *Engine) start(ctx context.Context, cid string) error {
	_, err := call(ctx, e, func(ctx context.Context) (client.ContainerStartResult, error) {
		return e.client.ContainerStart(ctx, cid, client.ContainerStartOptions{})
	})
	return err
}

// containerName is the name of container c of build id: "baleen-<id>-<name or role>", or "" (a name the
// engine picks) when c has neither or the result is not a valid container name.
func containerName(id baleen.BuildID, c baleen.ContainerSpec) string {
	n := c.Name
	if n == "" {
		n = c.Role
	}
	if n == "" {
		return ""
	}
	name := "baleen-" + string(id) + "-" + n
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
		if !ok {
			return ""
		}
	}
	return name
}

// describe names a container spec in messages.
func describe(c baleen.ContainerSpec) string {
	switch {
	case c.Name != "":
		return c.Name
	case c.Role != "":
		return c.Role
	}
	return c.Image
}

// Inspect reports whether a container runs, how it exited, its HEALTHCHECK status ("" when it has none)
// and the engine's error for it.
func (e *Engine) Inspect(ctx context.Context, ctr string) (baleen.ContainerState, error) {
	res, err := call(ctx, e, func(ctx context.Context) (client.ContainerInspectResult, error) {
		return e.client.ContainerInspect(ctx, ctr, client.ContainerInspectOptions{})
	})
	if err != nil {
		return baleen.ContainerState{}, e.fail(err, "inspect container "+shortID(ctr))
	}
	st := res.Container.State
	if st == nil {
		return baleen.ContainerState{}, nil
	}
	var health string
	if st.Health != nil && st.Health.Status != container.NoHealthcheck {
		health = string(st.Health.Status)
	}
	return baleen.ContainerState{Running: st.Running, ExitCode: st.ExitCode, Health: health, Error: st.Error}, nil
}

// Exec runs argv in the running container ctr, writes its stdout and stderr to out and returns its exit
// code. When ctx ends first, Exec stops reading and returns ctx's error; the engine offers no way to kill
// the command itself, which ends with its container.
func (e *Engine) Exec(ctx context.Context, ctr string, argv []string, out io.Writer) (int, error) {
	if len(argv) == 0 {
		return -1, fmt.Errorf("exec in container %s: empty command: %w", shortID(ctr), baleen.ErrInvalid)
	}
	what := fmt.Sprintf("exec %s in container %s", argv[0], shortID(ctr))
	cr, err := call(ctx, e, func(ctx context.Context) (client.ExecCreateResult, error) {
		return e.client.ExecCreate(ctx, ctr, client.ExecCreateOptions{AttachStdout: true, AttachStderr: true, Cmd: argv})
	})
	if err != nil {
		return -1, e.fail(err, what)
	}
	wctx, stopWatch := e.watch(ctx)
	defer stopWatch()
	att, err := e.client.ExecAttach(wctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, e.fail(e.callError(wctx, err), what)
	}
	defer att.Close()
	stop := context.AfterFunc(wctx, att.Close)
	defer stop()
	if _, err := stdcopy.StdCopy(out, out, att.Reader); err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return -1, e.fail(e.callError(wctx, err), what)
	}
	// The output can end a moment before the engine records the exit.
	tick := time.NewTicker(execPollInterval)
	defer tick.Stop()
	for {
		ins, err := call(ctx, e, func(ctx context.Context) (client.ExecInspectResult, error) {
			return e.client.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
		})
		if err != nil {
			return -1, e.fail(err, what)
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// Logs writes the output of container ctr to w, stdout and stderr interleaved: the last tail lines (all
// when tail < 0), then, with follow, what comes until the container stops or ctx ends.
func (e *Engine) Logs(ctx context.Context, ctr string, tail int, follow bool, w io.Writer) error {
	what := "logs of container " + shortID(ctr)
	t := "all"
	if tail >= 0 {
		t = strconv.Itoa(tail)
	}
	wctx, stop := e.watch(ctx)
	defer stop()
	rc, err := e.client.ContainerLogs(wctx, ctr, client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Tail:       t,
		Follow:     follow,
	})
	if err != nil {
		return e.fail(e.callError(wctx, err), what)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return e.fail(e.callError(wctx, err), what)
	}
	return nil
}

// Run creates the container c on the build's network, starts it, streams its output to out as it comes and
// returns its id and exit code once it stops. When ctx ends first, the container is killed (on a fresh
// context) and left in place for CopyFrom, and Run returns its id, -1 and ctx's error.
func (e *Engine) Run(ctx context.Context, id baleen.BuildID, c baleen.ContainerSpec, out io.Writer) (string, int, error) {
	what := "run container " + describe(c)
	cid, err := e.create(ctx, id, c)
	if err != nil {
		return "", -1, err
	}
	if err := e.start(ctx, cid); err != nil {
		if ctx.Err() != nil {
			return cid, -1, e.kill(ctx, cid)
		}
		return cid, -1, e.fail(err, what)
	}
	e.log.Debug("container started", "build", id, "container", describe(c))

	logCtx, cancelLogs := context.WithCancel(ctx)
	defer cancelLogs()
	logsDone := make(chan error, 1)
	go func() { logsDone <- e.Logs(logCtx, cid, -1, true, out) }()
	// endLogs waits for the log stream, which ends by itself once the container stopped; it gives up
	// after the cleanup timeout. It reports an error only when output was lost.
	endLogs := func() error {
		timer := time.NewTimer(e.cleanupTimeout)
		defer timer.Stop()
		select {
		case err := <-logsDone:
			return err
		case <-timer.C:
			cancelLogs()
			<-logsDone
			return fmt.Errorf("%s: output did not end %s after the container stopped", what, e.cleanupTimeout)
		}
	}

	wctx, stopWatch := e.watch(ctx)
	defer stopWatch()
	wait := e.client.ContainerWait(wctx, cid, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wait.Result:
		code := int(res.StatusCode)
		lerr := endLogs()
		if res.Error != nil && res.Error.Message != "" {
			return cid, code, fmt.Errorf("%s: wait: %s", what, res.Error.Message)
		}
		return cid, code, lerr
	case err := <-wait.Error:
		cancelLogs()
		<-logsDone
		if ctx.Err() != nil {
			return cid, -1, e.kill(ctx, cid)
		}
		return cid, -1, e.fail(e.callError(wctx, err), what)
	case <-ctx.Done():
		cancelLogs()
		<-logsDone
		return cid, -1, e.kill(ctx, cid)
	}
}

// kill kills container ctr after ctx ended, on a fresh context, waits until it has stopped and returns
// ctx's error, joined with whatever went wrong on the way.
func (e *Engine) kill(ctx context.Context, ctr string) error {
	kctx, cancel := e.cleanupContext(ctx)
	defer cancel()
	_, err := call(kctx, e, func(ctx context.Context) (client.ContainerKillResult, error) {
		return e.client.ContainerKill(ctx, ctr, client.ContainerKillOptions{Signal: "KILL"})
	})
	if err != nil && !cerrdefs.IsConflict(err) { // conflict: it is not running any more
		return errors.Join(ctx.Err(), e.fail(err, "kill container "+shortID(ctr)))
	}
	wait := e.client.ContainerWait(kctx, ctr, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-wait.Result:
	case err := <-wait.Error:
		return errors.Join(ctx.Err(), e.fail(err, "wait for killed container "+shortID(ctr)))
	}
	e.log.Debug("container killed", "container", shortID(ctr))
	return ctx.Err()
}

// CopyFrom returns a tar stream of p, a file or a directory, inside container ctr, running or not. A
// missing path gives an error wrapping baleen.ErrNotFound.
func (e *Engine) CopyFrom(ctx context.Context, ctr, p string) (io.ReadCloser, error) {
	wctx, stop := e.watch(ctx)
	res, err := e.client.CopyFromContainer(wctx, ctr, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		stop()
		return nil, e.fail(e.callError(wctx, err), fmt.Sprintf("copy %s from container %s", p, shortID(ctr)))
	}
	return &watchedReader{ReadCloser: res.Content, stop: stop}, nil
}

// Teardown force-removes every container labelled with the build's id, with its anonymous volumes, then
// the build's networks and volumes. Images are kept. It is idempotent and joins the errors of what it
// could not remove; an engine that does not answer gives that one error. Each removal has the call
// deadline, so that one stuck container cannot use up the caller's budget: what it could not remove is
// in the error, and a later Teardown (or Sweep) retries it.
func (e *Engine) Teardown(ctx context.Context, id baleen.BuildID) error {
	e.toldClassic.Delete(id)
	err := e.removeLabelled(ctx, buildFilter(id), "build "+string(id))
	if err == nil {
		e.log.Debug("build torn down", "build", id)
	}
	return err
}

// removeLabelled force-removes the containers, then the networks, then the volumes that filter selects;
// what names them in messages.
func (e *Engine) removeLabelled(ctx context.Context, filter client.Filters, what string) error {
	var errs []error
	containers, err := call(ctx, e, func(ctx context.Context) (client.ContainerListResult, error) {
		return e.client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	})
	if err != nil {
		var unavailable *unavailableError
		if isConnectionFailure(err) || errors.As(err, &unavailable) {
			return e.fail(err, "tear down "+what)
		}
		errs = append(errs, e.fail(err, "list containers of "+what))
	}
	for _, c := range containers.Items {
		_, err := call(ctx, e, func(ctx context.Context) (client.ContainerRemoveResult, error) {
			return e.client.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.fail(err, "remove container "+shortID(c.ID)))
		}
	}

	networks, err := call(ctx, e, func(ctx context.Context) (client.NetworkListResult, error) {
		return e.client.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	})
	if err != nil {
		errs = append(errs, e.fail(err, "list networks of "+what))
	}
	for _, n := range networks.Items {
		_, err := call(ctx, e, func(ctx context.Context) (client.NetworkRemoveResult, error) {
			return e.client.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.fail(err, "remove network "+n.Name))
		}
	}

	volumes, err := call(ctx, e, func(ctx context.Context) (client.VolumeListResult, error) {
		return e.client.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	})
	if err != nil {
		errs = append(errs, e.fail(err, "list volumes of "+what))
	}
	for _, v := range volumes.Items {
		_, err := call(ctx, e, func(ctx context.Context) (client.VolumeRemoveResult, error) {
			return e.client.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.fail(err, "remove volume "+v.Name))
		}
	}
	return errors.Join(errs...)
}

// shortID is the first 12 characters of a full object id, as docker prints it; anything else, such as a
// container name, comes back as it is.
func shortID(id string) string {
	if len(id) != 64 {
		return id
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return id
		}
	}
	return id[:12]
}

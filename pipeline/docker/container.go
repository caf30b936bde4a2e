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
	list, err := e.client.NetworkList(ctx, client.NetworkListOptions{
		Filters: make(client.Filters).Add("name", name),
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
	_, err = e.client.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: map[string]string{baleen.LabelBuild: string(id)},
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
	if _, err := e.client.ContainerStart(ctx, cid, client.ContainerStartOptions{}); err != nil {
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
	res, err := e.client.ContainerCreate(ctx, client.ContainerCreateOptions{
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
	})
	if err != nil {
		return "", e.fail(err, fmt.Sprintf("create container %s from image %s", describe(c), c.Image))
	}
	for _, w := range res.Warnings {
		e.log.Warn("container created with a warning", "build", id, "container", describe(c), "err", w)
	}
	return res.ID, nil
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
	res, err := e.client.ContainerInspect(ctx, ctr, client.ContainerInspectOptions{})
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
	cr, err := e.client.ExecCreate(ctx, ctr, client.ExecCreateOptions{
		AttachStdout: true,
		AttachStderr: true,
		Cmd:          argv,
	})
	if err != nil {
		return -1, e.fail(err, what)
	}
	att, err := e.client.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, e.fail(err, what)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	if _, err := stdcopy.StdCopy(out, out, att.Reader); err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return -1, e.fail(err, what)
	}
	// The output can end a moment before the engine records the exit.
	tick := time.NewTicker(execPollInterval)
	defer tick.Stop()
	for {
		ins, err := e.client.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
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
	rc, err := e.client.ContainerLogs(ctx, ctr, client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Tail:       t,
		Follow:     follow,
	})
	if err != nil {
		return e.fail(err, what)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return e.fail(err, what)
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
	if _, err := e.client.ContainerStart(ctx, cid, client.ContainerStartOptions{}); err != nil {
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

	wait := e.client.ContainerWait(ctx, cid, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
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
		return cid, -1, e.fail(err, what)
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
	_, err := e.client.ContainerKill(kctx, ctr, client.ContainerKillOptions{Signal: "KILL"})
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
	res, err := e.client.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		return nil, e.fail(err, fmt.Sprintf("copy %s from container %s", p, shortID(ctr)))
	}
	return res.Content, nil
}

// Teardown force-removes every container labelled with the build's id, with its anonymous volumes, then
// the build's networks and volumes. Images are kept. It is idempotent and joins the errors of what it
// could not remove; an engine that does not answer gives that one error.
func (e *Engine) Teardown(ctx context.Context, id baleen.BuildID) error {
	filter := buildFilter(id)
	var errs []error

	containers, err := e.client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		if isConnectionFailure(err) {
			return e.fail(err, "tear down build "+string(id))
		}
		errs = append(errs, e.fail(err, "list containers of build "+string(id)))
	}
	for _, c := range containers.Items {
		_, err := e.client.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.fail(err, "remove container "+shortID(c.ID)))
		}
	}

	networks, err := e.client.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		errs = append(errs, e.fail(err, "list networks of build "+string(id)))
	}
	for _, n := range networks.Items {
		_, err := e.client.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.fail(err, "remove network "+n.Name))
		}
	}

	volumes, err := e.client.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	if err != nil {
		errs = append(errs, e.fail(err, "list volumes of build "+string(id)))
	}
	for _, v := range volumes.Items {
		_, err := e.client.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.fail(err, "remove volume "+v.Name))
		}
	}
	if len(errs) == 0 {
		e.log.Debug("build torn down", "build", id)
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

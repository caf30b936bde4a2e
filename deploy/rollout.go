package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/internal/shell"
	"github.com/baleen-ci/baleen/internal/syncio"
)

// The strategies of Deploy.Strategy.
const (
	StrategyRolling = "rolling"
	StrategyAll     = "all"
)

// stateVersion is the version of the state file written on each host.
const stateVersion = 1

// hostState is what a host runs for one unit: /etc/baleen/baleen-<project>..<unit>.release, written only once the
// release passed its checks there.
type hostState struct {
	V        int           `json:"v"`
	Project  string        `json:"project"`
	Unit     string        `json:"unit"`
	Release  int           `json:"release"`
	Build    int           `json:"build"`
	Commit   string        `json:"commit,omitempty"`
	Image    string        `json:"image"`
	Health   baleen.Health `json:"health,omitzero"`
	Deployed time.Time     `json:"deployed"`
}

// planned is one unit of a release, rendered and ready to be written to hosts.
type planned struct {
	unit  baleen.DeployUnit
	base  string
	image string
	file  []byte
	env   []byte
	state []byte
}

// plan renders every unit of d for release r. Any error here means no host is touched.
func (dp *Deployer) plan(r baleen.Release, d baleen.Deploy) ([]planned, error) {
	if len(d.Units) == 0 {
		return nil, fmt.Errorf("deploy %s: no units: %w", r.Project, baleen.ErrInvalid)
	}
	var ps []planned
	for _, u := range d.Units {
		image, ok := r.Images[u.Image]
		if !ok {
			return nil, fmt.Errorf("deploy unit %s: release %d has no image %q: %w", u.Name, r.Number, u.Image, baleen.ErrNotFound)
		}
		file, err := renderUnit(r, u, image)
		if err != nil {
			return nil, err
		}
		env, err := renderEnv(u, dp.opts.Secret)
		if err != nil {
			return nil, err
		}
		st, err := json.Marshal(hostState{
			V: stateVersion, Project: r.Project, Unit: u.Name, Release: r.Number, Build: r.Build,
			Commit: r.Commit, Image: image, Health: u.Health, Deployed: time.Now().UTC(),
		})
		if err != nil {
			return nil, err
		}
		ps = append(ps, planned{unit: u, base: unitName(r.Project, u.Name), image: image, file: file, env: env, state: st})
	}
	return ps, nil
}

// Deploy rolls r out to the hosts of d.Target; see baleen.Deployer. Under "rolling" the hosts go one by
// one, under "all" they switch at once. A release is recorded on the hosts only once it passed on every
// one of them: until then each switched host keeps its previous release's files, so when a host fails (or
// the rollout is cancelled) every host already switched is returned to its previous release too, and the
// target never ends split between two releases. Under "rolling" the hosts after the one that failed are
// not touched (Status queued).
func (dp *Deployer) Deploy(ctx context.Context, r baleen.Release, d baleen.Deploy, out io.Writer) ([]baleen.HostResult, error) {
	if out == nil {
		out = io.Discard
	}
	t, err := dp.target(d.Target)
	if err != nil {
		return nil, err
	}
	strategy := d.Strategy
	if strategy == "" {
		strategy = StrategyRolling
	}
	if strategy != StrategyRolling && strategy != StrategyAll {
		return nil, fmt.Errorf("deploy strategy %q: want %q or %q: %w", d.Strategy, StrategyRolling, StrategyAll, baleen.ErrInvalid)
	}
	ps, err := dp.plan(r, d)
	if err != nil {
		return nil, err
	}
	results := make([]baleen.HostResult, len(t.Hosts))
	for i, h := range t.Hosts {
		results[i] = baleen.HostResult{Host: h, Status: baleen.StatusQueued}
	}
	printf(out, "deploy: release %d of %s (build %d) to %s: %d host(s), %s", r.Number, r.Project, r.Build, t.Name, len(t.Hosts), strategy)
	w := syncio.NewWriter(out)
	parallel := strategy == StrategyAll
	sws := make([]*hostSwitch, len(t.Hosts))
	defer func() {
		for _, sw := range sws {
			if sw != nil {
				sw.Close()
			}
		}
	}()
	if parallel {
		forHosts(len(t.Hosts), true, func(i int) { sws[i], results[i] = dp.switchHost(ctx, t, t.Hosts[i], r, ps, w) })
	} else {
		for i, addr := range t.Hosts {
			sws[i], results[i] = dp.switchHost(ctx, t, addr, r, ps, w)
			if results[i].Status != baleen.StatusPassed {
				for j := i + 1; j < len(results); j++ {
					results[j].Message = "not touched: the rollout stopped at " + addr
				}
				break
			}
		}
	}
	settle(ctx, r, ps, sws, results, parallel)
	return results, nil
}

// settle ends a rollout whose hosts sws switched (nil where a host failed or was not reached), with
// results saying how each went: when any failed or ctx ended, every switched host is returned to its
// previous release (the last switched first, unless parallel); otherwise the release is recorded on each.
func settle(ctx context.Context, r baleen.Release, ps []planned, sws []*hostSwitch, results []baleen.HostResult, parallel bool) {
	why := ""
	if failed := slices.IndexFunc(results, func(h baleen.HostResult) bool { return h.Status == baleen.StatusFailed }); failed >= 0 {
		reason, _, _ := strings.Cut(results[failed].Message, "\n")
		why = "the rollout failed: " + reason
	} else if ctx.Err() != nil {
		why = "the rollout was stopped: " + context.Cause(ctx).Error()
	}
	if why != "" {
		forHosts(len(sws), parallel, func(i int) {
			// Rolling: the last host switched goes back first, as a rollout in reverse.
			i = len(sws) - 1 - i
			if sws[i] != nil {
				results[i] = sws[i].undo(ctx, why)
			}
		})
		return
	}
	// Every host passed: the release is recorded on each, even if ctx ends meanwhile, so that no host is
	// left with a switch under way.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	forHosts(len(sws), parallel, func(i int) { results[i] = sws[i].finish(cctx, r, ps) })
}

// finishTimeout bounds recording a release that passed on every host, and pruning their images.
const finishTimeout = 5 * time.Minute

// forHosts calls fn for 0..n-1, all at once when parallel is set and in order otherwise.
func forHosts(n int, parallel bool, fn func(i int)) {
	if !parallel {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// hostSwitch is a host that runs a release which passed its checks there but is not yet recorded: its
// .prev files and markers still name the release before, so it can be returned to it. It keeps its
// connection to the host until Close.
type hostSwitch struct {
	hs       *hostSession
	switched []planned
	log      *slog.Logger
	closers  []func() error
}

// Close ends the connection to the host.
func (sw *hostSwitch) Close() {
	for _, c := range slices.Backward(sw.closers) {
		_ = c()
	}
}

// switchHost moves one host to release r: it finishes what an interrupted switch left, delivers the
// images, writes the units, restarts them and checks them. When they pass it returns the switch, still
// open, with a passed result; on any failure it returns the host to the release it ran before and
// returns nil with a failed result.
func (dp *Deployer) switchHost(ctx context.Context, t Target, addr string, r baleen.Release, ps []planned, out io.Writer) (*hostSwitch, baleen.HostResult) {
	res := baleen.HostResult{Host: addr, Status: baleen.StatusFailed}
	refuse := func(msg string) (*hostSwitch, baleen.HostResult) {
		res.Message = msg
		printf(out, "deploy: %s", msg)
		return nil, res
	}
	h, err := connect(ctx, t, addr, dp.opts.DialTimeout)
	if err != nil {
		return refuse(fmt.Sprintf("%s: %v", addr, err))
	}
	sw := &hostSwitch{log: dp.log.With("project", r.Project, "host", addr), closers: []func() error{h.Close}}
	keep := false
	defer func() {
		if !keep {
			sw.Close()
		}
	}()
	// The bus connection outlives ctx: a rollout cancelled mid-switch still rolls the host back.
	sd, err := h.systemd(context.WithoutCancel(ctx))
	if err != nil {
		return refuse(fmt.Sprintf("%s: %v", addr, err))
	}
	sw.closers = append(sw.closers, func() error { sd.Close(); return nil })
	hs := &hostSession{dp: dp, h: h, sd: sd, addr: addr, out: out}
	sw.hs = hs

	for _, p := range ps {
		if err := hs.owned(ctx, p.base, r.Project, p.unit.Name); err != nil {
			return refuse(fmt.Sprintf("host %s: unit %s: %v (the host is not touched)", addr, unitFile(p.base), err))
		}
	}
	for _, p := range ps {
		if err := hs.recoverUnit(ctx, p.base); err != nil {
			return refuse(fmt.Sprintf("host %s: unit %s: finish an interrupted switch: %v\nlast journal lines of %s on %s:\n%s",
				addr, unitFile(p.base), err, unitFile(p.base), addr, hs.journal(ctx, p.base, dp.opts.JournalLines)))
		}
	}
	for _, p := range ps {
		if err := hs.deliver(ctx, p.image); err != nil {
			return refuse(fmt.Sprintf("host %s: unit %s: image %s: %v (the host keeps its previous release)", addr, unitFile(p.base), p.image, err))
		}
	}
	for _, p := range ps {
		// Counted as switched from its staging on: files staged by a switch that never began are removed,
		// and a begin cut short after its marker is undone like a full one.
		sw.switched = append(sw.switched, p)
		if err := hs.stage(ctx, p); err != nil {
			return nil, sw.fail(ctx, p, fmt.Errorf("write unit files: %w", err))
		}
		if err := hs.begin(ctx, p.base); err != nil {
			return nil, sw.fail(ctx, p, fmt.Errorf("switch unit files: %w", err))
		}
		printf(out, "deploy: %s: starting %s (%s)", addr, unitFile(p.base), p.image)
		if err := hs.start(ctx, p.base); err != nil {
			return nil, sw.fail(ctx, p, err)
		}
		if err := hs.check(ctx, p.base, p.unit.Health); err != nil {
			return nil, sw.fail(ctx, p, err)
		}
		printf(out, "deploy: %s: %s is healthy", addr, unitFile(p.base))
	}
	keep = true
	res.Status = baleen.StatusPassed
	res.Message = fmt.Sprintf("release %d passed its checks", r.Number)
	return sw, res
}

// fail returns the host to its previous release after p failed for reason, and says so in a failed
// result with p's last journal lines.
func (sw *hostSwitch) fail(ctx context.Context, p planned, reason error) baleen.HostResult {
	hs := sw.hs
	journal := hs.journal(ctx, p.base, hs.dp.opts.JournalLines)
	msg := fmt.Sprintf("host %s: unit %s: %v%s", hs.addr, unitFile(p.base), reason, sw.rollback(ctx))
	if journal != "" {
		msg += fmt.Sprintf("\nlast journal lines of %s on %s:\n%s", unitFile(p.base), hs.addr, journal)
	}
	printf(hs.out, "deploy: %s", msg)
	return baleen.HostResult{Host: hs.addr, Status: baleen.StatusFailed, Message: msg}
}

// undo returns a host whose switch passed to its previous release because of why, elsewhere, and says so
// in a failed result.
func (sw *hostSwitch) undo(ctx context.Context, why string) baleen.HostResult {
	msg := fmt.Sprintf("host %s: returned to its previous release, as %s%s", sw.hs.addr, why, sw.rollback(ctx))
	printf(sw.hs.out, "deploy: %s", msg)
	return baleen.HostResult{Host: sw.hs.addr, Status: baleen.StatusFailed, Message: msg}
}

// rollback returns every unit switched on the host to its previous release, the last one first, and
// says what became of each, one line each.
func (sw *hostSwitch) rollback(ctx context.Context) string {
	var b strings.Builder
	for _, q := range slices.Backward(sw.switched) {
		if msg, err := sw.hs.rollback(ctx, q.base); err != nil {
			fmt.Fprintf(&b, "\nrollback of %s FAILED: %v", unitFile(q.base), err)
			sw.log.Error("rollback failed", "unit", unitFile(q.base), "err", err)
		} else {
			fmt.Fprintf(&b, "\n%s", msg)
		}
	}
	sw.switched = nil
	return b.String()
}

// finish records release r on a host whose switch passed, ending the switch, and prunes its images.
func (sw *hostSwitch) finish(ctx context.Context, r baleen.Release, ps []planned) baleen.HostResult {
	hs := sw.hs
	for _, p := range ps {
		if err := hs.finish(ctx, p); err != nil {
			return sw.fail(ctx, p, fmt.Errorf("record the release on the host: %w", err))
		}
	}
	hs.pruneImages(ctx, ps)
	printf(hs.out, "deploy: %s: release %d runs", hs.addr, r.Number)
	return baleen.HostResult{Host: hs.addr, Status: baleen.StatusPassed, Message: fmt.Sprintf("release %d runs", r.Number)}
}

// hostSession is one connection to a host during a switch.
type hostSession struct {
	dp   *Deployer
	h    host
	sd   *sddbus.Conn
	addr string
	out  io.Writer
}

// writeFile writes data to path atomically (a temporary file renamed over it) with mode, owned by root,
// in the root-only directory stateDir.
func (hs *hostSession) writeFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	cmd := fmt.Sprintf("umask 077 && mkdir -p %s && chmod 0700 %s && cat > %s && chmod %04o %s && sync %s && mv -f %s %s",
		shell.Quote(stateDir), shell.Quote(stateDir), shell.Quote(tmp), mode.Perm(), shell.Quote(tmp), shell.Quote(tmp), shell.Quote(tmp), shell.Quote(path))
	if err := hs.h.run(ctx, cmd, strings.NewReader(string(data)), nil); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// stage writes the new unit and environment files beside the live ones.
func (hs *hostSession) stage(ctx context.Context, p planned) error {
	// systemd warns about unit files that are not world-readable; the environment file holds
	// credentials and is root-only.
	if err := hs.writeFile(ctx, newPath(p.base, "unit"), p.file, 0o644); err != nil {
		return err
	}
	if err := hs.writeFile(ctx, newPath(p.base, "env"), p.env, 0o600); err != nil {
		return err
	}
	return hs.writeFile(ctx, newPath(p.base, "state"), p.state, 0o644)
}

// kinds are the files of a unit on a host that a switch replaces together, with their live paths.
func kinds(base string) [][2]string {
	return [][2]string{{"unit", unitPath(base)}, {"env", envPath(base)}, {"state", statePath(base)}}
}

// staged lists, quoted for a shell, the files of base that stage writes (and their temporary names): none
// of them is live.
func staged(base string) string {
	var qs []string
	for _, k := range kinds(base) {
		qs = append(qs, shell.Quote(newPath(base, k[0])), shell.Quote(newPath(base, k[0])+".tmp"))
	}
	return strings.Join(qs, " ")
}

// markerPath is the file whose presence says a switch of base is under way: until it is removed, the
// .prev files are the host's last good release.
func markerPath(base string) string { return stateDir + "/" + base + ".switch" }

// begin keeps copies of the live unit, environment and state files as .prev, marks the switch as under
// way, and moves the staged unit and environment files in. The state file stays the previous release's
// until finish.
func (hs *hostSession) begin(ctx context.Context, base string) error {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, k := range kinds(base) {
		prev := shell.Quote(prevPath(base, k[0]))
		fmt.Fprintf(&b, "rm -f %s\nif [ -e %s ]; then cp -p %s %s; fi\n", prev, shell.Quote(k[1]), shell.Quote(k[1]), prev)
	}
	fmt.Fprintf(&b, "sync\n: > %s\nsync\n", shell.Quote(markerPath(base)))
	for _, k := range kinds(base)[:2] {
		fmt.Fprintf(&b, "mv -f %s %s\n", shell.Quote(newPath(base, k[0])), shell.Quote(k[1]))
	}
	b.WriteString("sync\n")
	return hs.h.run(ctx, b.String(), nil, nil)
}

// finish records that base passed: the staged state file becomes the live one, which ends the switch.
func (hs *hostSession) finish(ctx context.Context, p planned) error {
	cmd := fmt.Sprintf("set -e\nmv -f %s %s\nsync\nrm -f %s\nsync\nrm -f %s %s %s",
		shell.Quote(newPath(p.base, "state")), shell.Quote(statePath(p.base)), shell.Quote(markerPath(p.base)),
		shell.Quote(prevPath(p.base, "unit")), shell.Quote(prevPath(p.base, "env")), shell.Quote(prevPath(p.base, "state")))
	return hs.h.run(ctx, cmd, nil, nil)
}

// exists reports whether path exists on the host.
func (hs *hostSession) exists(ctx context.Context, path string) (bool, error) {
	var out strings.Builder
	if err := hs.h.run(ctx, fmt.Sprintf("if [ -e %s ]; then echo yes; fi", shell.Quote(path)), nil, &out); err != nil {
		return false, err
	}
	return strings.TrimSpace(out.String()) == "yes", nil
}

// owned returns an error when the state file of base names another project or unit than the one about to
// be deployed there: such a unit is never touched (not switched, not rolled back).
func (hs *hostSession) owned(ctx context.Context, base, project, unit string) error {
	st, err := readState(ctx, hs.h, base)
	if err != nil {
		return err
	}
	if st.Project != "" && (st.Project != project || st.Unit != unit) {
		return fmt.Errorf("its state file names project %s, unit %s: %w", st.Project, st.Unit, baleen.ErrConflict)
	}
	return nil
}

// recoverUnit returns base to its last good release when an earlier switch was cut short (the server
// stopped mid-rollout).
func (hs *hostSession) recoverUnit(ctx context.Context, base string) error {
	busy, err := hs.exists(ctx, markerPath(base))
	if err != nil || !busy {
		return err
	}
	printf(hs.out, "deploy: %s: %s: an earlier switch did not finish; returning to the last good release", hs.addr, unitFile(base))
	msg, err := hs.rollback(ctx, base)
	if err != nil {
		return err
	}
	printf(hs.out, "deploy: %s: %s", hs.addr, msg)
	return nil
}

// rollback ends a switch of base that is under way (its marker exists) by returning base to the release
// recorded in its .prev files and checking it again; when there is no previous release, the unit is
// stopped, disabled and its files removed. It says what it did.
func (hs *hostSession) rollback(ctx context.Context, base string) (string, error) {
	// Roll back even when the rollout's context ended: a host must not be left half switched.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unitStartTimeout)
	defer cancel()
	// Without the marker no switch is under way: the live files are the last good release (or the
	// switch never got as far as keeping them) and must stay.
	busy, err := hs.exists(ctx, markerPath(base))
	if err != nil {
		return "", err
	}
	if !busy {
		if err := hs.h.run(ctx, "rm -f "+staged(base), nil, nil); err != nil {
			return "", fmt.Errorf("remove the staged files: %w", err)
		}
		return fmt.Sprintf("%s was not changed", unitFile(base)), nil
	}
	had, err := hs.exists(ctx, prevPath(base, "unit"))
	if err != nil {
		return "", err
	}
	if !had {
		if err := hs.stop(ctx, base); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, k := range kinds(base) {
		prev, live := shell.Quote(prevPath(base, k[0])), shell.Quote(k[1])
		fmt.Fprintf(&b, "if [ -e %s ]; then mv -f %s %s; else rm -f %s; fi\n", prev, prev, live, live)
	}
	fmt.Fprintf(&b, "sync\nrm -f %s %s\nsync\n", shell.Quote(markerPath(base)), staged(base))
	if err := hs.h.run(ctx, b.String(), nil, nil); err != nil {
		return "", fmt.Errorf("restore the previous files: %w", err)
	}
	if err := hs.sd.ReloadContext(ctx); err != nil {
		return "", fmt.Errorf("systemd daemon-reload: %w", err)
	}
	if !had {
		_ = hs.sd.ResetFailedUnitContext(ctx, unitFile(base))
		return fmt.Sprintf("%s had no previous release: stopped and disabled", unitFile(base)), nil
	}
	st, err := hs.state(ctx, base)
	if err != nil {
		return "", err
	}
	if err := hs.start(ctx, base); err != nil {
		return "", fmt.Errorf("restart the previous release: %w", err)
	}
	if err := hs.check(ctx, base, st.Health); err != nil {
		return "", fmt.Errorf("previous release %d: %w", st.Release, err)
	}
	return fmt.Sprintf("%s is back on release %d (build %d) and healthy", unitFile(base), st.Release, st.Build), nil
}

// state reads the live state file of base; the zero hostState when there is none.
func (hs *hostSession) state(ctx context.Context, base string) (hostState, error) {
	return readState(ctx, hs.h, base)
}

// readState reads the state file of base on h; the zero hostState when there is none.
func readState(ctx context.Context, h host, base string) (hostState, error) {
	var out strings.Builder
	p := shell.Quote(statePath(base))
	if err := h.run(ctx, fmt.Sprintf("if [ -e %s ]; then cat %s; fi", p, p), nil, &out); err != nil {
		return hostState{}, fmt.Errorf("read %s: %w", statePath(base), err)
	}
	var st hostState
	if strings.TrimSpace(out.String()) == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil {
		return hostState{}, fmt.Errorf("read %s: %w", statePath(base), err)
	}
	if st.V != stateVersion {
		return hostState{}, fmt.Errorf("read %s: version %d, want %d: %w", statePath(base), st.V, stateVersion, baleen.ErrInvalid)
	}
	return st, nil
}

// start reloads systemd, enables base and restarts it, waiting for the job's result.
func (hs *hostSession) start(ctx context.Context, base string) error {
	name := unitFile(base)
	if err := hs.sd.ReloadContext(ctx); err != nil {
		return fmt.Errorf("systemd daemon-reload: %w", err)
	}
	if _, _, err := hs.sd.EnableUnitFilesContext(ctx, []string{name}, false, true); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	_ = hs.sd.ResetFailedUnitContext(ctx, name)
	return hs.job(ctx, "restart", func(ch chan<- string) (int, error) {
		return hs.sd.RestartUnitContext(ctx, name, "replace", ch)
	})
}

// stop stops and disables base, waiting for the job's result.
func (hs *hostSession) stop(ctx context.Context, base string) error {
	name := unitFile(base)
	err := hs.job(ctx, "stop", func(ch chan<- string) (int, error) {
		return hs.sd.StopUnitContext(ctx, name, "replace", ch)
	})
	if err != nil {
		return err
	}
	if _, err := hs.sd.DisableUnitFilesContext(ctx, []string{name}, false); err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	return nil
}

// job queues a systemd job with queue and waits for its result, which must be "done".
func (hs *hostSession) job(ctx context.Context, what string, queue func(chan<- string) (int, error)) error {
	ctx, cancel := context.WithTimeout(ctx, unitStartTimeout+time.Minute)
	defer cancel()
	ch := make(chan string, 1)
	if _, err := queue(ch); err != nil {
		return fmt.Errorf("systemd %s: %w", what, err)
	}
	select {
	case result := <-ch:
		if result != "done" {
			return fmt.Errorf("systemd %s job ended %q, want \"done\"", what, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("systemd %s: %w", what, ctx.Err())
	}
}

// journal returns the last n lines of base's journal on the host, or a note saying why it could not.
func (hs *hostSession) journal(ctx context.Context, base string, n int) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var out strings.Builder
	cmd := fmt.Sprintf("journalctl --no-pager --output=short-iso --lines=%d --unit=%s", n, shell.Quote(unitFile(base)))
	if err := hs.h.run(ctx, cmd, nil, &out); err != nil {
		return "(journal not available: " + err.Error() + ")"
	}
	return strings.TrimRight(out.String(), "\n")
}

// deliver makes sure image is on the host: pulled from its registry when the reference names one, and
// otherwise saved on the build engine and loaded over the SSH connection.
func (hs *hostSession) deliver(ctx context.Context, image string) error {
	if err := hs.h.run(ctx, "docker image inspect "+shell.Quote(image)+" >/dev/null 2>&1", nil, nil); err == nil {
		return nil
	}
	if fromRegistry(image) {
		printf(hs.out, "deploy: %s: pulling %s", hs.addr, image)
		if err := hs.h.run(ctx, "docker pull --quiet "+shell.Quote(image), nil, nil); err != nil {
			return fmt.Errorf("docker pull: %w", err)
		}
		return nil
	}
	if hs.dp.opts.Images == nil {
		return fmt.Errorf("not in a registry and the deployer has no image store to ship it from: %w", baleen.ErrUnavailable)
	}
	printf(hs.out, "deploy: %s: shipping %s over SSH", hs.addr, image)
	rc, err := hs.dp.opts.Images.SaveImages(ctx, []string{image})
	if err != nil {
		return fmt.Errorf("save on the build engine: %w", err)
	}
	defer rc.Close()
	if err := hs.h.run(ctx, "docker load --quiet", rc, nil); err != nil {
		return fmt.Errorf("docker load: %w", err)
	}
	return nil
}

// fromRegistry reports whether ref names a registry: its first path component is a host (it has a '.'
// or a ':', or is "localhost"), as Docker reads references.
func fromRegistry(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// errUnhealthy marks a unit that started but failed its checks.
var errUnhealthy = errors.New("unhealthy")

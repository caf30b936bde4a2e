package commands

import (
	"archive/tar"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
	"github.com/baleen-ci/baleen/pipeline"
)

// Scheduler is what the commands ask of the server's scheduler (*pipeline.Scheduler has it). Its methods
// are safe for concurrent use; Run, Follow, DeployBuild and Rollback block until the build or release
// ends, writing its output to the writer given.
type Scheduler interface {
	// Run builds a commit, as a push does.
	Run(ctx context.Context, req pipeline.Request) (baleen.Build, error)
	// Follow writes a build's log, and what it writes next until it ends.
	Follow(ctx context.Context, project string, number int, w io.Writer) (baleen.Build, error)
	// Cancel stops a queued or running build; ErrNotFound when it is not.
	Cancel(project string, number int) error
	// DeployBuild deploys a green build again.
	DeployBuild(ctx context.Context, project string, number int, by string, out io.Writer) (baleen.Release, error)
	// Rollback deploys an earlier release's build again.
	Rollback(ctx context.Context, project string, number int, by string, out io.Writer) (baleen.Release, error)
}

var _ Scheduler = (*pipeline.Scheduler)(nil)

// Handler answers ssh commands. It is safe for concurrent use.
type Handler struct {
	Projects  baleen.ProjectStore
	Builds    baleen.BuildStore
	Repos     baleen.Repositories
	Scheduler Scheduler
	// ArtifactsDir is where builds keep artifacts: ArtifactsDir/<project>/<number>.
	ArtifactsDir string
	// DeployKey returns the public key the server fetches dependency repositories with.
	DeployKey func() (string, error)
	// Releases and Deployer answer the release commands; nil when the server deploys nothing.
	Releases baleen.ReleaseStore
	Deployer baleen.Deployer
	// Authz decides who may do what; nil allows every caller everything.
	Authz baleen.Authorizer
	// Whoami renders `whoami` for an identity and the server's projects (access.Policy.Whoami).
	Whoami func(ctx context.Context, id baleen.Identity, projects []string) string
	// Web mints sign-in links; nil when the web side is off.
	Web WebSessions
	// Tokens keeps API tokens; Tests the test history; Deliveries the notifications' records.
	Tokens     baleen.TokenStore
	Tests      baleen.TestHistory
	Deliveries baleen.DeliveryStore
	// Redeliver sends a recorded notification again; nil when the server sends none.
	Redeliver func(ctx context.Context, id string) error
	// Mirrors are the followed repositories; nil when the server follows none.
	Mirrors Mirrors
	// Engines is the pool of Docker engines; nil for one engine at DockerHost.
	Engines    Engines
	DockerHost string
	// GC runs retention (retention.Collector.GC) for `gc`; nil when the server has no retention rules.
	GC func(ctx context.Context, dryRun bool, w io.Writer) error
	// Backup writes a full backup of the store to w (store.Store.Backup) for `backup`; nil when the server
	// has none to give.
	Backup func(w io.Writer) error
}

// printf writes to the caller's stdout.
func printf(c *baleen.Call, format string, a ...any) { fmt.Fprintf(c.Stdout, format, a...) }

// usagef prints a usage error to the caller's stderr and returns ExitUsage.
func usagef(c *baleen.Call, format string, a ...any) int {
	fmt.Fprintf(c.Stderr, format+"\n", a...)
	return ExitUsage
}

// command is one entry of the command table: adding a command is one entry and its handler.
type command struct {
	name string
	// args is the arguments' usage ("<project> [<build>]"); min and max bound their number.
	args     string
	min, max int
	help     string
	// json accepts --json; follow accepts -f, --unit and --host.
	json, follow bool
	// role is what the caller needs on the project named first (on every project when the command names
	// none); raw commands get their arguments unparsed and check names and roles themselves.
	role baleen.Role
	raw  bool
	run  func(h *Handler, ctx context.Context, c *baleen.Call, fl *flags) int
	// dry accepts --dry-run; tar accepts --tar.
	dry, tar bool
	// content says that the command writes content to stdout (a build's log or output, a journal, a
	// backup) rather than records shown as metadata, which are cleaned of what could drive a terminal.
	content bool
	// numbered says that the second argument, when given, is a build's (or a release's) number.
	numbered bool
}

// usage is the command's usage line, its flags included.
func (c command) usage() string {
	u := strings.TrimSpace(c.name + " " + c.args)
	if c.follow {
		u += " [-f] [--unit U [--host H]]"
	}
	if c.json {
		u += " [--json]"
	}
	if c.dry {
		u += " [--dry-run]"
	}
	if c.tar {
		u += " [--tar]"
	}
	return u
}

// flags are the flags every command accepts where it makes sense.
type flags struct {
	json, follow bool
	dryRun, tar  bool
	unit, host   string
	args         []string
}

// table lists the commands in the order `help` shows them.
var table = []command{
	{name: "projects", role: baleen.RoleRead, help: "list the projects", json: true, run: (*Handler).projects},
	{name: "builds", role: baleen.RoleRead, args: "<project>", min: 1, max: 1, help: "list a project's builds, newest first", json: true, run: (*Handler).builds},
	{name: "logs", numbered: true, role: baleen.RoleRead, args: "<project> [<build>]", min: 1, max: 2, follow: true, json: true, content: true, run: (*Handler).logs,
		help: "print a build's log (the latest by default), or with --unit a deployed unit's journal; -f follows; --json writes a JSON object per line"},
	{name: "status", role: baleen.RoleRead, args: "<project>", min: 1, max: 1, help: "show a project's latest build", json: true, run: (*Handler).status},
	{name: "report", numbered: true, role: baleen.RoleRead, args: "<project> [<build>]", min: 1, max: 2, help: "show a build's test counts, failed tests and coverage", json: true, run: (*Handler).report},
	{name: "artifacts", numbered: true, role: baleen.RoleRead, args: "<project> [<build>]", min: 1, max: 2, json: true, tar: true, run: (*Handler).artifacts,
		help: "list a build's artifacts (the latest build's by default); --tar writes them to stdout as a tar stream"},
	{name: "rebuild", role: baleen.RoleWrite, args: "<project> [<build>|<ref>]", min: 1, max: 2, help: "build a commit again (the latest build's by default), streaming like a push", content: true, run: (*Handler).rebuild},
	{name: "cancel", numbered: true, role: baleen.RoleWrite, args: "<project> [<build>]", min: 1, max: 2, help: "cancel a queued or running build (the latest by default)", run: (*Handler).cancel},
	{name: "releases", role: baleen.RoleRead, args: "<project>", min: 1, max: 1, help: "list a project's releases, newest first", json: true, run: (*Handler).releases},
	{name: "deploy", numbered: true, role: baleen.RoleDeploy, args: "<project> [<build>]", min: 1, max: 2, help: "deploy a green build again (the latest green by default)", content: true, run: (*Handler).deploy},
	{name: "rollback", numbered: true, role: baleen.RoleDeploy, args: "<project> [<release>]", min: 1, max: 2, help: "deploy an earlier release's build again (default: the one before the current)", content: true, run: (*Handler).rollback},
	{name: "deploy-key", help: "print the public key this server fetches dependency repositories with", run: (*Handler).deployKey},
	{name: "tests", args: "<project> [--branch B] [--failing|--flaky|--slowest] [--json]", raw: true, run: (*Handler).tests,
		help: "show the history of a project's tests on a branch: failing, flaky or slowest"},
	{name: "whoami", help: "show who your key is and what it may do", run: (*Handler).whoami},
	{name: "web-login", help: "print a one-time link that signs you in to the web pages", run: (*Handler).webLogin},
	{name: "web-logout", help: "end every web session of your key", run: (*Handler).webLogout},
	{name: "token", args: "create [--read-only] [--expires 30d] | list [--all] [--json] | revoke <id>", min: 1, max: 4, raw: true, run: (*Handler).token,
		help: "make, list or revoke API tokens (--all and others' tokens: admin)"},
	{name: "deliveries", args: "[<sink>]", max: 1, json: true, role: baleen.RoleAdmin, run: (*Handler).deliveries,
		help: "list the latest notification deliveries (admin)"},
	{name: "redeliver", args: "<id>", min: 1, max: 1, role: baleen.RoleAdmin, run: (*Handler).redeliver,
		help: "send a recorded notification again (admin)"},
	{name: "mirror", args: "add <project> <url> [--branch B...] | list | remove <project>", min: 1, raw: true, run: (*Handler).mirror,
		help: "follow another git host's repository as a project, list or stop following (admin)"},
	{name: "sync", args: "<project>", min: 1, max: 1, run: (*Handler).sync, help: "fetch a followed repository now and build what is new (admin)"},
	{name: "engines", json: true, run: (*Handler).engines, help: "show the Docker engines builds run on"},
	{name: "backup", role: baleen.RoleAdmin, content: true, help: "write a backup of the server's records to stdout, in badger's backup format (admin)", run: (*Handler).backup},
	{name: "gc", dry: true, role: baleen.RoleAdmin, help: "delete the builds the retention rules no longer keep; --dry-run lists them (admin)", run: (*Handler).gc},
	{name: "help", help: "this text"}, // answered by Run: it prints this table
}

func lookup(name string) (command, bool) {
	for _, c := range table {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// Run answers one ssh command and returns its exit code; it is the server's gitd.CommandHandler. gitd has
// checked that the caller's key is still authorized; Run checks the role the command needs. What it writes
// to stderr, and to stdout but a command's content, is cleaned of what could drive a terminal.
func (h *Handler) Run(ctx context.Context, call *baleen.Call) int {
	c := *call
	errOut := newCleanWriter(call.Stderr)
	c.Stderr = errOut
	defer errOut.Flush()
	return h.run(ctx, &c)
}

// run is Run once stderr is cleaned.
func (h *Handler) run(ctx context.Context, c *baleen.Call) int {
	if len(c.Args) == 0 {
		fmt.Fprint(c.Stderr, usage())
		return ExitUsage
	}
	name := c.Args[0]
	if name == "--help" || name == "-h" {
		name = "help"
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(c.Stderr, "unknown command %q\n\n%s", name, usage())
		return ExitUsage
	}
	if cmd.raw {
		if len(c.Args) == 2 && (c.Args[1] == "--help" || c.Args[1] == "-h") {
			fmt.Fprintf(c.Stdout, "usage: %s\n", cmd.usage())
			return ExitOK
		}
		if len(c.Args)-1 < cmd.min {
			return usagef(c, "usage: %s", cmd.usage())
		}
		return runShown(h, ctx, c, cmd, &flags{args: c.Args[1:]})
	}
	fl, err := parseFlags(cmd, c.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(c.Stdout, "usage: %s\n", cmd.usage())
		return ExitOK
	}
	if err != nil {
		return usagef(c, "%s: %v\nusage: %s", name, err, cmd.usage())
	}
	if err := checkArgs(cmd, fl.args); err != nil {
		return usagef(c, "%s: %v\nusage: %s", name, err, cmd.usage())
	}
	project := anyProject
	if len(fl.args) > 0 && cmd.min > 0 && cmd.role < baleen.RoleAdmin {
		if err := baleen.ValidateProjectName(fl.args[0]); err != nil {
			return usagef(c, "%s: %v", name, err)
		}
		project = fl.args[0]
	}
	if cmd.run == nil { // help
		fmt.Fprint(c.Stdout, usage())
		return ExitOK
	}
	if cmd.name != "projects" {
		if err := h.require(ctx, c, project, cmd.role); err != nil {
			return fail(c, err)
		}
	}
	return runShown(h, ctx, c, cmd, fl)
}

// runShown runs cmd with the caller's stdout cleaned, unless it writes content: a log, a build's output,
// a tar stream, a backup.
func runShown(h *Handler, ctx context.Context, c *baleen.Call, cmd command, fl *flags) int {
	if cmd.content || fl.tar {
		return cmd.run(h, ctx, c, fl)
	}
	out := newCleanWriter(c.Stdout)
	shown := *c
	shown.Stdout = out
	code := cmd.run(h, ctx, &shown, fl)
	if err := out.Flush(); err != nil && code == ExitOK {
		return ExitInternal
	}
	return code
}

// checkArgs checks the number of args, and that a number stands where cmd takes one.
func checkArgs(cmd command, args []string) error {
	switch {
	case len(args) < cmd.min:
		return errors.New("missing arguments")
	case len(args) > cmd.max:
		return fmt.Errorf("unexpected argument %q", args[cmd.max])
	case cmd.numbered && len(args) > 1:
		if _, err := parseBuildNumber(args[1]); err != nil {
			return fmt.Errorf("%q is not a number such as 7", args[1])
		}
	}
	return nil
}

func parseFlags(cmd command, args []string) (*flags, error) {
	fl := &flags{}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.json {
		fs.BoolVar(&fl.json, "json", false, "")
	}
	if cmd.dry {
		fs.BoolVar(&fl.dryRun, "dry-run", false, "")
	}
	if cmd.tar {
		fs.BoolVar(&fl.tar, "tar", false, "")
	}
	if cmd.follow {
		fs.BoolVar(&fl.follow, "f", false, "")
		fs.StringVar(&fl.unit, "unit", "", "")
		fs.StringVar(&fl.host, "host", "", "")
	}
	// Flags may stand before or after the arguments.
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if endedFlags(args, len(args)-fs.NArg()) {
			rest = append(rest, fs.Args()...) // after "--", every word is an argument
			break
		}
		args = fs.Args()
		if len(args) > 0 {
			rest = append(rest, args[0])
			args = args[1:]
		}
	}
	fl.args = rest
	return fl, nil
}

// endedFlags reports whether the parse of args that took their first n words stopped at "--" (rather than
// taking "--" as the value of --unit or --host).
func endedFlags(args []string, n int) bool {
	if n == 0 || args[n-1] != "--" {
		return false
	}
	if n == 1 {
		return true
	}
	switch strings.TrimLeft(args[n-2], "-") {
	case "unit", "host":
		return !strings.HasPrefix(args[n-2], "-")
	}
	return true
}

func usage() string {
	var b strings.Builder
	b.WriteString("Baleen ssh commands: ssh -p PORT HOST <command>\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range table {
		fmt.Fprintf(tw, "  %s\t%s\n", c.usage(), c.help)
	}
	tw.Flush()
	b.WriteString("\nPush with: git push ssh://HOST:PORT/<project> main\n")
	fmt.Fprintf(&b, "\n%s", ExitCodes)
	return b.String()
}

func (h *Handler) deployKey(_ context.Context, c *baleen.Call, _ *flags) int {
	if h.DeployKey == nil {
		return off(c, "this server fetches no repositories")
	}
	key, err := h.DeployKey()
	if err != nil {
		return fail(c, err)
	}
	fmt.Fprintln(c.Stdout, key)
	return ExitOK
}

// fail reports a missing project or build (exit 1), an unreachable engine or host (exit 3) or another
// error (exit 4).
func fail(c *baleen.Call, err error) int {
	fmt.Fprintf(c.Stderr, "error: %v\n", err)
	switch {
	case errors.Is(err, baleen.ErrNotFound) || errors.Is(err, baleen.ErrInvalid) || errors.Is(err, baleen.ErrUnauthorized):
		return ExitFailed
	case errors.Is(err, baleen.ErrUnavailable):
		return ExitInfra
	}
	return ExitInternal
}

func writeJSON(w io.Writer, v any) int {
	if err := encode(w, v); err != nil {
		return ExitInternal
	}
	return ExitOK
}

func (h *Handler) projects(ctx context.Context, c *baleen.Call, fl *flags) int {
	all, err := h.Projects.Projects(ctx)
	if err != nil {
		return fail(c, err)
	}
	ps := []api.Project{} // only those the caller may read
	for _, p := range all {
		if !h.holds(ctx, c, p.Name, baleen.RoleRead) {
			continue
		}
		bs, err := h.Builds.Builds(ctx, baleen.BuildFilter{Project: p.Name, Limit: api.BranchWindow})
		if err != nil {
			return fail(c, err)
		}
		latest := api.LatestPerBranch(bs)
		for i := range latest {
			latest[i] = h.visible(ctx, c, latest[i])
		}
		ps = append(ps, api.NewProject(p, latest))
	}
	if fl.json {
		return writeJSON(c.Stdout, ps)
	}
	if len(ps) == 0 {
		fmt.Fprintln(c.Stdout, "no projects yet: push one with git push ssh://HOST:PORT/<project> main")
		return ExitOK
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tBRANCH\tBUILD\tSTATUS\tWHEN")
	for _, p := range ps {
		if len(p.Branches) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\n", p.Name)
		}
		for i, b := range p.Branches {
			name := p.Name
			if i > 0 {
				name = "" // the project's other branches hang under its name
			}
			fmt.Fprintf(tw, "%s\t%s\t#%d\t%s\t%s\n", name, dash(b.Branch), b.Number, statusOf(b), ago(b.Created))
		}
	}
	tw.Flush()
	return ExitOK
}

// project checks that the project exists.
func (h *Handler) project(ctx context.Context, name string) error {
	_, err := h.Projects.Project(ctx, name)
	if errors.Is(err, baleen.ErrNotFound) {
		return fmt.Errorf("no project %q: %w", name, baleen.ErrNotFound)
	}
	return err
}

// build finds the build that args names: args[1] when given, else the project's latest.
func (h *Handler) build(ctx context.Context, args []string) (baleen.Build, error) {
	if err := h.project(ctx, args[0]); err != nil {
		return baleen.Build{}, err
	}
	if len(args) < 2 {
		b, err := h.Builds.LatestBuild(ctx, args[0])
		if errors.Is(err, baleen.ErrNotFound) {
			return b, fmt.Errorf("project %s has no builds yet: %w", args[0], baleen.ErrNotFound)
		}
		return b, err
	}
	n, err := parseBuildNumber(args[1])
	if err != nil {
		return baleen.Build{}, err
	}
	b, err := h.Builds.Build(ctx, args[0], n)
	if errors.Is(err, baleen.ErrNotFound) {
		return b, fmt.Errorf("project %s has no build #%d: %w", args[0], n, baleen.ErrNotFound)
	}
	return b, err
}

func parseBuildNumber(s string) (int, error) {
	digits := strings.TrimPrefix(s, "#")
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, fmt.Errorf("build %q: want a build number such as 7: %w", s, baleen.ErrInvalid)
	}
	return n, nil
}

func (h *Handler) builds(ctx context.Context, c *baleen.Call, fl *flags) int {
	if err := h.project(ctx, fl.args[0]); err != nil {
		return fail(c, err)
	}
	bs, err := h.Builds.Builds(ctx, baleen.BuildFilter{Project: fl.args[0]})
	if err != nil {
		return fail(c, err)
	}
	if fl.json {
		for i := range bs {
			bs[i] = h.visible(ctx, c, bs[i])
		}
		return writeJSON(c.Stdout, api.NewBuilds(bs))
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILD\tSTATUS\tBRANCH\tCOMMIT\tWHEN\tTOOK\tTESTS")
	for _, b := range bs {
		tests := "-"
		if b.Report != nil {
			tests = fmt.Sprintf("%d/%d passed", b.Report.Passed, b.Report.Total())
		}
		fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Number, statusWord(b), dash(b.Branch), shortID(b.Commit), ago(b.Created), took(b), tests)
	}
	tw.Flush()
	return ExitOK
}

func (h *Handler) logs(ctx context.Context, c *baleen.Call, fl *flags) int {
	if fl.unit != "" {
		if fl.json {
			return usagef(c, "logs: --json is for a build's log, not a unit's journal")
		}
		return h.journal(ctx, c, fl)
	}
	if fl.host != "" {
		return usagef(c, "logs: --host goes with --unit")
	}
	b, err := h.build(ctx, fl.args)
	if err != nil {
		return fail(c, err)
	}
	var out io.Writer = c.Stdout
	if fl.json {
		lw := api.NewLogWriter(c.Stdout)
		defer lw.Close()
		out = lw
	}
	if fl.follow {
		b, err = h.Scheduler.Follow(ctx, b.Project, b.Number, out)
		if err != nil {
			return fail(c, err)
		}
		return verdict(b)
	}
	rc, err := h.Builds.Log(ctx, b.Project, b.Number, 0)
	if err != nil {
		return fail(c, err)
	}
	defer rc.Close()
	if _, err := io.Copy(out, rc); err != nil {
		return fail(c, err)
	}
	return ExitOK
}

func verdict(b baleen.Build) int {
	if b.Status == baleen.StatusPassed {
		return ExitOK
	}
	return ExitFailed
}

func (h *Handler) status(ctx context.Context, c *baleen.Call, fl *flags) int {
	b, err := h.build(ctx, fl.args[:1])
	if err != nil {
		return fail(c, err)
	}
	b = h.visible(ctx, c, b)
	if fl.json {
		return writeJSON(c.Stdout, api.NewBuild(b))
	}
	fmt.Fprintf(c.Stdout, "project %s: build #%d %s\n", b.Project, b.Number, statusWord(b))
	fmt.Fprintf(c.Stdout, "  commit  %s (%s)\n  pushed  %s by %s\n", b.Commit, dash(b.Branch), b.Created.Format(time.RFC3339), dash(b.Pusher))
	if b.Signer != "" {
		fmt.Fprintf(c.Stdout, "  signed  by %s\n", b.Signer)
	}
	if !b.Finished.IsZero() {
		fmt.Fprintf(c.Stdout, "  took    %s\n", took(b))
	}
	for _, s := range b.Stages {
		line := fmt.Sprintf("  %-9s %-9s %s", s.Stage, s.Status, s.Duration.Round(100*time.Millisecond))
		if s.Status != baleen.StatusPassed && s.Message != "" {
			line += "  " + firstLine(s.Message)
		}
		fmt.Fprintln(c.Stdout, line)
	}
	if b.Report != nil {
		fmt.Fprintf(c.Stdout, "  %s\n", b.Report.Summary())
	}
	h.hostStatus(ctx, c, b.Project)
	return ExitOK
}

func (h *Handler) report(ctx context.Context, c *baleen.Call, fl *flags) int {
	b, err := h.build(ctx, fl.args)
	if err != nil {
		return fail(c, err)
	}
	b = h.visible(ctx, c, b)
	if fl.json {
		return writeJSON(c.Stdout, api.NewReport(b, noReport(b)))
	}
	fmt.Fprintf(c.Stdout, "build #%d of %s: %s\n", b.Number, b.Project, statusWord(b))
	for _, d := range b.Dependencies {
		if d.Project == "" {
			fmt.Fprintf(c.Stdout, "  dependency %s: a build of a project you may not read\n", d.Name)
			continue
		}
		how := "built"
		if d.Reused {
			how = "reused"
		}
		fmt.Fprintf(c.Stdout, "  dependency %s: %s %s at %s (build #%d, %s)\n", d.Name, d.Project, d.Branch, d.Commit, d.Build, how)
	}
	for _, p := range b.Pushed {
		fmt.Fprintf(c.Stdout, "  pushed %s@%s\n", p.Ref, p.Digest)
	}
	if b.Report == nil {
		fmt.Fprintln(c.Stdout, noReport(b))
		return ExitOK
	}
	fmt.Fprintln(c.Stdout, b.Report.Summary())
	h.failures(ctx, c, b)
	for _, w := range b.Report.Warnings {
		fmt.Fprintf(c.Stdout, "  warning: %s\n", w)
	}
	return ExitOK
}

func (h *Handler) artifacts(ctx context.Context, c *baleen.Call, fl *flags) int {
	if fl.tar && fl.json {
		return usagef(c, "artifacts: --json lists, --tar writes the files: pick one")
	}
	b, err := h.build(ctx, fl.args)
	if err != nil {
		return fail(c, err)
	}
	dir := filepath.Join(h.ArtifactsDir, b.Project, strconv.Itoa(b.Number))
	if len(b.Artifacts) == 0 && !fl.json {
		return fail(c, fmt.Errorf("build #%d of %s kept no artifacts: %w", b.Number, b.Project, baleen.ErrNotFound))
	}
	if !fl.tar {
		return listArtifacts(c, b, os.DirFS(dir), fl.json)
	}
	tw := tar.NewWriter(c.Stdout)
	// Only the files the build recorded are sent: nothing else under the data dir can be reached.
	for _, name := range b.Artifacts {
		if err := addFile(tw, os.DirFS(dir), name); err != nil {
			return fail(c, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fail(c, err)
	}
	return ExitOK
}

// listArtifacts lists b's artifacts with their sizes: what `artifacts` shows unless --tar asks for the files.
// A tar stream is never the default, as a terminal would print it: the server cannot see the client's.
func listArtifacts(c *baleen.Call, b baleen.Build, fsys fs.FS, asJSON bool) int {
	out := []api.Artifact{}
	for _, name := range b.Artifacts {
		a := api.Artifact{Path: name}
		if fi, err := fs.Stat(fsys, name); err == nil {
			a.Size = fi.Size()
		}
		out = append(out, a)
	}
	if asJSON {
		return writeJSON(c.Stdout, out)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SIZE\tPATH")
	for _, a := range out {
		fmt.Fprintf(tw, "%d\t%s\n", a.Size, a.Path)
	}
	tw.Flush()
	fmt.Fprintf(c.Stderr, "write them as a tar stream with: artifacts %s %d --tar > artifacts.tar\n", b.Project, b.Number)
	return ExitOK
}

func addFile(tw *tar.Writer, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("artifact %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("artifact %s is not a regular file", name)
	}
	h, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	h.Name = name
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func (h *Handler) rebuild(ctx context.Context, c *baleen.Call, fl *flags) int {
	project := fl.args[0]
	if err := h.project(ctx, project); err != nil {
		return fail(c, err)
	}
	var commit, branch string
	switch {
	case len(fl.args) == 1:
		b, err := h.build(ctx, fl.args)
		if err != nil {
			return fail(c, err)
		}
		commit, branch = b.Commit, b.Branch
	default:
		if n, err := parseBuildNumber(fl.args[1]); err == nil {
			b, err := h.Builds.Build(ctx, project, n)
			if err != nil {
				return fail(c, fmt.Errorf("project %s has no build #%d: %w", project, n, err))
			}
			commit, branch = b.Commit, b.Branch
		} else {
			// A branch first, by its full ref, so that a tag of the same name is never built as the branch.
			name := strings.TrimPrefix(fl.args[1], "refs/heads/")
			if id, err := h.Repos.Resolve(ctx, project, "refs/heads/"+name); err == nil {
				commit, branch = id, name
			} else if id, err := h.Repos.Resolve(ctx, project, fl.args[1]); err == nil {
				commit = id // a tag, a ref or a commit: no branch
			} else {
				return fail(c, fmt.Errorf("%s names no build, ref or commit of %s: %w", fl.args[1], project, err))
			}
		}
	}
	b, err := h.Scheduler.Run(ctx, pipeline.Request{Project: project, Branch: branch, Commit: commit, Pusher: c.Pusher(), Identity: c.Identity, Out: c.Stdout})
	if errors.Is(err, pipeline.ErrNothingToBuild) {
		fmt.Fprintf(c.Stdout, "%s: nothing to build (no baleen.yml at %s)\n", project, shortID(commit))
		return ExitOK
	}
	if err != nil {
		return fail(c, err)
	}
	return verdict(b)
}

func (h *Handler) cancel(ctx context.Context, c *baleen.Call, fl *flags) int {
	b, err := h.build(ctx, fl.args)
	if err != nil {
		return fail(c, err)
	}
	if b.Pusher != c.Pusher() && b.Pusher != c.Fingerprint { // another's build: admin only
		if err := h.require(ctx, c, b.Project, baleen.RoleAdmin); err != nil {
			return fail(c, fmt.Errorf("build #%d was pushed by someone else: %w", b.Number, err))
		}
	}
	if b.Status.Final() {
		fmt.Fprintf(c.Stderr, "build #%d of %s already ended: %s\n", b.Number, b.Project, b.Status)
		return ExitFailed
	}
	if err := h.Scheduler.Cancel(b.Project, b.Number); err != nil {
		return fail(c, err)
	}
	fmt.Fprintf(c.Stdout, "cancelling build #%d of %s\n", b.Number, b.Project)
	return ExitOK
}

// noReport says why a build has no test report: its tests never ran, or it reads none.
func noReport(b baleen.Build) string {
	for _, st := range b.Stages {
		if st.Stage == baleen.StageArtifacts {
			return "no test reports (set artifacts.xunit and artifacts.coverage in baleen.yml)"
		}
	}
	if !b.Status.Final() {
		return "no test reports yet: the build has not reached its tests"
	}
	if b.FailedStage != "" {
		return fmt.Sprintf("no test reports: the tests did not run (the build stopped at %s)", b.FailedStage)
	}
	return "no test reports: the tests did not run"
}

// statusOf is statusWord of a build's shape.
func statusOf(b api.Build) string {
	return statusWord(baleen.Build{Status: b.Status, Message: b.Message, FailedStage: b.FailedStage})
}

func statusWord(b baleen.Build) string {
	if baleen.Infrastructure(b.Status, b.Message) {
		return "failed (infrastructure)"
	}
	if b.Status == baleen.StatusFailed && b.FailedStage != "" {
		return fmt.Sprintf("failed (%s)", b.FailedStage)
	}
	return string(b.Status)
}

func took(b baleen.Build) string {
	if b.Started.IsZero() || b.Finished.IsZero() {
		return "-"
	}
	return b.Finished.Sub(b.Started).Round(100 * time.Millisecond).String()
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortID(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return dash(s)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// deployed finds the latest release of project and the unit names its build deploys.
func (h *Handler) deployed(ctx context.Context, project string) (baleen.Release, []string, error) {
	if h.Releases == nil || h.Deployer == nil {
		return baleen.Release{}, nil, fmt.Errorf("this server deploys nothing (no targets in its config): %w", baleen.ErrNotFound)
	}
	rs, err := h.Releases.Releases(ctx, project, 1)
	if err != nil {
		return baleen.Release{}, nil, err
	}
	if len(rs) == 0 {
		return baleen.Release{}, nil, fmt.Errorf("%s has no releases yet: %w", project, baleen.ErrNotFound)
	}
	units, err := ReleaseUnits(ctx, h.Repos, project, rs[0])
	return rs[0], units, err
}

// hostStatus adds to `status` what each host of the latest release's target runs.
func (h *Handler) hostStatus(ctx context.Context, c *baleen.Call, project string) {
	rel, units, err := h.deployed(ctx, project)
	if err != nil {
		return
	}
	fmt.Fprintf(c.Stdout, "release #%d (build #%d) to %s: %s\n", rel.Number, rel.Build, rel.Target, rel.Status)
	hosts, err := h.Deployer.Status(ctx, project, rel.Target, units)
	if err != nil {
		fmt.Fprintf(c.Stdout, "  hosts: %v\n", err)
		return
	}
	for _, hs := range hosts {
		if hs.Err != "" {
			fmt.Fprintf(c.Stdout, "  %s: unreachable: %s\n", hs.Host, hs.Err)
			continue
		}
		for _, u := range hs.Units {
			fmt.Fprintf(c.Stdout, "  %s: %s %s", hs.Host, u.Unit, u.Active)
			if u.Release > 0 {
				fmt.Fprintf(c.Stdout, " (release #%d, build #%d)", u.Release, u.Build)
			}
			fmt.Fprintln(c.Stdout)
		}
	}
}

func (h *Handler) journal(ctx context.Context, c *baleen.Call, fl *flags) int {
	if len(fl.args) > 1 {
		return usagef(c, "usage: logs <project> --unit U [--host H] [-f]")
	}
	if err := h.project(ctx, fl.args[0]); err != nil {
		return fail(c, err)
	}
	rel, units, err := h.deployed(ctx, fl.args[0])
	if err != nil {
		return fail(c, err)
	}
	found := false
	for _, u := range units {
		found = found || u == fl.unit
	}
	if !found {
		return fail(c, fmt.Errorf("%s deploys no unit %q (its units: %s): %w", fl.args[0], fl.unit, strings.Join(units, ", "), baleen.ErrNotFound))
	}
	q := baleen.JournalQuery{Project: fl.args[0], Target: rel.Target, Unit: fl.unit, Host: fl.host, Follow: fl.follow}
	if err := h.Deployer.Journal(ctx, q, c.Stdout); err != nil && ctx.Err() == nil {
		return fail(c, err)
	}
	return ExitOK
}

func (h *Handler) releases(ctx context.Context, c *baleen.Call, fl *flags) int {
	if err := h.project(ctx, fl.args[0]); err != nil {
		return fail(c, err)
	}
	if h.Releases == nil {
		return fail(c, fmt.Errorf("this server deploys nothing (no targets in its config): %w", baleen.ErrNotFound))
	}
	rs, err := h.Releases.Releases(ctx, fl.args[0], 0)
	if err != nil {
		return fail(c, err)
	}
	if fl.json {
		for i := range rs {
			rs[i].By = baleen.PusherSeenBy(rs[i].By, h.mayRead(ctx, c))
		}
		return writeJSON(c.Stdout, api.NewReleases(rs))
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tBUILD\tCOMMIT\tTARGET\tSTATUS\tWHEN\tHOSTS")
	for _, r := range rs {
		var hosts []string
		for _, hr := range r.Hosts {
			hosts = append(hosts, hr.Host+" "+string(hr.Status))
		}
		fmt.Fprintf(tw, "#%d\t#%d\t%s\t%s\t%s\t%s\t%s\n", r.Number, r.Build, shortID(r.Commit), r.Target, r.Status, ago(r.Started), strings.Join(hosts, ", "))
	}
	tw.Flush()
	return ExitOK
}

func (h *Handler) deploy(ctx context.Context, c *baleen.Call, fl *flags) int {
	project := fl.args[0]
	if err := h.project(ctx, project); err != nil {
		return fail(c, err)
	}
	var number int
	if len(fl.args) == 2 {
		n, err := parseBuildNumber(fl.args[1])
		if err != nil {
			return fail(c, err)
		}
		number = n
	} else {
		bs, err := h.Builds.Builds(ctx, baleen.BuildFilter{Project: project, Statuses: []baleen.Status{baleen.StatusPassed}, Limit: 1})
		if err != nil {
			return fail(c, err)
		}
		if len(bs) == 0 {
			return fail(c, fmt.Errorf("%s has no green build to deploy: %w", project, baleen.ErrNotFound))
		}
		number = bs[0].Number
	}
	rel, err := h.Scheduler.DeployBuild(ctx, project, number, "deploy by "+c.Pusher(), c.Stdout)
	return h.released(c, rel, err)
}

func (h *Handler) rollback(ctx context.Context, c *baleen.Call, fl *flags) int {
	project := fl.args[0]
	if err := h.project(ctx, project); err != nil {
		return fail(c, err)
	}
	number := 0
	if len(fl.args) == 2 {
		n, err := parseBuildNumber(fl.args[1])
		if err != nil {
			return fail(c, fmt.Errorf("release %q: want a release number: %w", fl.args[1], baleen.ErrInvalid))
		}
		number = n
	}
	rel, err := h.Scheduler.Rollback(ctx, project, number, "rollback by "+c.Pusher(), c.Stdout)
	return h.released(c, rel, err)
}

func (h *Handler) released(c *baleen.Call, rel baleen.Release, err error) int {
	if err != nil && rel.Number > 0 {
		// The release was made and failed on a host: a verdict, like a red build.
		fmt.Fprintf(c.Stderr, "release #%d of %s failed: %v\n", rel.Number, rel.Project, err)
		return ExitFailed
	}
	if err != nil {
		return fail(c, err)
	}
	fmt.Fprintf(c.Stdout, "release #%d of %s: %s\n", rel.Number, rel.Project, rel.Status)
	return ExitOK
}

package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
	"github.com/baleen-ci/baleen/notify"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
	"github.com/baleen-ci/baleen/pipeline/report/history"
	"github.com/baleen-ci/baleen/web"
)

// anyProject is what a command that names no project is checked against: a role on "*" is a role on
// every project.
const anyProject = "*"

// WebSessions is the web side's part in `web-login` and `web-logout` (*web.Server has it).
type WebSessions interface {
	// LoginURL returns a one-time sign-in address for id under base ("" for the server's own).
	LoginURL(ctx context.Context, id baleen.Identity, base string) (string, error)
	// Logout ends the web sessions of the key with fingerprint and returns how many it ended.
	Logout(ctx context.Context, fingerprint string) (int, error)
}

// Engines is the server's pool of Docker engines, for `engines`.
type Engines interface {
	// WriteStatus writes each engine's state to w, as JSON when asJSON is set, naming only the builds
	// visible reports true for (the others count in the slots in use).
	WriteStatus(w io.Writer, asJSON bool, visible func(baleen.BuildID) bool) error
}

// require checks that the caller holds need on project; a Handler without an Authorizer allows all.
func (h *Handler) require(ctx context.Context, c *baleen.Call, project string, need baleen.Role) error {
	if h.Authz == nil || need == baleen.RoleNone {
		return nil
	}
	return baleen.Require(ctx, h.Authz, c.Identity, project, need)
}

// holds reports whether the caller holds need on project.
func (h *Handler) holds(ctx context.Context, c *baleen.Call, project string, need baleen.Role) bool {
	return h.require(ctx, c, project, need) == nil
}

func (h *Handler) whoami(ctx context.Context, c *baleen.Call, _ *flags) int {
	id := c.Identity
	if h.Whoami == nil {
		fmt.Fprintf(c.Stdout, "key %s\n", id.Fingerprint)
		return ExitOK
	}
	ps, err := h.Projects.Projects(ctx)
	if err != nil {
		return fail(c, err)
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	fmt.Fprint(c.Stdout, h.Whoami(ctx, id, names))
	return ExitOK
}

func (h *Handler) webLogin(ctx context.Context, c *baleen.Call, _ *flags) int {
	if h.Web == nil {
		return off(c, "the web side of this server is off (serve --http ADDRESS turns it on)")
	}
	u, err := h.Web.LoginURL(ctx, c.Identity, "")
	if err != nil {
		return fail(c, err)
	}
	fmt.Fprintln(c.Stdout, u)
	fmt.Fprintln(c.Stderr, "open it in a browser within a few minutes; it works once")
	return ExitOK
}

func (h *Handler) webLogout(ctx context.Context, c *baleen.Call, _ *flags) int {
	if h.Web == nil {
		return off(c, "the web side of this server is off")
	}
	n, err := h.Web.Logout(ctx, c.Fingerprint)
	if err != nil {
		return fail(c, err)
	}
	fmt.Fprintf(c.Stdout, "ended %d web session(s) of %s\n", n, c.Fingerprint)
	return ExitOK
}

func (h *Handler) engines(ctx context.Context, c *baleen.Call, fl *flags) int {
	if h.Engines == nil && fl.json {
		// One engine, not pooled: the server does not watch its state.
		return writeJSON(c.Stdout, []api.Engine{api.NewEngine("default", baleen.RedactURL(h.DockerHost), "unwatched", "", nil, 0, nil, time.Time{})})
	}
	if h.Engines == nil {
		fmt.Fprintf(c.Stdout, "one engine: %s\n", dash(h.DockerHost))
		return ExitOK
	}
	visible, err := h.readableBuilds(ctx, c)
	if err != nil {
		return fail(c, err)
	}
	return done(c, h.Engines.WriteStatus(c.Stdout, fl.json, visible))
}

// readableBuilds reports whether a BuildID is a build of a project the caller may read: a user who may
// not read a project must not learn from `engines` that it exists or builds.
func (h *Handler) readableBuilds(ctx context.Context, c *baleen.Call) (func(baleen.BuildID) bool, error) {
	if h.Authz == nil {
		return func(baleen.BuildID) bool { return true }, nil
	}
	ps, err := h.Projects.Projects(ctx)
	if err != nil {
		return nil, err
	}
	var readable []string
	for _, p := range ps {
		if h.holds(ctx, c, p.Name, baleen.RoleRead) {
			readable = append(readable, p.Name)
		}
	}
	return func(id baleen.BuildID) bool {
		for _, name := range readable {
			if rest, ok := strings.CutPrefix(string(id), name+"-"); ok && buildIDTail.MatchString(rest) {
				return true
			}
		}
		return false
	}, nil
}

// mayRead says whether the caller may read a project, for Build.SeenBy.
func (h *Handler) mayRead(ctx context.Context, c *baleen.Call) func(project string) bool {
	return func(project string) bool { return h.holds(ctx, c, project, baleen.RoleRead) }
}

// buildIDTail is what follows "<project>-" in a BuildID: the number, a retry's "-r<n>" and the instance.
var buildIDTail = regexp.MustCompile(`^[0-9]+(?:-r[0-9]+)?-[a-z0-9]+$`)

// visible is b as the caller may see it (Build.SeenBy).
func (h *Handler) visible(ctx context.Context, c *baleen.Call, b baleen.Build) baleen.Build {
	return b.SeenBy(h.mayRead(ctx, c))
}

// token answers `token create [--read-only] [--expires 30d]`, `token list [--all]` and `token revoke <id>`.
func (h *Handler) token(ctx context.Context, c *baleen.Call, fl *flags) int {
	if h.Tokens == nil {
		return off(c, "this server keeps no API tokens")
	}
	args := fl.args
	switch args[0] {
	case "create":
		return h.tokenCreate(ctx, c, args[1:])
	case "list":
		return h.tokenList(ctx, c, args[1:])
	case "revoke":
		if len(args) != 2 {
			return usagef(c, "usage: token revoke <id>")
		}
		admin := h.holds(ctx, c, anyProject, baleen.RoleAdmin)
		if err := web.RevokeToken(ctx, h.Tokens, args[1], c.Fingerprint, admin); err != nil {
			return fail(c, err)
		}
		fmt.Fprintf(c.Stdout, "token %s revoked\n", args[1])
		return ExitOK
	}
	return usagef(c, "token: unknown subcommand %q\nusage: %s", args[0], tokenUsage)
}

const tokenUsage = "token create [--read-only] [--expires 30d] | token list [--all] [--json] | token revoke <id>"

func (h *Handler) tokenCreate(ctx context.Context, c *baleen.Call, args []string) int {
	var readOnly bool
	var ttl time.Duration
	for i := 0; i < len(args); i++ {
		switch a := strings.TrimLeft(args[i], "-"); {
		case a == "read-only":
			readOnly = true
		case a == "expires" && i+1 < len(args):
			i++
			d, err := web.ParseExpiry(args[i])
			if err != nil {
				return usagef(c, "token create: --expires: %v", err)
			}
			ttl = d
		default:
			return usagef(c, "token create: unexpected %q\nusage: token create [--read-only] [--expires 30d]", args[i])
		}
	}
	secret, t, err := web.CreateToken(ctx, h.Tokens, c.Identity, readOnly, ttl)
	if err != nil {
		return fail(c, err)
	}
	fmt.Fprintln(c.Stdout, secret)
	fmt.Fprintf(c.Stderr, "token %s made; the secret above is shown once (send it as Authorization: Bearer)\n", t.ID)
	return ExitOK
}

func (h *Handler) tokenList(ctx context.Context, c *baleen.Call, args []string) int {
	all, asJSON := false, false
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "all":
			all = true
		case "json":
			asJSON = true
		default:
			return usagef(c, "token list: unexpected %q\nusage: token list [--all] [--json]", a)
		}
	}
	if all {
		if err := h.require(ctx, c, anyProject, baleen.RoleAdmin); err != nil {
			return fail(c, err)
		}
	}
	ts, err := web.ListTokens(ctx, h.Tokens, c.Fingerprint, all)
	if err != nil {
		return fail(c, err)
	}
	if asJSON {
		return writeJSON(c.Stdout, api.NewTokens(ts))
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tOWNER\tACCESS\tCREATED\tEXPIRES")
	for _, t := range ts {
		access, exp := "as owner", "never"
		if t.ReadOnly {
			access = "read-only"
		}
		if !t.Expires.IsZero() {
			exp = t.Expires.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Identity.User, access, t.Created.Format(time.RFC3339), exp)
	}
	tw.Flush()
	return ExitOK
}

// tests answers `tests <project> [--branch B] [--failing|--flaky|--slowest] [--json]`.
func (h *Handler) tests(ctx context.Context, c *baleen.Call, fl *flags) int {
	project, o, err := history.ParseTestsArgs(fl.args)
	if err != nil {
		return usagef(c, "tests: %v\nusage: %s", err, history.TestsUsage)
	}
	if err := baleen.ValidateProjectName(project); err != nil {
		return usagef(c, "tests: %v", err)
	}
	if err := h.require(ctx, c, project, baleen.RoleRead); err != nil {
		return fail(c, err)
	}
	if h.Tests == nil {
		return off(c, "this server keeps no test history")
	}
	if err := h.project(ctx, project); err != nil {
		return fail(c, err)
	}
	sel, err := history.Select(ctx, h.Tests, project, o)
	if err != nil {
		return fail(c, err)
	}
	if !o.JSON {
		return done(c, history.WriteTests(c.Stdout, sel))
	}
	return writeJSON(c.Stdout, newTests(sel))
}

// newTests is the api shape of the cases `tests --json` lists.
func newTests(sel history.Selection) api.Tests {
	t := api.Tests{Project: sel.Project, Branch: sel.Branch, Cases: []api.TestCase{}}
	for _, c := range sel.Cases {
		t.Cases = append(t.Cases, api.TestCase{Name: c.Name, Recent: c.Recent, Last: c.Last, Build: c.Build,
			DurationMS: c.Duration.Milliseconds(), New: c.New, FailingSince: c.Since, Fixed: c.Fixed, Flaky: c.Flaky})
	}
	return t
}

// deliveries answers `deliveries [<sink>] [--json]`.
func (h *Handler) deliveries(ctx context.Context, c *baleen.Call, fl *flags) int {
	if h.Deliveries == nil {
		return off(c, "this server records no deliveries")
	}
	sink := ""
	if len(fl.args) == 1 {
		sink = fl.args[0]
	}
	ds, err := h.Deliveries.Deliveries(ctx, baleen.DeliveryFilter{Sink: sink, Limit: deliveriesShown})
	if err != nil {
		return fail(c, err)
	}
	if !fl.json {
		return done(c, notify.WriteDeliveryTable(c.Stdout, ds))
	}
	return writeJSON(c.Stdout, api.NewDeliveries(ds))
}

// deliveriesShown is how many deliveries `deliveries` lists, as a table or as JSON.
const deliveriesShown = 100

// redeliver answers `redeliver <id>`.
func (h *Handler) redeliver(ctx context.Context, c *baleen.Call, fl *flags) int {
	if h.Redeliver == nil {
		return off(c, "this server sends no notifications")
	}
	if err := h.Redeliver(ctx, fl.args[0]); err != nil {
		return fail(c, err)
	}
	fmt.Fprintf(c.Stdout, "delivery %s sent again\n", fl.args[0])
	return ExitOK
}

// failures lists a build's failed tests, with what the test history says of each when the server keeps one.
func (h *Handler) failures(ctx context.Context, c *baleen.Call, b baleen.Build) {
	if h.Tests != nil {
		if err := history.Failures(ctx, h.Tests, c.Stdout, b); err == nil {
			return
		}
	}
	for _, f := range b.Report.Failures {
		fmt.Fprintf(c.Stdout, "  FAIL %s", f.Name)
		if f.Message != "" {
			fmt.Fprintf(c.Stdout, ": %s", firstLine(f.Message))
		}
		fmt.Fprintln(c.Stdout)
	}
}

// off says that this server lacks the part a command needs.
func off(c *baleen.Call, what string) int {
	fmt.Fprintf(c.Stderr, "error: %s\n", what)
	return ExitFailed
}

// done is ExitOK when err is nil, and otherwise reports it.
func done(c *baleen.Call, err error) int {
	if err != nil {
		return fail(c, err)
	}
	return ExitOK
}

// PoolEngines is the Engines of a pool of Docker engines, for Handler.Engines.
func PoolEngines(p *pool.Pool) Engines { return poolEngines{p} }

type poolEngines struct{ p *pool.Pool }

func (e poolEngines) WriteStatus(w io.Writer, asJSON bool, visible func(baleen.BuildID) bool) error {
	st := e.p.Status()
	for i := range st {
		st[i].Builds = slices.DeleteFunc(st[i].Builds, func(id baleen.BuildID) bool { return !visible(id) })
	}
	if !asJSON {
		return pool.RenderStatus(w, st)
	}
	return encode(w, engineStates(st))
}

// EngineStates is the state of each engine of p in its one JSON shape, as `engines --json`, the web's
// engines page and its metrics show it.
func EngineStates(p *pool.Pool) []api.Engine { return engineStates(p.Status()) }

func engineStates(st []pool.EngineStatus) []api.Engine {
	out := []api.Engine{}
	for _, s := range st {
		e := api.NewEngine(s.Name, s.Host, string(s.State), s.Reason, s.Labels, s.Slots, s.Builds, s.Since)
		e.InUse = s.InUse // the slots the builds not shown hold too
		out = append(out, e)
	}
	return out
}

// encode writes v to w as indented JSON.
func encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // a log's "==>" reads as it is
	return enc.Encode(v)
}

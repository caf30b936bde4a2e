package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
)

// route is one API endpoint; the OpenAPI document in docs/api.yaml is checked against these.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

func apiRoutes(s *Server) []route {
	const p, b = "/api/v1/projects/{project}", "/api/v1/projects/{project}/builds/{n}"
	return []route{
		{"GET", "/api/v1/projects", s.api(s.apiProjects)},
		{"GET", p, s.api(s.apiProject)},
		{"GET", p + "/builds", s.api(s.apiBuilds)},
		{"GET", p + "/releases", s.api(s.apiReleases)},
		{"GET", b, s.api(s.apiBuild)},
		{"GET", b + "/stages", s.api(s.apiStages)},
		{"GET", b + "/tests", s.api(s.apiTests)},
		{"GET", b + "/coverage", s.api(s.apiCoverage)},
		{"GET", b + "/artifacts", s.api(s.apiArtifacts)},
		{"GET", b + "/log", s.apiLog},
		{"POST", b + "/rebuild", s.api(s.apiAction("rebuild"))},
		{"POST", b + "/cancel", s.api(s.apiAction("cancel"))},
		{"POST", b + "/deploy", s.api(s.apiAction("deploy"))},
		{"POST", p + "/rollback", s.api(s.apiRollback)},
	}
}

// apiFunc answers an API request with a value to send as JSON.
type apiFunc func(r *http.Request, c caller) (any, error)

func (s *Server) api(fn apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.who(r)
		var v any
		if err == nil {
			v, err = fn(r, c)
		}
		code := http.StatusOK
		if err != nil {
			code = statusOf(err)
			if code == http.StatusForbidden && !c.signedIn {
				code = http.StatusUnauthorized
			}
			if code >= 500 {
				s.log.Error("api", "path", r.URL.Path, "err", err)
			}
			v = api.Error{Error: err.Error()}
		}
		writeJSON(w, code, v)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// stageJSON is a stage as the API and the live build page send it.
type stageJSON = api.Stage

func stagesJSON(ss []baleen.StageResult) []stageJSON { return api.NewStages(ss) }

func (s *Server) apiProjects(r *http.Request, c caller) (any, error) {
	ps, err := s.readable(r.Context(), c)
	if err != nil {
		return nil, err
	}
	out := []api.Project{}
	for _, p := range ps {
		j, err := s.projectJSON(r.Context(), c, p)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

func (s *Server) projectJSON(ctx context.Context, c caller, p baleen.Project) (api.Project, error) {
	bs, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Project: p.Name, Limit: api.BranchWindow})
	if err != nil {
		return api.Project{}, err
	}
	for i := range bs {
		bs[i] = bs[i].SeenBy(s.mayRead(ctx, c))
	}
	return api.NewProject(p, api.LatestPerBranch(bs)), nil
}

func (s *Server) apiProject(r *http.Request, c caller) (any, error) {
	name := r.PathValue("project")
	if err := s.readProject(r.Context(), c, name); err != nil {
		return nil, err
	}
	p, err := s.cfg.Projects.Project(r.Context(), name)
	if err != nil {
		return nil, err
	}
	return s.projectJSON(r.Context(), c, p)
}

// apiBuilds lists builds newest first, filtered by ?branch= and ?status=, ?limit= (default 50) from
// ?before= (a build number).
func (s *Server) apiBuilds(r *http.Request, c caller) (any, error) {
	name := r.PathValue("project")
	if err := s.readProject(r.Context(), c, name); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	limit, before := 50, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("limit %q: want 1 to 1000: %w", v, baleen.ErrInvalid)
		}
		limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("before %q: want a build number: %w", v, baleen.ErrInvalid)
		}
		before = n
	}
	f := buildsFor(name, q.Get("branch"), q.Get("status"), limit)
	if before > 0 {
		f.Limit = 0
	}
	bs, err := s.cfg.Builds.Builds(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := []api.Build{}
	for _, b := range bs {
		if (before == 0 || b.Number < before) && (q.Get("branch") == "" || b.Branch == q.Get("branch")) {
			out = append(out, api.NewBuild(b.SeenBy(s.mayRead(r.Context(), c))))
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (s *Server) apiBuild(r *http.Request, c caller) (any, error) {
	b, err := s.buildFor(r, c)
	if err != nil {
		return nil, err
	}
	return api.NewBuild(b), nil
}

func (s *Server) apiStages(r *http.Request, c caller) (any, error) {
	b, err := s.buildFor(r, c)
	if err != nil {
		return nil, err
	}
	return stagesJSON(b.Stages), nil
}

func (s *Server) apiTests(r *http.Request, c caller) (any, error) {
	b, err := s.buildFor(r, c)
	if err != nil {
		return nil, err
	}
	if b.Report == nil {
		return api.NewTestReport(&baleen.TestReport{}), nil
	}
	return api.NewTestReport(b.Report), nil
}

func (s *Server) apiCoverage(r *http.Request, c caller) (any, error) {
	b, err := s.buildFor(r, c)
	if err != nil {
		return nil, err
	}
	html := ""
	if h := coverageHTML(b.Artifacts); h != "" {
		html = fmt.Sprintf("/p/%s/b/%d/artifacts/%s", b.Project, b.Number, h)
	}
	return api.NewCoverage(b.Report, html), nil
}

func (s *Server) apiArtifacts(r *http.Request, c caller) (any, error) {
	b, err := s.buildFor(r, c)
	if err != nil {
		return nil, err
	}
	out := []api.Artifact{}
	for _, a := range b.Artifacts {
		out = append(out, api.Artifact{Path: a, URL: fmt.Sprintf("/p/%s/b/%d/artifacts/%s", b.Project, b.Number, a)})
	}
	return out, nil
}

func (s *Server) apiReleases(r *http.Request, c caller) (any, error) {
	name := r.PathValue("project")
	if err := s.readProject(r.Context(), c, name); err != nil {
		return nil, err
	}
	if s.cfg.Releases == nil {
		return []api.Release{}, nil
	}
	rs, err := s.cfg.Releases.Releases(r.Context(), name, 0)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		rs[i].By = baleen.PusherSeenBy(rs[i].By, s.mayRead(r.Context(), c))
	}
	return api.NewReleases(rs), nil
}

// apiLog sends a build's log as text from ?offset=, or with ?format=json as one LogLine per line; with
// ?follow=1 it goes on until the build ends.
func (s *Server) apiLog(w http.ResponseWriter, r *http.Request) {
	c, err := s.who(r)
	if err == nil {
		var b baleen.Build
		if b, err = s.buildFor(r, c); err == nil {
			err = s.followLog(w, r, c, b)
		}
	}
	if err != nil {
		writeJSON(w, statusOf(err), api.Error{Error: err.Error()})
	}
}

func (s *Server) followLog(w http.ResponseWriter, r *http.Request, c caller, b baleen.Build) error {
	ctx := r.Context()
	off, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil && r.URL.Query().Has("offset") || off < 0 {
		return fmt.Errorf("offset %q: want a byte offset: %w", r.URL.Query().Get("offset"), baleen.ErrInvalid)
	}
	follow := r.URL.Query().Get("follow") == "1" || r.URL.Query().Get("follow") == "true"
	if follow && !b.Status.Final() {
		release, err := s.holdStream(r, c)
		if err != nil {
			return err
		}
		defer release()
	}
	var events <-chan baleen.Event
	if follow && s.cfg.Events != nil {
		sub, cancel := context.WithCancel(ctx)
		defer cancel()
		events = s.cfg.Events.Subscribe(sub, baleen.EventFilter{Project: b.Project, Build: b.Number})
	}
	f, _ := w.(http.Flusher)
	var out io.Writer = w
	switch format := r.URL.Query().Get("format"); format {
	case "", "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	case "json":
		w.Header().Set("Content-Type", "application/x-ndjson")
		lw := api.NewLogWriter(w)
		defer lw.Close()
		out = lw
	default:
		return fmt.Errorf("format %q: want text or json: %w", format, baleen.ErrInvalid)
	}
	w.Header().Set("Cache-Control", "no-store")
	tick := time.NewTicker(livePoll)
	defer tick.Stop()
	for {
		final := b.Status.Final()
		n, err := s.copyLog(ctx, out, b, off)
		off += n
		if err != nil || !follow || final {
			return nil // the header is sent: an error can only end the stream
		}
		if f != nil {
			f.Flush()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-events:
		case <-tick.C:
		}
		if b, err = s.cfg.Builds.Build(ctx, b.Project, b.Number); err != nil {
			return nil
		}
	}
}

func (s *Server) copyLog(ctx context.Context, w io.Writer, b baleen.Build, off int64) (int64, error) {
	rc, err := s.cfg.Builds.Log(ctx, b.Project, b.Number, off)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(w, rc)
}

// apiAction runs an action for an API token's holder. Session cookies do not carry API actions: a browser
// uses the pages' forms, which check a CSRF token.
func (s *Server) apiAction(action string) apiFunc {
	return func(r *http.Request, c caller) (any, error) {
		if !c.bearer {
			return nil, fmt.Errorf("API actions need an API token (Authorization: Bearer): %w", baleen.ErrUnauthorized)
		}
		b, err := s.buildFor(r, c)
		if err != nil {
			return nil, err
		}
		nb, err := s.act(r.Context(), c, b, action)
		if err != nil {
			return nil, err
		}
		return api.Action{Project: b.Project, Build: b.Number, Action: action, NewBuild: nb}, nil
	}
}

func (s *Server) apiRollback(r *http.Request, c caller) (any, error) {
	if !c.bearer {
		return nil, fmt.Errorf("API actions need an API token (Authorization: Bearer): %w", baleen.ErrUnauthorized)
	}
	project := r.PathValue("project")
	rel, err := releaseNumber(r.URL.Query().Get("release"))
	if err != nil {
		return nil, err
	}
	if err := s.rollback(r.Context(), c, project, rel); err != nil {
		return nil, err
	}
	return api.Action{Project: project, Action: "rollback"}, nil
}

func releaseNumber(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("release %q: want a release number: %w", v, baleen.ErrInvalid)
	}
	return n, nil
}

var errUnknownAction = errors.New("unknown action")

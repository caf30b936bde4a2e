package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
	"github.com/baleen-ci/baleen/pipeline/report/history"
)

// pageSize is how many builds a project page lists at once.
const pageSize = 50

// maxPage bounds the page number a listing is asked for, far beyond any project's builds.
const maxPage = 1_000_000

// chartBuilds is how many of the latest builds the project page's charts show.
const chartBuilds = 100

type dashboardData struct {
	Projects []projectSummary
	Active   []baleen.Build
}

type projectSummary struct {
	Name     string
	Branches []baleen.Build // each branch's latest build, newest first
	Recent   []baleen.Build // the latest builds, oldest first, for the sparkline
	Releases []baleen.Release
}

// readable lists the projects c may read.
func (s *Server) readable(ctx context.Context, c caller) ([]baleen.Project, error) {
	ps, err := s.cfg.Projects.Projects(ctx)
	if err != nil {
		return nil, err
	}
	var out []baleen.Project
	for _, p := range ps {
		if s.role(ctx, c, p.Name) >= baleen.RoleRead {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *Server) dashboard(r *http.Request, c caller) (string, string, any, error) {
	ctx := r.Context()
	ps, err := s.readable(ctx, c)
	if err != nil {
		return "", "", nil, err
	}
	var d dashboardData
	for _, p := range ps {
		bs, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Project: p.Name, Limit: api.BranchWindow})
		if err != nil {
			return "", "", nil, err
		}
		recent := bs[:min(recentShown, len(bs))]
		sum := projectSummary{Name: p.Name, Branches: api.LatestPerBranch(bs), Recent: reversed(recent)}
		sum.Releases = s.currentReleases(ctx, p.Name)
		for _, b := range recent {
			if !b.Status.Final() {
				d.Active = append(d.Active, b)
			}
		}
		d.Projects = append(d.Projects, sum)
	}
	return "dashboard", "Baleen", d, nil
}

// recentShown is how many of a project's newest builds the dashboard draws and looks in for running ones.
const recentShown = 30

func reversed(bs []baleen.Build) []baleen.Build {
	out := slices.Clone(bs)
	slices.Reverse(out)
	return out
}

// currentReleases is the latest release per target.
func (s *Server) currentReleases(ctx context.Context, project string) []baleen.Release {
	if s.cfg.Releases == nil {
		return nil
	}
	rs, err := s.cfg.Releases.Releases(ctx, project, 50)
	if err != nil {
		s.log.Error("list releases", "project", project, "err", err)
		return nil
	}
	seen := map[string]bool{}
	var out []baleen.Release
	for _, rel := range rs {
		if !seen[rel.Target] {
			seen[rel.Target] = true
			out = append(out, rel)
		}
	}
	return out
}

type projectData struct {
	Name       string
	Builds     []baleen.Build
	Branch     string
	Status     string
	Branches   []string
	Statuses   []baleen.Status
	Page       int
	Prev, Next string
	Charts     []chart
	Deps       []baleen.DependencyBuild
	Dependents []string
	Releases   []baleen.Release
}

func (s *Server) projectPage(r *http.Request, c caller) (string, string, any, error) {
	name := r.PathValue("project")
	d, err := s.projectData(r.Context(), c, name, r.URL.Query())
	if err != nil {
		return "", "", nil, err
	}
	return "project", name, d, nil
}

func (s *Server) projectData(ctx context.Context, c caller, name string, q url.Values) (projectData, error) {
	if err := s.readProject(ctx, c, name); err != nil {
		return projectData{}, err
	}
	d := projectData{Name: name, Branch: q.Get("branch"), Status: q.Get("status"),
		Statuses: []baleen.Status{baleen.StatusPassed, baleen.StatusFailed, baleen.StatusRunning, baleen.StatusQueued, baleen.StatusCancelled, baleen.StatusInterrupted}}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = min(max(d.Page, 1), maxPage)
	all, err := s.cfg.Builds.Builds(ctx, buildsFor(name, d.Branch, d.Status, d.Page*pageSize+1))
	if err != nil {
		return projectData{}, err
	}
	seen := map[string]bool{}
	var kept []baleen.Build
	for _, b := range all {
		if !seen[b.Branch] && b.Branch != "" {
			seen[b.Branch] = true
			d.Branches = append(d.Branches, b.Branch)
		}
		if (d.Branch == "" || b.Branch == d.Branch) && (d.Status == "" || string(b.Status) == d.Status) {
			kept = append(kept, b)
		}
	}
	slices.Sort(d.Branches)
	for i := range kept {
		kept[i] = kept[i].SeenBy(s.mayRead(ctx, c))
	}
	from := min((d.Page-1)*pageSize, len(kept))
	d.Builds = kept[from:min(from+pageSize, len(kept))]
	if d.Page > 1 {
		d.Prev = pageLink(q, d.Page-1)
	}
	if from+pageSize < len(kept) {
		d.Next = pageLink(q, d.Page+1)
	}
	d.Charts = projectCharts(name, reversed(kept[:min(chartBuilds, len(kept))]))
	if latest, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Project: name, Limit: 1}); err == nil && len(latest) > 0 {
		d.Deps = latest[0].SeenBy(s.mayRead(ctx, c)).Dependencies
	}
	d.Dependents = s.dependents(ctx, c, name)
	d.Releases = s.currentReleases(ctx, name)
	return d, nil
}

// buildsFor is the store query behind a listing: the status filter goes to the store, and without a branch
// filter only the builds the page (or the charts) show are read; a branch filter reads them all.
func buildsFor(project, branch, status string, need int) baleen.BuildFilter {
	f := baleen.BuildFilter{Project: project}
	if status != "" {
		f.Statuses = []baleen.Status{baleen.Status(status)}
	}
	if branch == "" {
		f.Limit = max(need, chartBuilds)
	}
	return f
}

func pageLink(q url.Values, page int) string {
	v := url.Values{}
	for k, vs := range q {
		v[k] = vs
	}
	v.Set("page", strconv.Itoa(page))
	return "?" + v.Encode()
}

// dependents lists the readable projects whose latest build used project.
func (s *Server) dependents(ctx context.Context, c caller, project string) []string {
	ps, err := s.readable(ctx, c)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range ps {
		bs, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Project: p.Name, Limit: 1})
		if err != nil || len(bs) == 0 {
			continue
		}
		for _, dep := range bs[0].Dependencies {
			if dep.Project == project && p.Name != project {
				out = append(out, p.Name)
				break
			}
		}
	}
	return out
}

// readProject checks that the project exists and that c may read it. A project c may not read is "not
// found" to a signed-in caller who holds no role on it, so that names are not confirmed.
func (s *Server) readProject(ctx context.Context, c caller, name string) error {
	if err := baleen.ValidateProjectName(name); err != nil {
		return err
	}
	if err := s.require(ctx, c, name, baleen.RoleRead); err != nil {
		return err
	}
	_, err := s.cfg.Projects.Project(ctx, name)
	return err
}

type buildData struct {
	Build      baleen.Build
	Role       baleen.Role
	CanAct     bool
	Log        logView
	Failures   []failure
	Coverage   *float64
	Delta      string
	CoverHTML  string
	Artifacts  []string
	Stages     []baleen.StageResult
	Live       bool
	CanRebuild bool
	CanCancel  bool
	CanDeploy  bool
}

func (s *Server) buildPage(r *http.Request, c caller) (string, string, any, error) {
	ctx := r.Context()
	project := r.PathValue("project")
	if err := s.readProject(ctx, c, project); err != nil {
		return "", "", nil, err
	}
	n, err := number(r)
	if err != nil {
		return "", "", nil, err
	}
	b, err := s.cfg.Builds.Build(ctx, project, n)
	if err != nil {
		return "", "", nil, err
	}
	b = b.SeenBy(s.mayRead(ctx, c))
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	lv, err := s.readLogView(ctx, project, n, before)
	if err != nil {
		return "", "", nil, err
	}
	role := s.role(ctx, c, project)
	d := buildData{Build: b, Role: role, Log: lv, Stages: b.Stages, Live: !b.Status.Final() && !lv.Paged, Artifacts: b.Artifacts}
	if s.cfg.Actions != nil && c.csrf != "" {
		d.CanRebuild = role >= baleen.RoleWrite
		d.CanCancel = role >= baleen.RoleWrite && !b.Status.Final()
		d.CanDeploy = role >= baleen.RoleDeploy && b.Status == baleen.StatusPassed
		d.CanAct = d.CanRebuild || d.CanCancel || d.CanDeploy
	}
	if b.Report != nil {
		d.Failures = s.failures(ctx, b)
		d.Coverage = b.Report.Coverage
		d.Delta = s.coverageDelta(ctx, b)
	}
	d.CoverHTML = coverageHTML(b.Artifacts)
	return "build", fmt.Sprintf("%s #%d", project, n), d, nil
}

// failure is a failed test as the build page shows it: with what the test history says of it.
type failure struct {
	baleen.TestFailure
	History history.Status
}

// failures are b's failed tests with their history, when the server keeps one.
func (s *Server) failures(ctx context.Context, b baleen.Build) []failure {
	var sts map[string]history.Status
	if s.cfg.Tests != nil {
		var err error
		if sts, err = history.OfBuild(ctx, s.cfg.Tests, b.Project, b.Number); err != nil {
			s.log.Error("read test history", "project", b.Project, "build", b.Number, "err", err)
		}
	}
	out := make([]failure, 0, len(b.Report.Failures))
	for _, f := range b.Report.Failures {
		out = append(out, failure{TestFailure: f, History: sts[f.Name]})
	}
	return out
}

// coverageHTML picks the artifact that is the coverage report's front page.
func coverageHTML(artifacts []string) string {
	best := ""
	for _, a := range artifacts {
		low := strings.ToLower(a)
		if !strings.HasSuffix(low, ".html") || !strings.Contains(low, "cov") {
			continue
		}
		if best == "" || strings.HasSuffix(low, "index.html") && !strings.HasSuffix(strings.ToLower(best), "index.html") {
			best = a
		}
	}
	return best
}

// coverageDelta compares b's coverage with the build before it on its branch that had coverage.
func (s *Server) coverageDelta(ctx context.Context, b baleen.Build) string {
	if b.Report == nil || b.Report.Coverage == nil {
		return ""
	}
	bs, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Project: b.Project, Limit: 200})
	if err != nil {
		return ""
	}
	for _, p := range bs {
		if p.Number < b.Number && p.Branch == b.Branch && p.Report != nil && p.Report.Coverage != nil {
			return fmt.Sprintf("%+.1f%% since #%d", *b.Report.Coverage-*p.Report.Coverage, p.Number)
		}
	}
	return ""
}

type releasesData struct {
	Name     string
	Releases []releaseRow
	CanAct   bool
}

func (s *Server) releasesPage(r *http.Request, c caller) (string, string, any, error) {
	ctx := r.Context()
	name := r.PathValue("project")
	if err := s.readProject(ctx, c, name); err != nil {
		return "", "", nil, err
	}
	if s.cfg.Releases == nil {
		return "", "", nil, fmt.Errorf("this server deploys nothing: %w", baleen.ErrNotFound)
	}
	rs, err := s.cfg.Releases.Releases(ctx, name, 100)
	if err != nil {
		return "", "", nil, err
	}
	for i := range rs {
		rs[i].By = baleen.PusherSeenBy(rs[i].By, s.mayRead(ctx, c))
	}
	canAct := s.cfg.Actions != nil && c.csrf != "" && s.role(ctx, c, name) >= baleen.RoleDeploy
	return "releases", name + " releases", releasesData{Name: name, Releases: s.releaseRows(ctx, rs), CanAct: canAct}, nil
}

// buildFor reads the project and build of a request after checking c may read it.
func (s *Server) buildFor(r *http.Request, c caller) (baleen.Build, error) {
	project := r.PathValue("project")
	if err := s.readProject(r.Context(), c, project); err != nil {
		return baleen.Build{}, err
	}
	n, err := number(r)
	if err != nil {
		return baleen.Build{}, err
	}
	b, err := s.cfg.Builds.Build(r.Context(), project, n)
	return b.SeenBy(s.mayRead(r.Context(), c)), err
}

var errNoActions = errors.New("this server takes no actions from the web")

package web

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/baleen-ci/baleen"
)

// act checks c's role for action on b and does it. It returns the new build's number for a rebuild.
func (s *Server) act(ctx context.Context, c caller, b baleen.Build, action string) (int, error) {
	if s.cfg.Actions == nil {
		return 0, fmt.Errorf("%w: %w", errNoActions, baleen.ErrNotFound)
	}
	need := map[string]baleen.Role{"rebuild": baleen.RoleWrite, "cancel": baleen.RoleWrite, "deploy": baleen.RoleDeploy}[action]
	if need == baleen.RoleNone {
		return 0, fmt.Errorf("%s: %w: %w", action, errUnknownAction, baleen.ErrNotFound)
	}
	// Cancelling someone else's build takes admin, as over ssh.
	if action == "cancel" && b.Pusher != c.id.Fingerprint {
		need = baleen.RoleAdmin
	}
	if err := s.require(ctx, c, b.Project, need); err != nil {
		return 0, err
	}
	by := "web by " + firstNonEmpty(c.id.User, c.id.Fingerprint)
	s.log.Info("web action", "project", b.Project, "build", b.Number, "action", action, "user", c.id.User)
	switch action {
	case "rebuild":
		return s.cfg.Actions.Rebuild(ctx, b.Project, b.Number, by, c.id)
	case "cancel":
		if b.Status.Final() {
			return 0, fmt.Errorf("build #%d of %s already ended: %s: %w", b.Number, b.Project, b.Status, baleen.ErrConflict)
		}
		return 0, s.cfg.Actions.Cancel(ctx, b.Project, b.Number)
	default:
		if b.Status != baleen.StatusPassed {
			return 0, fmt.Errorf("build #%d of %s is %s; only a green build is deployed: %w", b.Number, b.Project, b.Status, baleen.ErrConflict)
		}
		return 0, s.cfg.Actions.Deploy(ctx, b.Project, b.Number, by)
	}
}

func (s *Server) rollback(ctx context.Context, c caller, project string, release int) error {
	if s.cfg.Actions == nil {
		return fmt.Errorf("%w: %w", errNoActions, baleen.ErrNotFound)
	}
	if err := s.readProject(ctx, c, project); err != nil {
		return err
	}
	if err := s.require(ctx, c, project, baleen.RoleDeploy); err != nil {
		return err
	}
	return s.cfg.Actions.Rollback(ctx, project, release, "web by "+firstNonEmpty(c.id.User, c.id.Fingerprint))
}

// webAction answers a page's action form: CSRF token checked, then the role, then the action; the browser
// is sent back to the build (or the new build).
func (s *Server) webAction(w http.ResponseWriter, r *http.Request) {
	c, ok := s.formCaller(w, r)
	if !ok {
		return
	}
	b, err := s.buildFor(r, c)
	if err != nil {
		s.errorPage(w, r, statusOf(err), err)
		return
	}
	nb, err := s.act(r.Context(), c, b, r.PathValue("action"))
	if err != nil {
		s.errorPage(w, r, statusOf(err), err)
		return
	}
	to := fmt.Sprintf("/p/%s/b/%d", b.Project, b.Number)
	switch {
	case nb > 0:
		to = fmt.Sprintf("/p/%s/b/%d", b.Project, nb)
	case r.PathValue("action") == "rebuild":
		to = "/p/" + b.Project
	case r.PathValue("action") == "deploy":
		to = "/p/" + b.Project + "/releases"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *Server) webRollback(w http.ResponseWriter, r *http.Request) {
	c, ok := s.formCaller(w, r)
	if !ok {
		return
	}
	project := r.PathValue("project")
	rel, err := releaseNumber(r.PostFormValue("release"))
	if err == nil {
		err = s.rollback(r.Context(), c, project, rel)
	}
	if err != nil {
		s.errorPage(w, r, statusOf(err), err)
		return
	}
	http.Redirect(w, r, "/p/"+project+"/releases", http.StatusSeeOther)
}

// artifact serves one of a build's collected files. Everything is sent under a sandboxing
// Content-Security-Policy: an HTML coverage report opens, but in an opaque origin with no script, so it can
// never act as the app.
func (s *Server) artifact(w http.ResponseWriter, r *http.Request) {
	b, ok := s.pageBuild(w, r)
	if !ok {
		return
	}
	name := r.PathValue("path")
	if !slices.Contains(b.Artifacts, name) || s.cfg.ArtifactsDir == "" {
		s.errorPage(w, r, http.StatusNotFound, fmt.Errorf("build #%d of %s has no artifact %q: %w", b.Number, b.Project, name, baleen.ErrNotFound))
		return
	}
	root, err := os.OpenRoot(filepath.Join(s.cfg.ArtifactsDir, b.Project, fmt.Sprint(b.Number)))
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, fmt.Errorf("artifacts of build #%d of %s are gone: %w", b.Number, b.Project, baleen.ErrNotFound))
		return
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, fmt.Errorf("artifact %q: %w", name, baleen.ErrNotFound))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		s.errorPage(w, r, http.StatusNotFound, fmt.Errorf("artifact %q: %w", name, baleen.ErrNotFound))
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" || !strings.HasPrefix(ctype, "text/html") && r.URL.Query().Has("download") {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.URL.Query().Has("download") {
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(name)))
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// formCaller identifies the sender of a form and checks its CSRF token; on failure it has answered.
func (s *Server) formCaller(w http.ResponseWriter, r *http.Request) (caller, bool) {
	c, err := s.who(r)
	if err == nil {
		err = checkCSRF(c, r)
	}
	if err != nil {
		s.errorPage(w, r, http.StatusForbidden, err)
		return caller{}, false
	}
	return c, true
}

// pageBuild reads the build a request names, after checking the caller may read it; on failure it has
// answered with an error page.
func (s *Server) pageBuild(w http.ResponseWriter, r *http.Request) (baleen.Build, bool) {
	c, err := s.who(r)
	if err != nil {
		s.errorPage(w, r, http.StatusUnauthorized, err)
		return baleen.Build{}, false
	}
	b, err := s.buildFor(r, c)
	if err != nil {
		s.errorPage(w, r, statusOf(err), err)
		return baleen.Build{}, false
	}
	return b, true
}

package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
)

// layout is what every page's frame shows.
type layout struct {
	Title string
	// SignedIn and User say who is signed in.
	SignedIn bool
	User     string
	// CSRF is the session's token for the page's forms.
	CSRF string
	// Engines links the engines page: the caller is signed in and the server has an engine pool.
	Engines bool
	Page    any
}

var funcs = template.FuncMap{
	"short": shortID,
	"ago":   ago,
	"dur":   dur,
	"rfc":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"pct":   func(f *float64) string { return fmt.Sprintf("%.1f%%", *f) },
	"took":  took,
	"spark": sparkline,
}

func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// pageFunc answers a page request with a template name, a title and the page's data.
type pageFunc func(r *http.Request, c caller) (tmpl, title string, data any, err error)

// page wraps a pageFunc: identify the caller, run it, render into a buffer (so an error still gets a whole
// page), and send.
func (s *Server) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.who(r)
		if err != nil {
			s.errorPage(w, r, http.StatusUnauthorized, err)
			return
		}
		tmpl, title, data, err := fn(r, c)
		if err != nil {
			s.errorPage(w, r, statusOf(err), err)
			return
		}
		s.render(w, http.StatusOK, tmpl, frame(c, title, data))
	}
}

func (s *Server) render(w http.ResponseWriter, code int, tmpl string, l layout) {
	l.Engines = l.SignedIn && s.engines
	var buf bytes.Buffer
	if err := s.pages[tmpl].ExecuteTemplate(&buf, "layout.html", l); err != nil {
		s.log.Error("render page", "page", tmpl, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code >= 500 {
		s.log.Error("web request", "path", r.URL.Path, "err", err)
	}
	c, _ := s.who(r)
	s.render(w, code, "error", frame(c, http.StatusText(code), errorData{Code: code, Message: err.Error()}))
}

type errorData struct {
	Code    int
	Message string
}

// statusOf maps the sentinel errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, baleen.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, baleen.ErrUnauthorized):
		return http.StatusForbidden
	case errors.Is(err, baleen.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, baleen.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, baleen.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, errTooManyStreams):
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

func itoa(n int) string { return strconv.Itoa(n) }

func shortID(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// took is a build's wall time, or how long it has been running.
func took(b baleen.Build) string {
	switch {
	case b.Started.IsZero():
		return "—"
	case b.Finished.IsZero():
		return dur(time.Since(b.Started)) + "…"
	}
	return dur(b.Finished.Sub(b.Started))
}

// number reads the {n} path value.
func number(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("build %q: want a build number: %w", r.PathValue("n"), baleen.ErrInvalid)
	}
	return n, nil
}

func frame(c caller, title string, page any) layout {
	return layout{Title: title, SignedIn: c.signedIn, User: firstNonEmpty(c.id.User, c.id.Fingerprint), CSRF: c.csrf, Page: page}
}

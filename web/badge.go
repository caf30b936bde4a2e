package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/baleen-ci/baleen"
)

// statusBadge answers /badge/<project>/<branch>.svg with the branch's latest final verdict.
func (s *Server) statusBadge(w http.ResponseWriter, r *http.Request) {
	branch, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := s.badgeBuild(r, branch)
	text, color := "unknown", "#9f9f9f"
	if err == nil {
		text = string(b.Status)
		color = map[baleen.Status]string{baleen.StatusPassed: "#2e8540", baleen.StatusFailed: "#c62828"}[b.Status]
		if color == "" {
			color = "#9f9f9f"
		}
	}
	s.badge(w, r, err, "build", text, color)
}

// coverageBadge answers /badge/<project>/<branch>/coverage.svg with the coverage of the branch's latest
// build that had some.
func (s *Server) coverageBadge(w http.ResponseWriter, r *http.Request) {
	b, err := s.badgeBuild(r, r.PathValue("branch"))
	text, color := "unknown", "#9f9f9f"
	if err == nil && b.Report != nil && b.Report.Coverage != nil {
		c := *b.Report.Coverage
		text = fmt.Sprintf("%.1f%%", c)
		switch {
		case c >= 80:
			color = "#2e8540"
		case c >= 60:
			color = "#b8860b"
		default:
			color = "#c62828"
		}
	}
	s.badge(w, r, err, "coverage", text, color)
}

// badgeBuild finds the branch's latest final build (with a report, for coverage) the caller may read.
func (s *Server) badgeBuild(r *http.Request, branch string) (baleen.Build, error) {
	c, err := s.who(r)
	if err != nil {
		return baleen.Build{}, err
	}
	project := r.PathValue("project")
	if err := s.readProject(r.Context(), c, project); err != nil {
		return baleen.Build{}, err
	}
	bs, err := s.cfg.Builds.Builds(r.Context(), baleen.BuildFilter{Project: project, Statuses: []baleen.Status{baleen.StatusPassed, baleen.StatusFailed}, Limit: 200})
	if err != nil {
		return baleen.Build{}, err
	}
	cov := strings.HasSuffix(r.URL.Path, "/coverage.svg")
	for _, b := range bs {
		if b.Branch == branch && (!cov || b.Report != nil && b.Report.Coverage != nil) {
			return b, nil
		}
	}
	return baleen.Build{}, fmt.Errorf("no build of %s on %s: %w", project, branch, baleen.ErrNotFound)
}

// badge sends a flat SVG badge with an ETag, revalidated on every use so a README shows the current state.
// A project the caller may not read gets the same "unknown" badge as one that does not exist.
func (s *Server) badge(w http.ResponseWriter, r *http.Request, err error, left, right, color string) {
	svg := badgeSVG(left, right, color)
	sum := sha256.Sum256([]byte(svg))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	if err != nil {
		h.Set("Cache-Control", "no-store")
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write([]byte(svg))
}

func badgeSVG(left, right, color string) string {
	lw, rw := 6*len(left)+12, 7*len(right)+12
	l, rt := html.EscapeString(left), html.EscapeString(right)
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`+
		`<rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/>`+
		`<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">`+
		`<text x="%d" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`,
		lw+rw, l, rt, lw, lw, rw, color, lw/2, l, lw+rw/2, rt)
}

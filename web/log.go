package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
)

// pageLogLimit is how much of a log the build page shows; a longer one shows its tail and links the
// whole.
const pageLogLimit = 512 << 10

// logView is a build's log grouped by stage.
type logView struct {
	Groups []logGroup
	// Truncated says the page shows only the tail, from byte Start.
	Truncated bool
	Start     int64
	// End is the offset where the shown log ends: where the live stream goes on.
	End int64
	// Lines counts the lines shown; line numbers are known when the log is shown from the start.
	Lines int
}

type logGroup struct {
	Stage string
	Lines []logLine
}

type logLine struct {
	// Num is the line's number from 1, 0 when the page shows a tail and does not know it.
	Num    int
	Offset int64
	HTML   template.HTML
}

// Anchor is the line's id: L<n>, or o<offset> in a tail.
func (l logLine) Anchor() string {
	if l.Num > 0 {
		return fmt.Sprintf("L%d", l.Num)
	}
	return fmt.Sprintf("o%d", l.Offset)
}

// readLogView reads the log for the page: the whole, or its last pageLogLimit bytes from a line start.
func (s *Server) readLogView(ctx context.Context, project string, n int) (logView, error) {
	end, err := s.logSize(ctx, project, n)
	if err != nil {
		return logView{}, err
	}
	var v logView
	if end > pageLogLimit {
		v.Truncated, v.Start = true, end-pageLogLimit
	}
	rc, err := s.cfg.Builds.Log(ctx, project, n, v.Start)
	if err != nil {
		return logView{}, fmt.Errorf("read log: %w", err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	off := v.Start
	if v.Truncated { // skip to the next whole line
		skip, err := br.ReadString('\n')
		if err != nil {
			return v, nil
		}
		off += int64(len(skip))
	}
	cur := logGroup{}
	num := 0
	for {
		line, err := br.ReadString('\n')
		if !strings.HasSuffix(line, "\n") { // an unfinished last line waits for the live stream
			break
		}
		num++
		ln := logLine{Offset: off, HTML: template.HTML(ansiHTML(strings.TrimSuffix(line, "\n")))}
		if !v.Truncated {
			ln.Num = num
		}
		off += int64(len(line))
		if st, ok := stageHeader(line); ok {
			if len(cur.Lines) > 0 || cur.Stage != "" {
				v.Groups = append(v.Groups, cur)
			}
			cur = logGroup{Stage: st}
		}
		cur.Lines = append(cur.Lines, ln)
		if err != nil {
			break
		}
	}
	if len(cur.Lines) > 0 || cur.Stage != "" {
		v.Groups = append(v.Groups, cur)
	}
	v.End, v.Lines = off, num
	return v, nil
}

// stageHeader reads the stage runner's "==> stage" header line.
func stageHeader(line string) (string, bool) {
	st, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "==> ")
	return st, ok && st != ""
}

// logSizer is a store that knows a log's length without reading it (store.Store does).
type logSizer interface {
	LogSize(ctx context.Context, project string, number int) (int64, error)
}

// logSize is how far a build's log is written.
func (s *Server) logSize(ctx context.Context, project string, n int) (int64, error) {
	if ls, ok := s.cfg.Builds.(logSizer); ok {
		return ls.LogSize(ctx, project, n)
	}
	rc, err := s.cfg.Builds.Log(ctx, project, n, 0)
	if err != nil {
		return 0, fmt.Errorf("read log: %w", err)
	}
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}

func (s *Server) rawLog(w http.ResponseWriter, r *http.Request) {
	b, ok := s.pageBuild(w, r)
	if !ok {
		return
	}
	rc, err := s.cfg.Builds.Log(r.Context(), b.Project, b.Number, 0)
	if err != nil {
		s.errorPage(w, r, statusOf(err), err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.URL.Query().Has("download") {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%d.log"`, b.Project, b.Number))
	}
	if _, err := io.Copy(w, rc); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("send log", "project", b.Project, "build", b.Number, "err", err)
	}
}

package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// pageLogLimit is how much of a log the build page shows at once: a longer one shows its tail, with a link
// to the bytes before it (a page at a time, by offset) and the whole log to download.
const pageLogLimit = 64 << 10

// logView is a build's log grouped by stage.
type logView struct {
	Groups []*logGroup
	// Truncated says the page shows only part of the log, from byte Start; Earlier links the page before.
	Truncated bool
	Start     int64
	// Paged says the page shows an earlier part of the log (?before=), not its live end; Later is the
	// ?before= of the next page, 0 when that is the end.
	Paged bool
	Later int64
	// End is the offset where the shown log ends: where the live stream goes on.
	End int64
	// Lines counts the lines shown; line numbers are known when the log is shown from the start.
	Lines int
}

type logGroup struct {
	Stage string
	// HTML is the group's lines, rendered here rather than by the template: a long log's first screen is
	// thousands of lines.
	HTML  template.HTML
	lines strings.Builder
}

type logLine struct {
	// Num is the line's number from 1, 0 when the page shows a tail and does not know it.
	Num    int
	Offset int64
	HTML   template.HTML
}

// anchor is the line's id: L<n>, or o<offset> in a tail.
func (l logLine) anchor() string {
	if l.Num > 0 {
		return "L" + strconv.Itoa(l.Num)
	}
	return "o" + strconv.FormatInt(l.Offset, 10)
}

// add renders l into the group.
func (g *logGroup) add(l logLine) {
	id := l.anchor()
	num := ""
	if l.Num > 0 {
		num = strconv.Itoa(l.Num)
	}
	g.lines.WriteString(`<span class="line" id="` + id + `"><a class="ln" href="#` + id + `" tabindex="-1">` + num + `</a>`)
	g.lines.WriteString(string(l.HTML))
	g.lines.WriteString("\n</span>")
}

// readLogView reads the log for the page: its last pageLogLimit bytes from a line start, or those before
// offset before when before > 0. The rest of the log is never read.
func (s *Server) readLogView(ctx context.Context, project string, n int, before int64) (logView, error) {
	end, err := s.logSize(ctx, project, n)
	if err != nil {
		return logView{}, err
	}
	var v logView
	if before > 0 && before < end {
		if later := before + pageLogLimit; later < end {
			v.Later = later
		}
		end, v.Paged = before, true
	}
	if end > pageLogLimit {
		v.Truncated, v.Start = true, end-pageLogLimit
	}
	from := v.Start
	if v.Truncated {
		from-- // to see whether Start begins a line
	}
	rc, err := s.cfg.Builds.Log(ctx, project, n, from)
	if err != nil {
		return logView{}, fmt.Errorf("read log: %w", err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(io.LimitReader(rc, end-from), 64<<10)
	off := from
	if v.Truncated { // skip to the next whole line
		skip, err := br.ReadString('\n')
		if err != nil { // one line longer than a page: nothing whole to show
			v.Start, v.End = end, end
			return v, nil
		}
		off += int64(len(skip))
		v.Start = off
	}
	cur := &logGroup{}
	var groups []*logGroup
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
			if cur.lines.Len() > 0 || cur.Stage != "" {
				groups = append(groups, cur)
			}
			cur = &logGroup{Stage: st}
		}
		cur.add(ln)
		if err != nil {
			break
		}
	}
	if cur.lines.Len() > 0 || cur.Stage != "" {
		groups = append(groups, cur)
	}
	for _, g := range groups {
		g.HTML = template.HTML(g.lines.String()) // ansiHTML escaped every line; ids are numbers
		v.Groups = append(v.Groups, g)
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

package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// Journals reads the end of the journals of a project's deployed units, for the releases page.
type Journals interface {
	// Units names the units (as baleen.yml names them) that release rel of project deploys.
	Units(ctx context.Context, project string, rel baleen.Release) ([]string, error)
	// Journal writes the journal of one unit as baleen.Deployer does: from q.Host, the unit's credentials
	// masked, as `ssh logs --unit` shows it.
	Journal(ctx context.Context, q baleen.JournalQuery, w io.Writer) error
}

// journalLines is how many of a unit's last journal lines the releases page shows per host.
const journalLines = 20

// journalTimeout bounds the reading of the journals for one page: a host that does not answer shows as such
// rather than holding the page.
const journalTimeout = 5 * time.Second

// journalText caps what one unit's journal may put on the page.
const journalText = 64 << 10

// unitJournal is the end of one unit's journal on one host.
type unitJournal struct {
	Unit string
	Text string
	Err  string
}

// releaseRows pairs each release of rs (newest first) with the journals of its hosts when it is the
// current release of its target.
func (s *Server) releaseRows(ctx context.Context, rs []baleen.Release) []releaseRow {
	rows := make([]releaseRow, len(rs))
	seen := map[string]bool{}
	for i, r := range rs {
		rows[i].Release = r
		if s.cfg.Journals != nil && !seen[r.Target] {
			seen[r.Target] = true
			rows[i].Journals = s.journals(ctx, r)
		}
	}
	return rows
}

// releaseRow is a release on the releases page with, for the current release of its target, each host's
// unit journals.
type releaseRow struct {
	baleen.Release
	Journals map[string][]unitJournal
}

// journals reads the journal tails of every unit on every host of rel, at once.
func (s *Server) journals(ctx context.Context, rel baleen.Release) map[string][]unitJournal {
	ctx, cancel := context.WithTimeout(ctx, journalTimeout)
	defer cancel()
	units, err := s.cfg.Journals.Units(ctx, rel.Project, rel)
	if err != nil {
		s.log.Error("read release units", "project", rel.Project, "err", err)
		return nil
	}
	out := map[string][]unitJournal{}
	var wg sync.WaitGroup
	for _, h := range rel.Hosts {
		js := make([]unitJournal, len(units))
		out[h.Host] = js
		for i, u := range units {
			wg.Go(func() {
				js[i] = s.journal(ctx, baleen.JournalQuery{Project: rel.Project, Target: rel.Target, Unit: u, Host: h.Host, Lines: journalLines})
			})
		}
	}
	wg.Wait()
	return out
}

// journal reads one unit's journal on one host.
func (s *Server) journal(ctx context.Context, q baleen.JournalQuery) unitJournal {
	j := unitJournal{Unit: q.Unit}
	w := &cappedBuffer{max: journalText}
	err := s.cfg.Journals.Journal(ctx, q, w)
	j.Text = w.String()
	switch {
	case errors.Is(err, context.DeadlineExceeded) || err != nil && ctx.Err() != nil:
		j.Err = fmt.Sprintf("no answer within %s", journalTimeout)
	case err != nil:
		j.Err = err.Error()
		s.log.Error("read journal", "project", q.Project, "unit", q.Unit, "host", q.Host, "err", err)
	}
	return j
}

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	max int
	b   strings.Builder
	cut bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.max - c.b.Len(); room < n {
		c.cut = true
		p = p[:max(room, 0)]
	}
	c.b.Write(p)
	return n, nil
}

func (c *cappedBuffer) String() string {
	if c.cut {
		return c.b.String() + "\n[cut short]\n"
	}
	return c.b.String()
}

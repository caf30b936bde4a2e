package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/internal/shell"
	"github.com/baleen-ci/baleen/internal/syncio"
)

// defaultJournalQueryLines is how many lines Journal shows when the query names no number.
const defaultJournalQueryLines = 50

// Status reports for each host of target what the units of project named in units run and whether they
// are active; see baleen.Deployer. Hosts are asked at once.
func (dp *Deployer) Status(ctx context.Context, project, target string, units []string) ([]baleen.HostStatus, error) {
	t, err := dp.target(target)
	if err != nil {
		return nil, err
	}
	if err := baleen.ValidateProjectName(project); err != nil {
		return nil, err
	}
	for _, u := range units {
		if !validUnitName(u) {
			return nil, fmt.Errorf("unit %q: %w", u, baleen.ErrInvalid)
		}
	}
	res := make([]baleen.HostStatus, len(t.Hosts))
	var wg sync.WaitGroup
	for i, addr := range t.Hosts {
		wg.Go(func() {
			res[i] = baleen.HostStatus{Host: addr}
			us, err := dp.hostStatus(ctx, t, addr, project, units)
			if err != nil {
				res[i].Err = err.Error()
			}
			res[i].Units = us
		})
	}
	wg.Wait()
	return res, nil
}

// hostStatus asks one host.
func (dp *Deployer) hostStatus(ctx context.Context, t Target, addr, project string, units []string) ([]baleen.UnitStatus, error) {
	h, err := connect(ctx, t, addr, dp.opts.DialTimeout)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	sd, err := h.systemd(ctx)
	if err != nil {
		return nil, err
	}
	defer sd.Close()
	hs := &hostSession{dp: dp, h: h, sd: sd, addr: addr, out: io.Discard}
	var us []baleen.UnitStatus
	for _, u := range units {
		base := unitName(project, u)
		s, err := hs.unitState(ctx, base)
		if err != nil {
			return us, err
		}
		st, err := readState(ctx, h, base)
		if err != nil {
			return us, err
		}
		us = append(us, baleen.UnitStatus{Unit: unitFile(base), Active: s.active, Sub: s.sub, Release: st.Release, Build: st.Build, Image: st.Image})
	}
	return us, nil
}

// Journal writes a unit's journal from one host or from all hosts of the target; see baleen.Deployer.
// With several hosts each line starts with "<host>: ".
func (dp *Deployer) Journal(ctx context.Context, q baleen.JournalQuery, w io.Writer) error {
	t, err := dp.target(q.Target)
	if err != nil {
		return err
	}
	if err := baleen.ValidateProjectName(q.Project); err != nil {
		return err
	}
	if !validUnitName(q.Unit) {
		return fmt.Errorf("unit %q: %w", q.Unit, baleen.ErrInvalid)
	}
	hosts := t.Hosts
	if q.Host != "" {
		if !slices.Contains(t.Hosts, hostAddr(q.Host)) {
			return fmt.Errorf("host %s is not in target %s: %w", q.Host, t.Name, baleen.ErrNotFound)
		}
		hosts = []string{hostAddr(q.Host)}
	}
	lines := q.Lines
	if lines <= 0 {
		lines = defaultJournalQueryLines
	}
	base := unitName(q.Project, q.Unit)
	cmd := fmt.Sprintf("journalctl --no-pager --output=short-iso --lines=%d --unit=%s", lines, shell.Quote(unitFile(base)))
	if q.Follow {
		cmd += " --follow"
	}
	sw := syncio.NewWriter(w)
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, addr := range hosts {
		wg.Go(func() {
			prefix := ""
			if len(hosts) > 1 {
				prefix = addr + ": "
			}
			errs[i] = dp.hostJournal(ctx, t, addr, base, cmd, prefix, sw)
		})
	}
	wg.Wait()
	if q.Follow && ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// hostJournal runs the journal command cmd of unit base on one host and writes its lines to w, each
// started with prefix and with the unit's credentials masked: a unit that prints its secret does not show
// it to whoever reads its journal.
func (dp *Deployer) hostJournal(ctx context.Context, t Target, addr, base, cmd, prefix string, w io.Writer) error {
	h, err := connect(ctx, t, addr, dp.opts.DialTimeout)
	if err != nil {
		return err
	}
	defer h.Close()
	secrets, err := unitSecrets(ctx, h, base)
	if err != nil {
		return fmt.Errorf("host %s: %w", addr, err)
	}
	pw := &prefixWriter{prefix: prefix, w: w, secrets: secrets}
	err = h.run(ctx, cmd, nil, pw)
	if err := errors.Join(err, pw.Close()); err != nil {
		return fmt.Errorf("host %s: journalctl: %w", addr, err)
	}
	return nil
}

// unitSecrets reads the values of the credentials that the environment file of base on h holds (the
// names its "# credentials:" line lists); none when the unit has no environment file.
func unitSecrets(ctx context.Context, h host, base string) ([]string, error) {
	var out strings.Builder
	p := shell.Quote(envPath(base))
	if err := h.run(ctx, fmt.Sprintf("if [ -e %s ]; then cat %s; fi", p, p), nil, &out); err != nil {
		return nil, fmt.Errorf("read the credentials to mask: %w", err)
	}
	var names []string
	vals := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, credentialsLine); ok {
			names = strings.Fields(rest)
		} else if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			vals[k] = v
		}
	}
	var secrets []string
	for _, n := range names {
		if v := vals[n]; v != "" {
			secrets = append(secrets, v)
		}
	}
	return secrets, nil
}

// maskWord replaces a credential's value in journal lines.
const maskWord = "********"

// prefixWriter starts every line written through it with prefix, masks secrets in it and passes whole
// lines on.
type prefixWriter struct {
	prefix  string
	w       io.Writer
	secrets []string
	buf     []byte
}

func (p *prefixWriter) line(s string) string {
	for _, sec := range p.secrets {
		s = strings.ReplaceAll(s, sec, maskWord)
	}
	return p.prefix + s
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := slices.Index(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := io.WriteString(p.w, p.line(string(p.buf[:i+1]))); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
}

// Close writes what is left of an unfinished line.
func (p *prefixWriter) Close() error {
	if len(p.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(p.w, p.line(string(p.buf))+"\n")
	p.buf = nil
	return err
}

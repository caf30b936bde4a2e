package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/internal/shell"
)

// Intervals of the checks after a unit started.
const (
	activePollInterval = 250 * time.Millisecond
	healthPollInterval = 500 * time.Millisecond
	// probeTimeout bounds one health probe; the check as a whole is bounded by Health.Timeout.
	probeTimeout = 5 * time.Second
)

// unitState is what systemd says of a unit.
type unitState struct {
	active, sub string
	restarts    uint32
}

func (s unitState) String() string { return s.active + " (" + s.sub + ")" }

// unitState asks systemd for base's ActiveState, SubState and NRestarts.
func (hs *hostSession) unitState(ctx context.Context, base string) (unitState, error) {
	name := unitFile(base)
	props, err := hs.sd.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return unitState{}, fmt.Errorf("ask systemd for %s: %w", name, err)
	}
	var s unitState
	s.active, _ = props["ActiveState"].(string)
	s.sub, _ = props["SubState"].(string)
	if p, err := hs.sd.GetUnitTypePropertyContext(ctx, name, "Service", "NRestarts"); err == nil {
		s.restarts, _ = p.Value.Value().(uint32)
	}
	return s, nil
}

// check passes when base stays active, without restarting, through the grace period and then passes its
// health check within its timeout. Its errors wrap errUnhealthy when the unit itself failed.
func (hs *hostSession) check(ctx context.Context, base string, h baleen.Health) error {
	first, err := hs.unitState(ctx, base)
	if err != nil {
		return err
	}
	alive := func() error {
		s, err := hs.unitState(ctx, base)
		if err != nil {
			return err
		}
		if s.active != "active" || s.restarts != first.restarts {
			return fmt.Errorf("it did not stay running: systemd says %s after %d restart(s): %w", s, s.restarts-first.restarts, errUnhealthy)
		}
		return nil
	}
	grace := time.NewTimer(hs.dp.opts.Grace)
	defer grace.Stop()
	tick := time.NewTicker(activePollInterval)
	defer tick.Stop()
	for done := false; !done; {
		if err := alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-grace.C:
			done = true
		case <-tick.C:
		}
	}
	if err := alive(); err != nil {
		return err
	}

	probe, what := hs.probe(h)
	if probe == nil {
		return nil
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = baleen.DefaultHealthTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick.Reset(healthPollInterval)
	for {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		last := probe(pctx)
		cancel()
		if last == nil {
			return nil
		}
		if err := alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("health check %s did not pass within %v: %v: %w", what, timeout, last, errUnhealthy)
		case <-tick.C:
		}
	}
}

// probe returns the health check h describes and its name in messages; nil when h names none.
func (hs *hostSession) probe(h baleen.Health) (func(context.Context) error, string) {
	switch {
	case h.HTTP != "":
		return func(ctx context.Context) error { return httpProbe(ctx, hs.h, h.HTTP) }, h.HTTP
	case !h.Command.IsZero():
		argv := h.Command.Argv()
		return func(ctx context.Context) error { return hs.h.run(ctx, shell.Join(argv), nil, nil) }, fmt.Sprintf("%q", argv)
	}
	return nil, ""
}

// httpProbe fetches rawURL from the host itself (through the SSH connection, so the port need not be
// reachable from Baleen) and wants a 2xx answer.
func httpProbe(ctx context.Context, h host, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("health url %q: want http://host:port/path: %w", rawURL, baleen.ErrInvalid)
	}
	tr := &http.Transport{
		DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return h.dial(ctx, addr) },
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("got status %s, want 2xx", resp.Status)
	}
	return nil
}

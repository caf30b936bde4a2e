package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
)

// EngineSource reports the engines of the server's pool, by name; it is called on every page view and
// every scrape, and must be safe for concurrent use (pool.Pool's Status is).
type EngineSource func() []api.Engine

// ShowEngines serves the engines page, GET /engines, and adds to /metrics the gauges of the engines src
// reports: baleen_engine_up, baleen_engine_slots and baleen_engine_slots_in_use, each by engine. Call it
// once, before serving.
func (s *Server) ShowEngines(src EngineSource) error {
	if err := s.metrics.reg.Register(engineCollector{src}); err != nil {
		return fmt.Errorf("engine metrics: %w", err)
	}
	s.engines = true
	s.mux.HandleFunc("GET /engines", s.page(func(r *http.Request, c caller) (string, string, any, error) {
		return s.enginesPage(r, c, src)
	}))
	return nil
}

// enginesData is the engines page.
type enginesData struct {
	Engines []engineRow
}

// engineRow is one engine on the page: its builds that the caller may read link to them; the others are
// only counted.
type engineRow struct {
	api.Engine
	Visible []buildRef
	Hidden  int
}

// buildRef is a build that a slot holds, as the page links it.
type buildRef struct {
	Project string
	Number  string
	// Retry is the retry's number when the build runs again on another engine ("r1"), else empty.
	Retry string
}

// enginesPage shows each engine: its state, slots in use, labels and builds. Only signed-in callers see it:
// engine addresses are the operator's business.
func (s *Server) enginesPage(r *http.Request, c caller, src EngineSource) (string, string, any, error) {
	if !c.signedIn && !c.bearer {
		return "", "", nil, fmt.Errorf("sign in to see the engines: run `ssh <server> web-login` and open the link: %w", baleen.ErrUnauthorized)
	}
	ps, err := s.readable(r.Context(), c)
	if err != nil {
		return "", "", nil, err
	}
	var d enginesData
	for _, e := range src() {
		row := engineRow{Engine: e}
		for _, id := range e.Builds {
			if ref, ok := readableBuild(id, ps); ok {
				row.Visible = append(row.Visible, ref)
			} else {
				row.Hidden++
			}
		}
		d.Engines = append(d.Engines, row)
	}
	return "engines", "Engines", d, nil
}

// buildIDTail is what follows "<project>-" in a BuildID: the number, a retry's "r<n>" and the instance.
var buildIDTail = regexp.MustCompile(`^([0-9]+)(?:-(r[0-9]+))?-[a-z0-9]+$`)

// readableBuild finds the project of ps that build id belongs to.
func readableBuild(id string, ps []baleen.Project) (buildRef, bool) {
	for _, p := range ps {
		rest, ok := strings.CutPrefix(id, p.Name+"-")
		if !ok {
			continue
		}
		if m := buildIDTail.FindStringSubmatch(rest); m != nil {
			return buildRef{Project: p.Name, Number: m[1], Retry: m[2]}, true
		}
	}
	return buildRef{}, false
}

// engineCollector reads the engines' state at each scrape.
type engineCollector struct{ src EngineSource }

var (
	engineUpDesc = prometheus.NewDesc("baleen_engine_up",
		"Whether the Docker engine answers and takes builds (1) or stopped answering (0).", []string{"engine"}, nil)
	engineSlotsDesc = prometheus.NewDesc("baleen_engine_slots",
		"Build slots of the Docker engine.", []string{"engine"}, nil)
	engineInUseDesc = prometheus.NewDesc("baleen_engine_slots_in_use",
		"Build slots of the Docker engine that builds hold now.", []string{"engine"}, nil)
)

// Describe sends the engine gauges' descriptions.
func (engineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- engineUpDesc
	ch <- engineSlotsDesc
	ch <- engineInUseDesc
}

// Collect sends each engine's gauges.
func (ec engineCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range ec.src() {
		up := 0.0
		if e.State == "up" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(engineUpDesc, prometheus.GaugeValue, up, e.Name)
		ch <- prometheus.MustNewConstMetric(engineSlotsDesc, prometheus.GaugeValue, float64(e.Slots), e.Name)
		ch <- prometheus.MustNewConstMetric(engineInUseDesc, prometheus.GaugeValue, float64(e.InUse), e.Name)
	}
}

package web

import (
	"context"
	"net/http"
	"slices"
	"sync"

	"github.com/baleen-ci/baleen"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Metrics counts what the build events tell, for /metrics in Prometheus format. Its own registry keeps it
// out of process-wide state.
type Metrics struct {
	reg      *prometheus.Registry
	builds   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	stages   *prometheus.HistogramVec
	queued   prometheus.Gauge
	running  prometheus.Gauge
	deploys  *prometheus.CounterVec
	pushes   *prometheus.CounterVec
	clones   *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	lagged   prometheus.Counter

	mu    sync.Mutex
	state map[string]baleen.Status // queued or running builds, by "project#n"
}

var buildBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600}

func newMetrics(storeSize func() int64) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baleen_builds_total",
			Help: "Finished builds by project and result."}, []string{"project", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "baleen_build_duration_seconds",
			Help: "Wall time of finished builds.", Buckets: buildBuckets}, []string{"project", "result"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "baleen_stage_duration_seconds",
			Help: "Wall time of finished stages.", Buckets: buildBuckets}, []string{"stage", "result"}),
		queued:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "baleen_builds_queued", Help: "Builds waiting for their turn."}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "baleen_builds_running", Help: "Builds running now."}),
		deploys: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baleen_deploys_total",
			Help: "Finished releases by project and result."}, []string{"project", "result"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baleen_pushes_total",
			Help: "Git pushes received, by project."}, []string{"project"}),
		clones: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baleen_clones_total",
			Help: "Git clones and fetches served, by project."}, []string{"project"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baleen_git_bytes_total",
			Help: "Bytes of git packs received (push) and sent (clone)."}, []string{"direction"}),
		lagged: prometheus.NewCounter(prometheus.CounterOpts{Name: "baleen_metrics_events_missed_total",
			Help: "Build events the metrics fell too far behind to count."}),
		state: map[string]baleen.Status{},
	}
	m.reg.MustRegister(m.builds, m.duration, m.stages, m.queued, m.running, m.deploys, m.pushes, m.clones, m.bytes, m.lagged)
	m.reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if storeSize != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "baleen_store_size_bytes",
			Help: "Size of the record store on disk."}, func() float64 { return float64(storeSize()) }))
	}
	return m
}

// Push counts a received push of n pack bytes (gitd calls it).
func (m *Metrics) Push(project string, n int64) {
	m.pushes.WithLabelValues(project).Inc()
	m.bytes.WithLabelValues("push").Add(float64(max(n, 0)))
}

// Clone counts a served clone or fetch of n pack bytes (gitd calls it).
func (m *Metrics) Clone(project string, n int64) {
	m.clones.WithLabelValues(project).Inc()
	m.bytes.WithLabelValues("clone").Add(float64(max(n, 0)))
}

// handler serves the metrics to a caller: the series of a project only to one who may read it (an
// anonymous scrape sees the server-wide series and the public projects'), so that /metrics names no project
// its caller could not see. A scraper with an API token (Prometheus's authorization.credentials) sees what
// the token's key may read.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	c, err := s.who(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	readable := map[string]bool{}
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := s.metrics.reg.Gather()
		for _, mf := range mfs {
			mf.Metric = slices.DeleteFunc(mf.Metric, func(m *dto.Metric) bool {
				p, ok := projectLabel(m)
				if !ok {
					return false
				}
				may, seen := readable[p]
				if !seen {
					may = s.role(r.Context(), c, p) >= baleen.RoleRead
					readable[p] = may
				}
				return !may
			})
		}
		return slices.DeleteFunc(mfs, func(mf *dto.MetricFamily) bool { return len(mf.Metric) == 0 }), err
	})
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// projectLabel is the value of m's project label, if it has one.
func projectLabel(m *dto.Metric) (string, bool) {
	for _, l := range m.GetLabel() {
		if l.GetName() == "project" {
			return l.GetValue(), true
		}
	}
	return "", false
}

// count reads events until ctx ends.
func (m *Metrics) count(ctx context.Context, src baleen.EventSource) {
	for e := range src.Subscribe(ctx, baleen.EventFilter{Kinds: []baleen.EventKind{baleen.EventBuildQueued,
		baleen.EventBuildStarted, baleen.EventStageFinished, baleen.EventBuildFinished, baleen.EventReleaseFinished}}) {
		m.observe(e)
	}
}

// observe counts one event.
func (m *Metrics) observe(e baleen.Event) {
	key := e.Project + "#" + itoa(e.Build)
	switch e.Kind {
	case baleen.EventLagged:
		m.lagged.Add(float64(e.Dropped))
	case baleen.EventBuildQueued:
		m.setState(key, baleen.StatusQueued)
	case baleen.EventBuildStarted:
		m.setState(key, baleen.StatusRunning)
	case baleen.EventStageFinished:
		m.stages.WithLabelValues(string(e.Stage), string(e.Status)).Observe(e.Duration.Seconds())
	case baleen.EventBuildFinished:
		m.setState(key, "")
		m.builds.WithLabelValues(e.Project, string(e.Status)).Inc()
		m.duration.WithLabelValues(e.Project, string(e.Status)).Observe(e.Duration.Seconds())
	case baleen.EventReleaseFinished:
		m.deploys.WithLabelValues(e.Project, string(e.Status)).Inc()
	}
}

// setState moves a build between queued, running and gone ("") and sets the gauges.
func (m *Metrics) setState(key string, s baleen.Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s == "" {
		delete(m.state, key)
	} else {
		m.state[key] = s
	}
	var q, r int
	for _, st := range m.state {
		if st == baleen.StatusQueued {
			q++
		} else {
			r++
		}
	}
	m.queued.Set(float64(q))
	m.running.Set(float64(r))
}

package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/baleen-ci/baleen"
)

// chart is a line chart of some value over builds, drawn on the server as SVG.
type chart struct {
	Title string
	SVG   template.HTML
}

// series is one line of a chart: a value per build, NaN where the build has none.
type series struct {
	Name   string
	Class  string
	Values []float64
}

const (
	chartW, chartH = 640, 180
	padL, padB     = 48, 24
	padT, padR     = 10, 10
)

// projectCharts draws test counts, coverage and duration over builds (oldest first).
func projectCharts(project string, bs []baleen.Build) []chart {
	if len(bs) == 0 {
		return nil
	}
	n := len(bs)
	passed, failed, skipped := make([]float64, n), make([]float64, n), make([]float64, n)
	cov, took := make([]float64, n), make([]float64, n)
	for i, b := range bs {
		passed[i], failed[i], skipped[i], cov[i], took[i] = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
		if r := b.Report; r != nil {
			passed[i], failed[i], skipped[i] = float64(r.Passed), float64(r.Failed), float64(r.Skipped)
			if r.Coverage != nil {
				cov[i] = *r.Coverage
			}
		}
		if !b.Started.IsZero() && !b.Finished.IsZero() {
			took[i] = b.Finished.Sub(b.Started).Seconds()
		}
	}
	return []chart{
		{"Tests", drawChart(project, bs, "tests", []series{{"passed", "s-pass", passed}, {"failed", "s-fail", failed}, {"skipped", "s-skip", skipped}})},
		{"Coverage %", drawChart(project, bs, "%", []series{{"coverage", "s-cov", cov}})},
		{"Duration (s)", drawChart(project, bs, "s", []series{{"duration", "s-dur", took}})},
	}
}

// drawChart renders the series over bs as an SVG with axes; each point is a link to its build.
func drawChart(project string, bs []baleen.Build, unit string, ss []series) template.HTML {
	top := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	top = niceCeil(top)
	n := len(bs)
	x := func(i int) float64 {
		if n == 1 {
			return padL + (chartW-padL-padR)/2
		}
		return padL + float64(i)*float64(chartW-padL-padR)/float64(n-1)
	}
	y := func(v float64) float64 { return chartH - padB - v/top*float64(chartH-padB-padT) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s over builds">`, chartW, chartH, template.HTMLEscapeString(unit))
	for _, f := range []float64{0, 0.5, 1} { // grid and y labels
		yy := y(top * f)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/><text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, yy, chartW-padR, yy, padL-6, yy+4, label(top*f))
	}
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="%d">#%d</text><text class="axis" x="%d" y="%d" text-anchor="end">#%d</text>`,
		padL, chartH-6, bs[0].Number, chartW-padR, chartH-6, bs[n-1].Number)
	for _, s := range ss {
		var pts []string
		for i, v := range s.Values {
			if !math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			}
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, s.Class, strings.Join(pts, " "))
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			fmt.Fprintf(&b, `<a href="/p/%s/b/%d" class="pt"><circle class="%s" cx="%.1f" cy="%.1f" r="3.5"><title>#%d %s: %s</title></circle></a>`,
				project, bs[i].Number, s.Class, x(i), y(v), bs[i].Number, s.Name, label(v))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated string above is a number, a class or a checked project name
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func label(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// sparkline draws the builds (oldest first) as a row of small bars coloured by status, each a link.
func sparkline(bs []baleen.Build) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %d 16" width="%d" height="16" aria-hidden="true">`, len(bs)*6, len(bs)*6)
	for i, bd := range bs {
		fmt.Fprintf(&b, `<a href="/p/%s/b/%d"><rect class="st-%s" x="%d" y="2" width="4" height="12"><title>#%d %s</title></rect></a>`,
			bd.Project, bd.Number, bd.Status, i*6, bd.Number, bd.Status)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

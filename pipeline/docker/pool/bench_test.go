package pool_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
)

// BenchmarkEightBuildsOnTwoEngines runs eight builds at once, each of a project of its own whose tests
// wait 5 seconds, on a pool of two engines with two slots each, and, as the baseline in the same run, the
// same eight on a pool of the first engine alone with two slots. It reports both and their ratio
// (x-one-engine; the goal is 0.6 or less: placement, not CPU, is what it measures).
func BenchmarkEightBuildsOnTwoEngines(b *testing.B) {
	var twoSched, oneSched *pipeline.Scheduler
	// The engines' default call deadline: eight builds at once on two cores make calls slow.
	two := newPoolServerOn(b, testPool(b, docker.DefaultCallTimeout, nil, pool.Config{
		"first":  {Host: firstHost(b), Slots: 2},
		"second": {Host: dockertest.SecondEngineHost(b), Slots: 2},
	}), 0, &twoSched)
	one := newPoolServerOn(b, testPool(b, docker.DefaultCallTimeout, nil, pool.Config{"first": {Host: firstHost(b), Slots: 2}}), 0, &oneSched)
	const spec = "build: {bench-app: .}\ntest: {command: [sh, -c, 'sleep 5']}\n"
	eight := func(sv *poolServer, i int, name string) time.Duration {
		projects := make([]string, 8)
		outs := make([]*dockertest.Buffer, 8)
		chans := make([]<-chan baleen.Build, 8)
		for k := range projects {
			projects[k], outs[k] = fmt.Sprintf("bench%d-%s-%d", i, name, k), &dockertest.Buffer{}
			sv.commit(projects[k], spec)
		}
		start := time.Now()
		for k, project := range projects {
			chans[k] = sv.start(project, outs[k])
		}
		for k, ch := range chans {
			if bd := waitBuild(b, ch, outs[k]); bd.Status != baleen.StatusPassed {
				b.Fatalf("%s: %s (%s); output:\n%s", bd.Project, bd.Status, bd.Message, outs[k].String())
			}
		}
		return time.Since(start)
	}
	var twoTime, oneTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		twoTime += eight(two, i, "two")
		oneTime += eight(one, i, "one")
	}
	b.StopTimer()
	b.ReportMetric(float64(twoTime.Nanoseconds())/float64(b.N), "two-engines-ns/8builds")
	b.ReportMetric(float64(oneTime.Nanoseconds())/float64(b.N), "one-engine-ns/8builds")
	b.ReportMetric(float64(twoTime)/float64(oneTime), "x-one-engine")
}

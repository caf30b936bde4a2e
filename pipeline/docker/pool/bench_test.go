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
// same eight on a pool of the first engine alone with two slots. It does so twice:
//
//   - with each engine on a CPU of its own (pinEngines), as two build machines of one core against one:
//     x-one-engine is that ratio, the one the goal (0.6 or less) is about, since what it measures is
//     placement;
//   - with both engines sharing every CPU of this machine: x-one-engine-shared-cpus, where the two-engine
//     run also pays for both engines' daemons starting containers on the same cores.
//
// When the engines cannot be pinned (fewer CPUs than engines, no permission), it says why and reports the
// shared figures alone.
func BenchmarkEightBuildsOnTwoEngines(b *testing.B) {
	var twoSched, oneSched *pipeline.Scheduler
	first, second := firstHost(b), dockertest.SecondEngineHost(b)
	// The engines' default call deadline: eight builds at once on two cores make calls slow.
	two := newPoolServerOn(b, testPool(b, docker.DefaultCallTimeout, nil, pool.Config{
		"first":  {Host: first, Slots: 2},
		"second": {Host: second, Slots: 2},
	}), 0, &twoSched)
	one := newPoolServerOn(b, testPool(b, docker.DefaultCallTimeout, nil, pool.Config{"first": {Host: first, Slots: 2}}), 0, &oneSched)
	ratio := func(round string) (twoTime, oneTime time.Duration) {
		for i := 0; i < b.N; i++ {
			twoTime += eightBuilds(b, two, fmt.Sprintf("%s%d-two", round, i))
			oneTime += eightBuilds(b, one, fmt.Sprintf("%s%d-one", round, i))
		}
		return twoTime, oneTime
	}
	report := func(suffix string, twoTime, oneTime time.Duration) {
		b.ReportMetric(float64(twoTime.Nanoseconds())/float64(b.N), "two-engines-ns/8builds"+suffix)
		b.ReportMetric(float64(oneTime.Nanoseconds())/float64(b.N), "one-engine-ns/8builds"+suffix)
		b.ReportMetric(float64(twoTime)/float64(oneTime), "x-one-engine"+suffix)
	}
	b.ResetTimer()
	twoTime, oneTime := ratio("s")
	report("-shared-cpus", twoTime, oneTime)
	if why := pinEngines(b, first, second); why != "" {
		b.Logf("engines not pinned to a CPU each, so no x-one-engine figure: %s", why)
		return
	}
	twoTime, oneTime = ratio("p")
	report("", twoTime, oneTime)
}

// eightBuilds starts eight builds at once on sv, each of a project of its own named after name, and
// returns how long it took until all eight had passed.
func eightBuilds(b *testing.B, sv *poolServer, name string) time.Duration {
	const spec = "build: {bench-app: .}\ntest: {command: [sh, -c, 'sleep 5']}\n"
	projects := make([]string, 8)
	outs := make([]*dockertest.Buffer, 8)
	chans := make([]<-chan baleen.Build, 8)
	for k := range projects {
		projects[k], outs[k] = fmt.Sprintf("bench-%s-%d", name, k), &dockertest.Buffer{}
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

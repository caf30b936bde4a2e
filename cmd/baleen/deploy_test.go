package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/deploy/hosttest"
	"github.com/baleen-ci/baleen/web/webtest"
	"github.com/chromedp/chromedp"
)

// webFiles is a repository whose image serves version at / (and "ok" at /health when healthy) on port 8000,
// deployed as the unit web on port 8080 of each host of the target prod.
func webFiles(version string, healthy bool) map[string]string {
	files := map[string]string{
		"Dockerfile": "FROM {{busybox}}\nCOPY www /www\n" +
			`CMD ["sh", "-c", "echo serving ` + version + `; httpd -f -p 8000 -h /www & pid=$!; trap 'kill $pid; exit 0' TERM; wait $pid"]` + "\n",
		"www/index.html": version + "\n",
		"baleen.yml": `build:
  e2e-web: .
test:
  command: [test, -f, /www/index.html]
deploy:
  target: prod
  units:
    web:
      image: e2e-web
      ports: ["127.0.0.1:8080:8000"]
      health: {http: "http://127.0.0.1:8080/health", timeout: 15s}
`,
	}
	if healthy {
		files["www/health"] = "ok\n"
	}
	return files
}

// TestServeDeploys: green pushes become units on two real systemd hosts, host by host; a broken release is
// rolled back on the first host and never reaches the second; deploy and rollback commands redeploy.
func TestServeDeploys(t *testing.T) {
	fleet := hosttest.Start(t, 2, hosttest.Options{})
	s := newServer(t)
	var hosts []string
	for _, h := range fleet.Hosts {
		hosts = append(hosts, fmt.Sprintf("%q", h.Addr))
	}
	config := filepath.Join(s.data, "config.yml")
	os.WriteFile(config, []byte(fmt.Sprintf("deploy_grace: 2s\nhttp:\n  listen: 127.0.0.1:0\n  public: true\ntargets:\n  prod:\n    user: root\n    identity: %s\n    known_hosts: %s\n    hosts: [%s]\n",
		fleet.Identity, fleet.KnownHosts, strings.Join(hosts, ", "))), 0o600)
	s.start("--config", config)
	serves := func(h hosttest.Host) string {
		probe := `exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3`
		out, err := fleet.Exec(t.Context(), h, "bash", "-c", probe)
		if err != nil {
			return "unreachable: " + err.Error()
		}
		_, body, _ := strings.Cut(out, "\r\n\r\n")
		return strings.TrimSpace(body)
	}
	wantServing := func(when, version string) {
		t.Helper()
		for _, h := range fleet.Hosts {
			if got := serves(h); got != version {
				t.Errorf("%s: host %s serves %q, want %q", when, h.Name, got, version)
			}
		}
	}

	r := s.newRepo(webFiles("v1", true))
	want(t, r.push(s.url("web"), "main"), 0, "remote: ==> deploy", "remote: release #1 of web: build #1 to prod", "remote: DEPLOYED")
	wantServing("after release #1", "v1")

	// A release whose health check fails: the first host goes back to v1, the second is never touched.
	r.write(webFiles("v2", false))
	r.git("rm", "-q", "www/health")
	r.commit("v2 without health")
	push := r.push(s.url("web"), "main")
	want(t, push, 1, "(build #2 failed: deploy)", fleet.Hosts[0].Addr)
	wantServing("after the broken release #2", "v1")
	rs := decodeReleases(t, s.ssh("releases", "web", "--json").stdout)
	if len(rs) != 2 || rs[0].Status != baleen.StatusFailed || rs[1].Status != baleen.StatusPassed {
		t.Fatalf("releases: got %+v, want #2 failed, #1 passed", rs)
	}
	if len(rs[0].Hosts) != 2 || rs[0].Hosts[0].Status != baleen.StatusFailed || rs[0].Hosts[1].Status == baleen.StatusPassed {
		t.Errorf("release #2 hosts: got %+v, want the first failed and the second untouched", rs[0].Hosts)
	}

	r.write(webFiles("v3", true))
	r.commit("v3")
	want(t, r.push(s.url("web"), "main"), 0, "release #3 of web: build #3", "DEPLOYED")
	wantServing("after release #3", "v3")

	// Rollback goes to the release before the current one that passed (#1); deploy redeploys a build.
	want(t, s.ssh("rollback", "web"), 0, "rolling web back to release #1 (build #1)", "release #4 of web: passed")
	wantServing("after the rollback", "v1")
	want(t, s.ssh("deploy", "web", "3"), 0, "release #5 of web: passed")
	wantServing("after deploy web 3", "v3")
	want(t, s.ssh("deploy", "web", "2"), 1, "build #2 of web is failed; only green builds deploy")

	want(t, s.ssh("releases", "web"), 0, "#5", "#4", "failed")
	want(t, s.ssh("status", "web"), 0, "release #5 (build #3) to prod: passed", fleet.Hosts[0].Addr+": baleen-web..web.service active (release #5, build #3)")
	want(t, s.ssh("logs", "web", "--unit", "web", "--host", fleet.Hosts[1].Addr), 0, "serving v3")
	want(t, s.ssh("logs", "web", "--unit", "nosuch"), 1, `deploys no unit "nosuch"`)
	// The releases page shows the same journal, per host, for the current release: in the raw HTML, and
	// in a real browser once a host's journal is opened.
	m := webAddr.FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("the web side did not start:\n%s", s.log.String())
	}
	resp, err := http.Get("http://" + m[1] + "/p/web/releases")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, h := range fleet.Hosts {
		if !strings.Contains(string(page), `data-host="`+h.Addr+`"`) {
			t.Errorf("the releases page shows no journal for host %s", h.Addr)
		}
	}
	if !strings.Contains(string(page), "serving v3") {
		t.Errorf("the releases page does not show the unit's journal (serving v3):\n%s", page)
	}
	browseJournal(t, "http://"+m[1]+"/p/web/releases", fleet.Hosts[1].Addr, "serving v3")

	// The server dies in the middle of a rollout: after a restart the release is interrupted, the first host
	// runs the old or the new release (never none), the second the old one, and the next deploy repairs all.
	gated := webFiles("v4", true)
	gated["baleen.yml"] = strings.Replace(gated["baleen.yml"], `health: {http: "http://127.0.0.1:8080/health", timeout: 15s}`,
		`health: {command: [test, -f, /tmp/gate-v4], timeout: 5m}`, 1)
	r.write(gated)
	r.commit("v4, gated")
	cmd, stderr := r.startPush(s.url("web"), "main")
	waitLine(t, stderr, "starting baleen-web..web.service")
	s.stop(syscall.SIGKILL)
	cmd.Wait()
	s.start("--config", config)
	rs = decodeReleases(t, s.ssh("releases", "web", "--json").stdout)
	if rs[0].Number != 6 || rs[0].Status != baleen.StatusInterrupted {
		t.Errorf("after kill -9 mid-rollout: latest release %+v, want #6 interrupted", rs[0])
	}
	if got := serves(fleet.Hosts[0]); got != "v3" && got != "v4" {
		t.Errorf("first host after the interrupted rollout serves %q, want v3 or v4", got)
	}
	if got := serves(fleet.Hosts[1]); got != "v3" {
		t.Errorf("second host after the interrupted rollout serves %q, want v3", got)
	}
	want(t, s.ssh("deploy", "web", "3"), 0, "release #7 of web: passed")
	wantServing("after redeploying build 3", "v3")
}

func decodeReleases(t *testing.T, s string) []baleen.Release {
	t.Helper()
	var rs []baleen.Release
	if err := json.Unmarshal([]byte(s), &rs); err != nil {
		t.Fatalf("releases --json: %v\n%s", err, s)
	}
	return rs
}

// browseJournal opens the releases page at url in a real browser, opens host's unit journal of the newest
// release with a click, and checks that the journal shown holds want.
func browseJournal(t *testing.T, url, host, want string) {
	t.Helper()
	ctx := webtest.Browser(t)
	sel := `table tbody tr:first-child details.unit-journal[data-host="` + host + `"]`
	var open bool
	var text string
	webtest.Run(t, ctx, "releases page", chromedp.Navigate(url),
		chromedp.Click(sel+" summary", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector(`+strconv.Quote(sel)+`).open`, &open),
		chromedp.Text(sel+" pre.journal", &text, chromedp.ByQuery))
	if !open || !strings.Contains(text, want) {
		t.Fatalf("releases page in the browser: %s's journal open %v, shows %q; want it open with %q", host, open, text, want)
	}
	webtest.Screenshot(t, ctx, "releases-journal")
}

package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
)

// TestDashboardBranchesAgreeWithAPI checks that the dashboard and /api/v1 show the same branches: a branch
// whose newest build is older than the dashboard's recent builds, but within api.BranchWindow, is on both.
func TestDashboardBranchesAgreeWithAPI(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "feature", baleen.StatusPassed, nil, "")
	for range recentShown + 5 {
		f.build("api", "main", baleen.StatusPassed, nil, "")
	}
	secret, _, err := CreateToken(t.Context(), f.st, baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := f.client("rita")
	resp, body := get(t, c, f.ts.URL+"/api/v1/projects/api", "Authorization", "Bearer "+secret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("project JSON: got %s:\n%s", resp.Status, body)
	}
	var p api.Project
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("project JSON: %v\n%s", err, body)
	}
	_, page := get(t, c, f.ts.URL+"/")
	if len(p.Branches) != 2 {
		t.Fatalf("API branches: got %+v, want main and feature", p.Branches)
	}
	for _, b := range p.Branches {
		link := `href="/p/api/b/` + itoa(b.Number) + `">` + b.Branch + " #" + itoa(b.Number) + "<"
		if !strings.Contains(page, link) {
			t.Errorf("dashboard lacks branch %s #%d that the API shows (want %s)", b.Branch, b.Number, link)
		}
	}
}

package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/baleen-ci/baleen"
)

// write creates the file name under dir, with its parent directories, and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sample returns the content of a file in testdata.
func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ptr(f float64) *float64 { return &f }

// ignoreOutput leaves the long failure outputs out of report comparisons; TestJUnitOutput checks them.
var ignoreOutput = cmp.Options{cmpopts.IgnoreFields(baleen.TestFailure{}, "Output"), ignoreCases}

// ignoreCases leaves the case lists out of report comparisons; TestJUnitCases checks them.
var ignoreCases = cmpopts.IgnoreFields(baleen.TestReport{}, "Cases")

func TestReadDirectory(t *testing.T) {
	dir := t.TempDir()
	outside := write(t, t.TempDir(), "outside.xml", sample(t, "go-junit-report.xml"))
	reports := filepath.Join(dir, "reports")
	write(t, reports, "pytest.xml", sample(t, "pytest.xml"))
	write(t, reports, "broken.xml", `<testsuite><testcase name="x">`)
	write(t, reports, "a/b/TEST-com.example.AppTest.xml", sample(t, "TEST-com.example.AppTest.xml"))
	write(t, reports, "a/JEST.XML", sample(t, "jest-junit.xml"))
	write(t, reports, "a/notes.txt", "not a report")
	write(t, reports, "a/report.xml.bak", "<not-read/>")
	// A symbolic link is not followed: a report cannot point the reader at files outside its directory.
	if err := os.Symlink(outside, filepath.Join(reports, "link.xml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(reports, "linkdir")); err != nil {
		t.Fatal(err)
	}

	got := Read([]string{reports}, nil)

	want := &baleen.TestReport{
		Passed: 2 + 1 + 2, Failed: 2 + 1 + 2, Skipped: 1 + 1 + 1,
		Failures: []baleen.TestFailure{ // lexical order of the paths: a/JEST.XML, a/b/TEST-..., pytest.xml
			{Name: "math divides", Message: "Error: expect(received).toBe(expected) // Object.is equality"},
			{Name: "com.example.AppTest.dividesNumbers", Message: "expected: <2> but was: <3>"},
			{Name: "com.example.AppTest.readsConfig", Message: `java.lang.NullPointerException: Cannot invoke "String.length()" because "s" is null`},
			{Name: "tests.test_math.test_div[1-0]", Message: "ZeroDivisionError: division by zero"},
			{Name: "tests.test_db.test_query", Message: `failed on setup with "fixture 'db' not found"`},
		},
		Warnings: []string{
			"test report " + filepath.Join(reports, "broken.xml") + ": XML syntax error on line 1: unexpected EOF",
		},
	}
	if diff := cmp.Diff(want, got, ignoreOutput); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	junit := write(t, dir, "junit.xml", `<testsuite><testcase name="a"/><testcase name="b"><failure/></testcase></testsuite>`)
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.xml")

	tests := []struct {
		name  string
		xunit []string
		want  *baleen.TestReport
	}{
		{
			name: "none",
			want: &baleen.TestReport{},
		},
		{
			name:  "a file",
			xunit: []string{junit},
			want:  &baleen.TestReport{Passed: 1, Failed: 1, Failures: []baleen.TestFailure{{Name: "b"}}},
		},
		{
			name:  "a file named twice, once through its directory",
			xunit: []string{junit, dir, dir + "/./junit.xml"},
			want:  &baleen.TestReport{Passed: 1, Failed: 1, Failures: []baleen.TestFailure{{Name: "b"}}},
		},
		{
			name:  "missing path",
			xunit: []string{missing, junit},
			want: &baleen.TestReport{Passed: 1, Failed: 1, Failures: []baleen.TestFailure{{Name: "b"}},
				Warnings: []string{"test report " + missing + ": no such file or directory"}},
		},
		{
			name:  "empty directory",
			xunit: []string{empty},
			want:  &baleen.TestReport{Warnings: []string{"test report " + empty + ": no *.xml files in the directory"}},
		},
		{
			name:  "not a regular file",
			xunit: []string{os.DevNull},
			want:  &baleen.TestReport{Warnings: []string{"test report " + os.DevNull + ": not a regular file or a directory"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Read(tt.xunit, nil)
			if diff := cmp.Diff(tt.want, got, ignoreCases); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadCoverage(t *testing.T) {
	dir := t.TempDir()
	py := write(t, dir, "py/coverage.xml", sample(t, "coverage-py.xml"))          // 7 of 10
	gocov := write(t, dir, "go/coverage.xml", sample(t, "gocover-cobertura.xml")) // 4 of 6
	rate := write(t, dir, "rate/coverage.xml", `<coverage line-rate="0.5"/>`)     // 5000 of 10000
	zero := write(t, dir, "zero/coverage.xml", `<coverage lines-covered="0" lines-valid="0"/>`)
	broken := write(t, dir, "broken/coverage.xml", `<coverage lines-covered="3"`)
	junit := write(t, dir, "junit/junit.xml", `<testsuite><testcase name="a"/></testsuite>`)

	tests := []struct {
		name     string
		coverage []string
		want     *float64
		warnings []string
	}{
		{name: "no coverage files", want: nil},
		{name: "one file", coverage: []string{py}, want: ptr(70)},
		{name: "lines summed across files, not percentages averaged", coverage: []string{py, gocov}, want: ptr(100 * 11.0 / 16)},
		{name: "a directory of them", coverage: []string{dir + "/py", dir + "/go"}, want: ptr(100 * 11.0 / 16)},
		{name: "rate-only file weighs its scale", coverage: []string{py, rate}, want: ptr(100 * 5007.0 / 10010)},
		{name: "a file with no lines adds nothing", coverage: []string{gocov, zero}, want: ptr(100 * 4.0 / 6)},
		{
			name: "only files with no lines", coverage: []string{zero}, want: nil,
			warnings: []string{"coverage reports: no lines counted, so no coverage"},
		},
		{
			name: "malformed file skipped", coverage: []string{broken, gocov}, want: ptr(100 * 4.0 / 6),
			warnings: []string{"coverage report " + broken + ": XML syntax error on line 1: unexpected EOF"},
		},
		{
			name: "a JUnit report given as coverage", coverage: []string{junit}, want: nil,
			warnings: []string{"coverage report " + junit + ": root element is <testsuite>, want <coverage>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Read(nil, tt.coverage)
			if diff := cmp.Diff(tt.want, got.Coverage, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("Coverage mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, got.Warnings); diff != "" {
				t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
			}
			if got.Total() != 0 {
				t.Errorf("got %d tests from coverage files, want 0", got.Total())
			}
		})
	}
}

func TestReadTooManyFailures(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.xml", `<testsuite>`+strings.Repeat(`<testcase name="t"><failure/></testcase>`, MaxFailures-1)+`</testsuite>`)
	write(t, dir, "b.xml", `<testsuite>`+strings.Repeat(`<testcase name="u"><failure/></testcase>`, 3)+`</testsuite>`)
	got := Read([]string{dir}, nil)
	if got.Failed != MaxFailures+2 || len(got.Failures) != MaxFailures {
		t.Errorf("got %d failed, %d listed; want %d failed, %d listed", got.Failed, len(got.Failures), MaxFailures+2, MaxFailures)
	}
	want := []string{"test reports: 2 more failed tests not listed (the first 500 are)"}
	if diff := cmp.Diff(want, got.Warnings); diff != "" {
		t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
	}
}

func TestReadSizeCap(t *testing.T) {
	dir := t.TempDir()
	doc := `<testsuite><testcase name="a"/></testsuite>`
	fits := write(t, dir, "fits.xml", doc)
	over := write(t, dir, "over.xml", doc+" ")
	limit := int64(len(doc))

	got := read([]string{fits, over}, []string{over}, limit)
	msg := fmt.Sprintf(": larger than the %d-byte limit, not read", limit)
	want := &baleen.TestReport{Passed: 1, Warnings: []string{"test report " + over + msg, "coverage report " + over + msg}}
	if diff := cmp.Diff(want, got, ignoreCases); diff != "" {
		t.Errorf("read mismatch (-want +got):\n%s", diff)
	}
}

// TestReadFileStreamCap checks the cap holds for a file whose size Stat does not tell: an endless device
// stands in for a file that grows while it is read.
func TestReadFileStreamCap(t *testing.T) {
	var n int64
	err := readFile("/dev/zero", 1<<20, func(rd io.Reader) error {
		var err error
		n, err = io.Copy(io.Discard, rd)
		return err
	})
	if err == nil || err.Error() != "larger than the 1 MiB limit, not read" {
		t.Errorf("got error %v, want %q", err, "larger than the 1 MiB limit, not read")
	}
	if n > 1<<20 {
		t.Errorf("got %d bytes read, want at most %d", n, 1<<20)
	}
}

func TestReadDefaultCap(t *testing.T) {
	if got, want := tooLarge(MaxReportSize).Error(), "larger than the 64 MiB limit, not read"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

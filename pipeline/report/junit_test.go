package report

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
)

func TestJUnitSamples(t *testing.T) {
	tests := []struct {
		file string
		want baleen.TestReport
	}{
		{"pytest.xml", baleen.TestReport{Passed: 2, Failed: 2, Skipped: 1, Failures: []baleen.TestFailure{
			{Name: "tests.test_math.test_div[1-0]", Message: "ZeroDivisionError: division by zero"},
			{Name: "tests.test_db.test_query", Message: `failed on setup with "fixture 'db' not found"`},
		}}},
		{"TEST-com.example.AppTest.xml", baleen.TestReport{Passed: 2, Failed: 2, Skipped: 1, Failures: []baleen.TestFailure{
			{Name: "com.example.AppTest.dividesNumbers", Message: "expected: <2> but was: <3>"},
			// No message attribute: the first line of the stack trace stands in.
			{Name: "com.example.AppTest.readsConfig", Message: `java.lang.NullPointerException: Cannot invoke "String.length()" because "s" is null`},
		}}},
		{"go-junit-report.xml", baleen.TestReport{Passed: 3, Failed: 1, Skipped: 1, Failures: []baleen.TestFailure{
			{Name: "github.com/acme/app.TestDiv", Message: "Failed"},
		}}},
		{"jest-junit.xml", baleen.TestReport{Passed: 1, Failed: 1, Skipped: 1, Failures: []baleen.TestFailure{
			{Name: "math divides", Message: "Error: expect(received).toBe(expected) // Object.is equality"},
		}}},
		{"nested.xml", baleen.TestReport{Passed: 1, Failed: 3, Failures: []baleen.TestFailure{
			{Name: "inner.deep", Message: "boom"},
			{Name: "inner.deeper", Message: "first line of the text"},
			{Name: "outer.after"},
		}}},
		{"latin1.xml", baleen.TestReport{Failed: 1, Failures: []baleen.TestFailure{
			{Name: "Crème.brûlée", Message: "got «1», want «2»"},
		}}},
		{"bom.xml", baleen.TestReport{Passed: 1, Skipped: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var got baleen.TestReport
			if err := JUnit(f, &got); err != nil {
				t.Fatalf("JUnit: got error %v, want none", err)
			}
			// Output is long and checked in TestJUnitOutput.
			if diff := cmp.Diff(tt.want, got, ignoreOutput); diff != "" {
				t.Errorf("report mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJUnitOutput(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{
			name: "cdata stack trace",
			doc: `<testsuite><testcase classname="A" name="b"><failure message="m"><![CDATA[
  at A.b(A.java:1)
  at A.main(A.java:9)
]]></failure><system-out>not this</system-out></testcase></testsuite>`,
			want: "at A.b(A.java:1)\n  at A.main(A.java:9)",
		},
		{
			name: "escaped text",
			doc:  `<testsuite><testcase name="t"><error>a &lt; b &amp;&amp; c</error></testcase></testsuite>`,
			want: "a < b && c",
		},
		{
			name: "no text",
			doc:  `<testsuite><testcase name="t"><failure message="m"/></testcase></testsuite>`,
			want: "",
		},
		{
			name: "cut short on a rune boundary",
			doc:  `<testsuite><testcase name="t"><failure>` + "x" + strings.Repeat("é", MaxOutput) + `</failure></testcase></testsuite>`,
			want: "x" + strings.Repeat("é", (MaxOutput-1)/2) + "\n… (cut)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r baleen.TestReport
			if err := JUnit(strings.NewReader(tt.doc), &r); err != nil {
				t.Fatalf("JUnit: got error %v, want none", err)
			}
			if len(r.Failures) != 1 {
				t.Fatalf("got %d failures, want 1", len(r.Failures))
			}
			if got := r.Failures[0].Output; got != tt.want {
				t.Errorf("Output: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJUnitNames(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"classname and name", `<testsuite name="s"><testcase classname="pkg.Class" name="test"><failure/></testcase></testsuite>`, "pkg.Class.test"},
		{"suite for missing classname", `<testsuite name="s"><testcase name="test"><failure/></testcase></testsuite>`, "s.test"},
		{"innermost named suite", `<testsuites name="all"><testsuite name="s"><testsuite><testcase name="test"><failure/></testcase></testsuite></testsuite></testsuites>`, "s.test"},
		{"no suite name", `<testsuite><testcase name="test"><failure/></testcase></testsuite>`, "test"},
		{"same classname and name", `<testsuite name="s"><testcase classname="adds two" name="adds two"><failure/></testcase></testsuite>`, "adds two"},
		{"no name", `<testsuite><testcase classname="pkg.Class"><failure/></testcase></testsuite>`, "pkg.Class"},
		{"nothing at all", `<testsuite><testcase><failure/></testcase></testsuite>`, "(unnamed test)"},
		{"spaces trimmed", `<testsuite><testcase classname=" C " name=" t "><failure/></testcase></testsuite>`, "C.t"},
		{"namespaced elements", `<j:testsuite xmlns:j="urn:x" name="s"><j:testcase name="t"><j:failure/></j:testcase></j:testsuite>`, "s.t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r baleen.TestReport
			if err := JUnit(strings.NewReader(tt.doc), &r); err != nil {
				t.Fatalf("JUnit: got error %v, want none", err)
			}
			if len(r.Failures) != 1 {
				t.Fatalf("got %d failures, want 1", len(r.Failures))
			}
			if got := r.Failures[0].Name; got != tt.want {
				t.Errorf("Name: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJUnitMessage(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"attribute", `<testsuite><testcase name="t"><failure message=" got 1, want 2 ">trace</failure></testcase></testsuite>`, "got 1, want 2"},
		{"first line of text", "<testsuite><testcase name=\"t\"><failure>\n\n  line one  \nline two</failure></testcase></testsuite>", "line one"},
		{"failure before error", `<testsuite><testcase name="t"><error message="e"/><failure message="f"/></testcase></testsuite>`, "f"},
		{"long attribute cut", `<testsuite><testcase name="t"><failure message="` + strings.Repeat("m", MaxMessage+1) + `"/></testcase></testsuite>`, strings.Repeat("m", MaxMessage) + "\n… (cut)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r baleen.TestReport
			if err := JUnit(strings.NewReader(tt.doc), &r); err != nil {
				t.Fatalf("JUnit: got error %v, want none", err)
			}
			if len(r.Failures) != 1 {
				t.Fatalf("got %d failures, want 1", len(r.Failures))
			}
			if got := r.Failures[0].Message; got != tt.want {
				t.Errorf("Message: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJUnitAddsToReport(t *testing.T) {
	r := baleen.TestReport{Passed: 1, Failed: 1, Failures: []baleen.TestFailure{{Name: "earlier"}}}
	doc := `<testsuite><testcase name="a"/><testcase name="b"><failure/></testcase><testcase name="c"><skipped/></testcase></testsuite>`
	if err := JUnit(strings.NewReader(doc), &r); err != nil {
		t.Fatalf("JUnit: got error %v, want none", err)
	}
	want := baleen.TestReport{Passed: 2, Failed: 2, Skipped: 1, Failures: []baleen.TestFailure{{Name: "earlier"}, {Name: "b"}}}
	if diff := cmp.Diff(want, r, ignoreCases); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
}

func TestJUnitMaxFailures(t *testing.T) {
	r := baleen.TestReport{Failures: make([]baleen.TestFailure, MaxFailures-2), Failed: MaxFailures - 2}
	doc := `<testsuite>` + strings.Repeat(`<testcase name="t"><failure/></testcase>`, 5) + `</testsuite>`
	if err := JUnit(strings.NewReader(doc), &r); err != nil {
		t.Fatalf("JUnit: got error %v, want none", err)
	}
	if r.Failed != MaxFailures+3 {
		t.Errorf("Failed: got %d, want %d", r.Failed, MaxFailures+3)
	}
	if len(r.Failures) != MaxFailures {
		t.Errorf("len(Failures): got %d, want %d", len(r.Failures), MaxFailures)
	}
}

func TestJUnitInvalid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // in the error message
	}{
		{"empty", ``, "no root element"},
		{"only a declaration", `<?xml version="1.0"?>`, "no root element"},
		{"truncated", `<testsuite><testcase name="a"/><testcase name="b">`, "unexpected EOF"},
		{"mismatched tags", `<testsuite><testcase name="a"></testsuite>`, "syntax error"},
		{"not xml", `{"tests": 3}`, "no root element"},
		{"wrong root", `<coverage line-rate="1"/>`, "root element is <coverage>, want <testsuites>, <testsuite> or <testrun>"},
		{"unclosed attribute", `<testsuite><testcase name="a/></testsuite>`, "syntax error"},
		{"undefined entity", `<testsuite><testcase name="&nope;"/></testsuite>`, "invalid character entity &nope;"},
		{"utf-16 le", "\xff\xfe<\x00t\x00", "UTF-16 is not supported"},
		{"utf-16 be", "\xfe\xff\x00<\x00t", "UTF-16 is not supported"},
		{"unsupported encoding", `<?xml version="1.0" encoding="Shift_JIS"?><testsuite/>`, `encoding "Shift_JIS" is not supported`},
		{"invalid utf-8", "<testsuite name=\"\xff\"/>", "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baleen.TestReport{Passed: 7}
			err := JUnit(strings.NewReader(tt.doc), &r)
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatalf("got error %v, want one matching baleen.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
			if diff := cmp.Diff(baleen.TestReport{Passed: 7}, r); diff != "" {
				t.Errorf("report changed on error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestJUnitEntities stops XML entity attacks: a "billion laughs" document must not expand, and an external
// entity must not read a local file into the report.
func TestJUnitEntities(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("TOPSECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	// encoding/xml reads a DTD as an opaque directive and knows only the five predefined entities: a
	// reference to a declared entity is an undefined-entity error, and a DTD without references is ignored.
	tests := []struct {
		name    string
		doc     string
		wantErr bool
	}{
		{"billion laughs", `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<testsuite><testcase name="t"><failure message="&lol4;">&lol4;</failure></testcase></testsuite>`, true},
		{"external entity", `<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM "file://` + secret + `">]>
<testsuite><testcase name="t"><failure message="&xxe;">&xxe;</failure></testcase></testsuite>`, true},
		{"parameter entity", `<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY % p SYSTEM "file://` + secret + `"> %p;]>
<testsuite><testcase name="t"><failure>x</failure></testcase></testsuite>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r baleen.TestReport
			err := JUnit(strings.NewReader(tt.doc), &r)
			for _, f := range r.Failures {
				if strings.Contains(f.Message+f.Output, "TOPSECRET") || strings.Contains(f.Message+f.Output, "lollol") {
					t.Errorf("got failure %+v, want no expanded entity in it", f)
				}
			}
			switch {
			case tt.wantErr && !errors.Is(err, baleen.ErrInvalid):
				t.Errorf("got error %v, want one matching baleen.ErrInvalid", err)
			case !tt.wantErr && err != nil:
				t.Errorf("got error %v, want none", err)
			case !tt.wantErr && r.Failed != 1:
				t.Errorf("got %d failed tests, want 1", r.Failed)
			}
		})
	}
}

func TestJUnitReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	tests := []struct {
		name string
		rd   io.Reader
	}{
		{"at once", iotest.ErrReader(boom)},
		{"midway", io.MultiReader(strings.NewReader(`<testsuite><testcase name="a"/>`), iotest.ErrReader(boom))},
		{"midway through latin-1", io.MultiReader(strings.NewReader(`<?xml version="1.0" encoding="latin1"?><testsuite>`), iotest.ErrReader(boom))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r baleen.TestReport
			err := JUnit(tt.rd, &r)
			if !errors.Is(err, boom) || errors.Is(err, baleen.ErrInvalid) {
				t.Errorf("got error %v, want %v and not baleen.ErrInvalid", err, boom)
			}
		})
	}
}

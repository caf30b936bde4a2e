package report

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
)

// TestJUnitVariants reads the shapes that used to be misread: disabled tests, Eclipse's <testrun>, empty
// reports and suite headers that disagree with their cases.
func TestJUnitVariants(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want baleen.TestReport
	}{
		{
			// ctest writes a disabled test with status="disabled" and no <skipped/>: it never ran.
			name: "ctest disabled and notrun",
			doc: `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="Linux-c++" tests="4" failures="1" disabled="1" skipped="1" hostname="" time="0" timestamp="2024-05-01T10:00:00">
	<testcase name="adds" classname="adds" time="0.002" status="run"><system-out>ok</system-out></testcase>
	<testcase name="divides" classname="divides" time="0.003" status="fail"><failure message="Failed"/></testcase>
	<testcase name="old" classname="old" time="0" status="disabled"><system-out>Disabled</system-out></testcase>
	<testcase name="missing" classname="missing" time="0" status="notrun"><system-out></system-out></testcase>
</testsuite>`,
			want: baleen.TestReport{Passed: 1, Failed: 1, Skipped: 2,
				Failures: []baleen.TestFailure{{Name: "divides", Message: "Failed"}},
				Cases: []baleen.TestCase{
					{Name: "adds", Outcome: baleen.TestPassed, Duration: 2 * time.Millisecond},
					{Name: "divides", Outcome: baleen.TestFailed, Duration: 3 * time.Millisecond},
					{Name: "old", Outcome: baleen.TestSkipped},
					{Name: "missing", Outcome: baleen.TestSkipped},
				}},
		},
		{
			name: "eclipse testrun",
			doc: `<?xml version="1.0" encoding="UTF-8"?>
<testrun name="AllTests" project="calc" tests="3" started="3" failures="1" errors="0" ignored="1">
  <testsuite name="com.acme.CalcTest" time="0.031">
    <testcase name="adds" classname="com.acme.CalcTest" time="0.001"/>
    <testcase name="divides" classname="com.acme.CalcTest" time="0.02"><failure>java.lang.AssertionError: expected:&lt;2&gt; but was:&lt;3&gt;
	at com.acme.CalcTest.divides(CalcTest.java:14)</failure></testcase>
    <testcase name="later" classname="com.acme.CalcTest" time="0.0" ignored="true"/>
  </testsuite>
</testrun>`,
			want: baleen.TestReport{Passed: 1, Failed: 1, Skipped: 1,
				Failures: []baleen.TestFailure{{Name: "com.acme.CalcTest.divides", Message: "java.lang.AssertionError: expected:<2> but was:<3>"}},
				Cases: []baleen.TestCase{
					{Name: "com.acme.CalcTest.adds", Outcome: baleen.TestPassed, Duration: time.Millisecond},
					{Name: "com.acme.CalcTest.divides", Outcome: baleen.TestFailed, Duration: 20 * time.Millisecond},
					{Name: "com.acme.CalcTest.later", Outcome: baleen.TestSkipped},
				}},
		},
		{
			name: "empty suite",
			doc:  `<testsuites><testsuite name="pytest" tests="0" failures="0" errors="0"/></testsuites>`,
			want: baleen.TestReport{},
		},
		{
			name: "header claims more than it holds",
			doc: `<testsuites tests="7" failures="2"><testsuite name="unit" tests="5" failures="1" errors="1">
				<testcase name="a"/><testcase name="b"><failure/></testcase></testsuite></testsuites>`,
			want: baleen.TestReport{Passed: 1, Failed: 1,
				Failures: []baleen.TestFailure{{Name: "unit.b"}},
				Cases:    []baleen.TestCase{{Name: "unit.a", Outcome: baleen.TestPassed}, {Name: "unit.b", Outcome: baleen.TestFailed}},
				Warnings: []string{
					`suite unit: header says tests="5", failures+errors=2 but it holds 2 test cases, 1 failed; counted the test cases`,
					`suite (unnamed): header says tests="7", failures+errors=2 but it holds 2 test cases, 1 failed; counted the test cases`,
				}},
		},
		{
			name: "durations read leniently",
			doc:  `<testsuite><testcase name="a" time="1,234.5"/><testcase name="b" time="-3"/><testcase name="c" time="soon"/><testcase name="d" time="0,012"/></testsuite>`,
			want: baleen.TestReport{Passed: 4, Cases: []baleen.TestCase{
				{Name: "a", Outcome: baleen.TestPassed, Duration: 1234500 * time.Millisecond},
				{Name: "b", Outcome: baleen.TestPassed},
				{Name: "c", Outcome: baleen.TestPassed},
				{Name: "d", Outcome: baleen.TestPassed, Duration: 12 * time.Millisecond},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got baleen.TestReport
			if err := JUnit(strings.NewReader(tt.doc), &got); err != nil {
				t.Fatalf("JUnit: got error %v, want none", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Options{ignoreOutput[0]}); diff != "" {
				t.Errorf("report mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJUnitMaxCases(t *testing.T) {
	r := baleen.TestReport{Cases: make([]baleen.TestCase, MaxCases-1)}
	doc := `<testsuite>` + strings.Repeat(`<testcase name="t"/>`, 3) + `</testsuite>`
	if err := JUnit(strings.NewReader(doc), &r); err != nil {
		t.Fatalf("JUnit: got error %v, want none", err)
	}
	if r.Passed != 3 || len(r.Cases) != MaxCases {
		t.Errorf("got %d passed and %d cases, want 3 and %d", r.Passed, len(r.Cases), MaxCases)
	}
}

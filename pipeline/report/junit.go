package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
)

// Limits on what one failure keeps, so that a report cannot bloat the stored build.
const (
	// MaxOutput caps a failure's Output (the element text: a stack trace, an assertion diff), in bytes.
	MaxOutput = 4 << 10
	// MaxMessage caps a failure's Message, in bytes.
	MaxMessage = 1 << 10
	// MaxFailures caps the failures listed in a TestReport; further failed tests are counted, not listed.
	MaxFailures = 500
	// MaxCases caps the test cases a TestReport lists for the test history; further ones are counted.
	MaxCases = 50_000
	// maxSuiteWarnings caps the warnings about suite totals one document adds.
	maxSuiteWarnings = 5
)

// xmlCase is one <testcase>. Surefire's <flakyFailure> and <rerunFailure> are left out on purpose: they
// record attempts of a test that passed in the end.
type xmlCase struct {
	Name      string      `xml:"name,attr"`
	Classname string      `xml:"classname,attr"`
	Time      string      `xml:"time,attr"`
	Status    string      `xml:"status,attr"`
	Ignored   string      `xml:"ignored,attr"`
	Failures  []xmlResult `xml:"failure"`
	Errors    []xmlResult `xml:"error"`
	Skipped   []xmlResult `xml:"skipped"`
}

// xmlResult is a <failure>, <error> or <skipped> element.
type xmlResult struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// suite is an open <testsuite>, <testsuites> or <testrun> element: its name, what its header claims and
// what its test cases, nested suites included, turned out to be.
type suite struct {
	name                 string
	tests, failed        string // the header's tests attribute and failures+errors, "" when absent
	gotTests, gotFailed  int
	hasTests, hasFailure bool
}

// JUnit parses one JUnit/xUnit XML document (a <testsuites> root, a single <testsuite>, Eclipse's
// <testrun>; pytest's, Maven Surefire's, go-junit-report's, Jest's, ctest's shapes) and adds its tests to r.
//
// Every <testcase> counts once, however deeply its suites nest: failed when it holds a <failure> or an
// <error>, else skipped when it holds a <skipped>, is marked status="disabled" or "notrun" (ctest) or
// ignored="true" (Eclipse), else passed. A failure is named "classname.name" (the innermost suite's name
// stands in for a missing classname) and keeps the message attribute, or else the first line of the
// element's text, as Message and the text, cut to MaxOutput, as Output. Past MaxFailures failures in r,
// failed tests are counted but not listed. Every case is also listed in r.Cases, up to MaxCases, with its
// time attribute as Duration.
//
// The test cases are the truth: a suite whose header's tests or failures+errors totals disagree with the
// cases it holds adds a warning and is counted by its cases.
//
// The document is read as a stream, one test case at a time, and whole before r changes: on error r is
// left as it was. A document that is not well-formed XML, or whose root is none of the three, is an error
// matching baleen.ErrInvalid; an error reading rd comes back as it is.
func JUnit(rd io.Reader, r *baleen.TestReport) error {
	d, err := newDecoder(rd)
	if err != nil {
		return err
	}
	var (
		got    baleen.TestReport
		suites []suite // the enclosing suite elements, outermost first
		root   bool    // whether the root element has been seen
		room   = MaxFailures - len(r.Failures)
		cases  = MaxCases - len(r.Cases)
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d.fail(err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if !root {
				root = true
				if !isSuite(el.Name.Local) {
					return invalid(fmt.Errorf("root element is <%s>, want <testsuites>, <testsuite> or <testrun>", el.Name.Local))
				}
			}
			switch {
			case isSuite(el.Name.Local):
				suites = append(suites, openSuite(el))
			case el.Name.Local == "testcase":
				var c xmlCase
				if err := d.DecodeElement(&c, &el); err != nil {
					return d.fail(err)
				}
				failed := addCase(&got, c, innermost(suites), room, cases)
				for i := range suites {
					suites[i].gotTests++
					if failed {
						suites[i].gotFailed++
					}
				}
			}
		case xml.EndElement:
			// The decoder is strict, so end elements match their starts and the stack stays in step.
			if isSuite(el.Name.Local) {
				if w := suites[len(suites)-1].mismatch(); w != "" && len(got.Warnings) < maxSuiteWarnings {
					got.Warnings = append(got.Warnings, w)
				}
				suites = suites[:len(suites)-1]
			}
		}
	}
	if !root {
		return invalid(errors.New("no root element"))
	}
	r.Passed += got.Passed
	r.Failed += got.Failed
	r.Skipped += got.Skipped
	r.Failures = append(r.Failures, got.Failures...)
	r.Cases = append(r.Cases, got.Cases...)
	r.Warnings = append(r.Warnings, got.Warnings...)
	return nil
}

// isSuite reports whether an element groups test cases.
func isSuite(local string) bool {
	return local == "testsuites" || local == "testsuite" || local == "testrun"
}

// openSuite reads a suite element's name and header totals.
func openSuite(el xml.StartElement) suite {
	name, _ := attr(el, "name")
	s := suite{name: strings.TrimSpace(name)}
	if t, ok := attr(el, "tests"); ok {
		s.tests, s.hasTests = strings.TrimSpace(t), true
	}
	f, okf := attr(el, "failures")
	e, oke := attr(el, "errors")
	if okf || oke {
		nf, errf := atoiOr0(f)
		ne, erre := atoiOr0(e)
		if errf == nil && erre == nil {
			s.failed, s.hasFailure = strconv.Itoa(nf+ne), true
		}
	}
	return s
}

// atoiOr0 reads a whole number, "" as 0.
func atoiOr0(s string) (int, error) {
	if s = strings.TrimSpace(s); s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

// mismatch says how the suite's header disagrees with its test cases, or "" when it does not.
func (s suite) mismatch() string {
	testsOK := !s.hasTests || s.tests == strconv.Itoa(s.gotTests)
	failedOK := !s.hasFailure || s.failed == strconv.Itoa(s.gotFailed)
	if testsOK && failedOK {
		return ""
	}
	name := s.name
	if name == "" {
		name = "(unnamed)"
	}
	var says []string
	if s.hasTests {
		says = append(says, "tests="+strconv.Quote(s.tests))
	}
	if s.hasFailure {
		says = append(says, "failures+errors="+s.failed)
	}
	return fmt.Sprintf("suite %s: header says %s but it holds %d test cases, %d failed; counted the test cases",
		name, strings.Join(says, ", "), s.gotTests, s.gotFailed)
}

// addCase counts c in r, lists it in r.Cases while there are fewer than cases, and lists it as a failure
// when it failed and there are fewer than room. It reports whether c failed.
func addCase(r *baleen.TestReport, c xmlCase, suite string, room, cases int) bool {
	name := caseName(strings.TrimSpace(c.Classname), strings.TrimSpace(c.Name), suite)
	var res xmlResult
	outcome := baleen.TestFailed
	switch {
	case len(c.Failures) > 0:
		res = c.Failures[0]
	case len(c.Errors) > 0:
		res = c.Errors[0]
	case len(c.Skipped) > 0, notRun(c):
		outcome = baleen.TestSkipped
	default:
		outcome = baleen.TestPassed
	}
	if len(r.Cases) < cases {
		r.Cases = append(r.Cases, baleen.TestCase{Name: name, Outcome: outcome, Duration: seconds(c.Time)})
	}
	switch outcome {
	case baleen.TestPassed:
		r.Passed++
		return false
	case baleen.TestSkipped:
		r.Skipped++
		return false
	}
	r.Failed++
	if len(r.Failures) >= room {
		return true
	}
	text := strings.TrimSpace(res.Text)
	msg := strings.TrimSpace(res.Message)
	if msg == "" {
		msg, _, _ = strings.Cut(text, "\n")
		msg = strings.TrimSpace(msg)
	}
	r.Failures = append(r.Failures, baleen.TestFailure{Name: name, Message: cut(msg, MaxMessage), Output: cut(text, MaxOutput)})
	return true
}

// notRun reports whether a test case with no result element says it never ran: ctest and tst write
// status="disabled" (ctest also "notrun"), Eclipse ignored="true".
func notRun(c xmlCase) bool {
	switch strings.ToLower(strings.TrimSpace(c.Status)) {
	case "disabled", "notrun":
		return true
	}
	return strings.EqualFold(strings.TrimSpace(c.Ignored), "true")
}

// seconds reads a time attribute in seconds: "0.012", "1,234.5" (a thousands separator), "0,012" (a decimal
// comma, as some locales write it). What is not a sane number is 0.
func seconds(s string) time.Duration {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ".") {
		s = strings.ReplaceAll(s, ",", "")
	} else {
		s = strings.Replace(s, ",", ".", 1)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e6 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// caseName is "classname.name", with the suite standing in for a missing classname. Jest writes the same
// text in both attributes; it is said once.
func caseName(class, name, suite string) string {
	if class == "" {
		class = suite
	}
	switch {
	case class == "" && name == "":
		return "(unnamed test)"
	case class == "" || class == name:
		return name
	case name == "":
		return class
	}
	return class + "." + name
}

// innermost returns the name of the innermost named suite, or "".
func innermost(suites []suite) string {
	for i := len(suites) - 1; i >= 0; i-- {
		if suites[i].name != "" {
			return suites[i].name
		}
	}
	return ""
}

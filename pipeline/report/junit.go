package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

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
)

// xmlCase is one <testcase>. Surefire's <flakyFailure> and <rerunFailure> are left out on purpose: they
// record attempts of a test that passed in the end.
type xmlCase struct {
	Name      string      `xml:"name,attr"`
	Classname string      `xml:"classname,attr"`
	Failures  []xmlResult `xml:"failure"`
	Errors    []xmlResult `xml:"error"`
	Skipped   []xmlResult `xml:"skipped"`
}

// xmlResult is a <failure>, <error> or <skipped> element.
type xmlResult struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// JUnit parses one JUnit/xUnit XML document (a <testsuites> root, a single <testsuite>, pytest's, Maven
// Surefire's, go-junit-report's, Jest's shapes) and adds its tests to r.
//
// Every <testcase> counts once, however deeply its suites nest: failed when it holds a <failure> or an
// <error>, else skipped when it holds a <skipped>, else passed. A failure is named "classname.name" (the
// innermost suite's name stands in for a missing classname) and keeps the message attribute, or else the
// first line of the element's text, as Message and the text, cut to MaxOutput, as Output. Past MaxFailures
// failures in r, failed tests are counted but not listed.
//
// The document is read whole before r changes: on error r is left as it was. A document that is not
// well-formed XML, or whose root is neither <testsuites> nor <testsuite>, is an error matching
// baleen.ErrInvalid; an error reading rd comes back as it is.
func JUnit(rd io.Reader, r *baleen.TestReport) error {
	d, err := newDecoder(rd)
	if err != nil {
		return err
	}
	var (
		got    baleen.TestReport
		suites []string // the names of the enclosing <testsuite> and <testsuites> elements
		root   bool     // whether the root element has been seen
		room   = MaxFailures - len(r.Failures)
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
				if el.Name.Local != "testsuites" && el.Name.Local != "testsuite" {
					return invalid(fmt.Errorf("root element is <%s>, want <testsuites> or <testsuite>", el.Name.Local))
				}
			}
			switch el.Name.Local {
			case "testsuites", "testsuite":
				name, _ := attr(el, "name")
				suites = append(suites, strings.TrimSpace(name))
			case "testcase":
				var c xmlCase
				if err := d.DecodeElement(&c, &el); err != nil {
					return d.fail(err)
				}
				addCase(&got, c, innermost(suites), room)
			}
		case xml.EndElement:
			// The decoder is strict, so end elements match their starts and the stack stays in step.
			if el.Name.Local == "testsuites" || el.Name.Local == "testsuite" {
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
	return nil
}

// addCase counts c in r and lists it when it failed and there is room left.
func addCase(r *baleen.TestReport, c xmlCase, suite string, room int) {
	var res xmlResult
	switch {
	case len(c.Failures) > 0:
		res = c.Failures[0]
	case len(c.Errors) > 0:
		res = c.Errors[0]
	case len(c.Skipped) > 0:
		r.Skipped++
		return
	default:
		r.Passed++
		return
	}
	r.Failed++
	if len(r.Failures) >= room {
		return
	}
	text := strings.TrimSpace(res.Text)
	msg := strings.TrimSpace(res.Message)
	if msg == "" {
		msg, _, _ = strings.Cut(text, "\n")
		msg = strings.TrimSpace(msg)
	}
	r.Failures = append(r.Failures, baleen.TestFailure{
		Name:    caseName(strings.TrimSpace(c.Classname), strings.TrimSpace(c.Name), suite),
		Message: cut(msg, MaxMessage),
		Output:  cut(text, MaxOutput),
	})
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
func innermost(suites []string) string {
	for i := len(suites) - 1; i >= 0; i-- {
		if suites[i] != "" {
			return suites[i]
		}
	}
	return ""
}

// Package report reads the test reports a build's test container leaves behind: JUnit/xUnit XML into passed,
// failed and skipped counts with each failure's name and message and every test case's outcome and duration,
// and Cobertura XML into line and branch coverage percentages as the coverage tool itself printed them, all
// gathered in one baleen.TestReport.
//
// It sits in the test stage of the flow push -> build -> test -> push image -> deploy: once the container
// under test has finished, the pipeline copies the paths baleen.yml names under artifacts.xunit and
// artifacts.coverage out of it into a local directory and calls Read on them. The result is printed under the
// test stage and kept with the build; its sub-package history compares the test cases with earlier builds.
//
// Reports are data from the build, so nothing here trusts them: they are read as streams, one test case or
// one class at a time, so memory is bounded by the largest element rather than the file; a file is capped at
// MaxReportSize; a malformed, oversized or unreadable file becomes a warning naming it (never an error that
// fails the build); encoding/xml never expands DTD or external entities; directories are searched without
// following symbolic links; and failure output is cut short. Only UTF-8 (with or without a byte-order mark)
// and ISO-8859-1 are read; any other declared encoding is refused with a warning.
package report

package report

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/baleen-ci/baleen"
)

// MaxReportSize caps the size of one report file, in bytes; a larger file is not read and becomes a warning.
const MaxReportSize = 64 << 20

// errTooLarge is a report file over the size cap.
var errTooLarge = errors.New("file too large")

// Read reads every report found at the given local paths — files, or directories searched recursively for
// *.xml — and returns the merged report. A malformed or unreadable file becomes a warning in r.Warnings naming
// the file, never an error.
//
// xunit paths are read with JUnit, coverage paths with Cobertura. Directories are walked in lexical order
// without following symbolic links, and only regular files are read; a file named twice is read once.
//
// Coverage combines the files by summing: the covered lines of every file (each counted as Cobertura
// says) over their valid lines, never an average of percentages. It is nil when there are no coverage files,
// and nil with a warning when they count no lines at all. BranchCoverage is the same over the files that
// count branches, nil when none does.
func Read(xunit, coverage []string) *baleen.TestReport {
	return read(xunit, coverage, MaxReportSize)
}

// read is Read with the per-file size cap as a parameter.
func read(xunit, coverage []string, limit int64) *baleen.TestReport {
	r := &baleen.TestReport{}
	warn := func(format string, args ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...)) }

	for _, name := range find("test report", xunit, warn) {
		if err := readFile(name, limit, func(rd io.Reader) error { return JUnit(rd, r) }); err != nil {
			warn("test report %s: %v", name, err)
		}
	}
	if n := r.Failed - len(r.Failures); n > 0 {
		warn("test reports: %d more failed tests not listed (the first %d are)", n, len(r.Failures))
	}
	if n := r.Total() - len(r.Cases); n > 0 {
		warn("test reports: %d more test cases not kept in the history (the first %d are)", n, len(r.Cases))
	}

	var lines, branches sum
	var files int
	for _, name := range find("coverage report", coverage, warn) {
		var c Counts
		err := readFile(name, limit, func(rd io.Reader) (err error) {
			c, err = Cobertura(rd)
			return err
		})
		if err != nil {
			warn("coverage report %s: %v", name, err)
			continue
		}
		lines.add(c.LinesCovered, c.LinesValid)
		branches.add(c.BranchesCovered, c.BranchesValid)
		files++
	}
	r.Coverage, r.BranchCoverage = lines.percent(), branches.percent()
	if r.Coverage == nil && files > 0 {
		warn("coverage reports: no lines counted, so no coverage")
	}
	return r
}

// sum adds covered and valid counts of several files; floats, so that a sum of large counts cannot overflow.
type sum struct{ covered, valid float64 }

func (s *sum) add(covered, valid int) { s.covered += float64(covered); s.valid += float64(valid) }

// percent is the sum as a percentage, nil when nothing was counted.
func (s sum) percent() *float64 {
	if s.valid <= 0 {
		return nil
	}
	p := 100 * s.covered / s.valid
	return &p
}

// find expands paths into the report files to read: a file stands for itself, a directory for the *.xml
// regular files beneath it. What cannot be found becomes a warning.
func find(kind string, paths []string, warn func(string, ...any)) []string {
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		if c := filepath.Clean(name); !seen[c] {
			seen[c] = true
			out = append(out, name)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			warn("%s %s: %v", kind, p, cause(err))
			continue
		case fi.Mode().IsRegular():
			add(p)
			continue
		case !fi.IsDir():
			warn("%s %s: not a regular file or a directory", kind, p)
			continue
		}
		n := 0
		// The walk function never returns an error, so neither does WalkDir.
		_ = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				warn("%s %s: %v", kind, name, cause(err))
				return nil
			}
			if d.Type().IsRegular() && strings.EqualFold(filepath.Ext(name), ".xml") {
				add(name)
				n++
			}
			return nil
		})
		if n == 0 {
			warn("%s %s: no *.xml files in the directory", kind, p)
		}
	}
	return out
}

// readFile opens name and hands it to parse, failing with errTooLarge past limit bytes.
func readFile(name string, limit int64, parse func(io.Reader) error) error {
	f, err := os.Open(name)
	if err != nil {
		return cause(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		return tooLarge(limit)
	}
	// The size can change after Stat, and not every file reports one: the reader enforces the cap as well.
	err = parse(capReader{&io.LimitedReader{R: f, N: limit + 1}})
	if errors.Is(err, errTooLarge) {
		return tooLarge(limit)
	}
	return err
}

// tooLarge says a file is over the cap of limit bytes.
func tooLarge(limit int64) error {
	if limit%(1<<20) == 0 {
		return fmt.Errorf("larger than the %d MiB limit, not read", limit>>20)
	}
	return fmt.Errorf("larger than the %d-byte limit, not read", limit)
}

// capReader reads from a reader limited to the cap plus one byte (io.LimitReader's type), and fails with
// errTooLarge when that byte arrives.
type capReader struct{ lr *io.LimitedReader }

func (c capReader) Read(p []byte) (int, error) {
	n, err := c.lr.Read(p)
	if c.lr.N == 0 {
		return 0, errTooLarge
	}
	return n, err
}

// cause strips the operation and path from a file system error: the warnings name the file already.
func cause(err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

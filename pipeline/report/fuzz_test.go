package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
)

// seeds adds every testdata sample and a few hostile fragments to f's corpus.
func seeds(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "<", "\xef\xbb\xbf", "\xff\xfe<\x00", `<?xml version="1.0" encoding="latin1"?><testsuite name="\xe9"/>`,
		`<!DOCTYPE x [<!ENTITY a "&a;">]><testsuite name="&a;"/>`, `<testsuite><testsuite></testsuite>`,
		`<testsuite><testcase><failure><![CDATA[` + strings.Repeat("é", 3000) + `]]></failure></testcase></testsuite>`,
		`<coverage><class filename="a"><line number="1" hits="-0"/></class></coverage>`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzJUnit checks that no document makes JUnit panic, that a failed parse is an ErrInvalid that leaves the
// report alone, and that a successful one only adds sane, bounded, valid UTF-8 entries.
func FuzzJUnit(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		before := baleen.TestReport{Passed: 1, Failed: 1, Failures: []baleen.TestFailure{{Name: "earlier"}}}
		r := before
		r.Failures = append([]baleen.TestFailure(nil), before.Failures...)
		err := JUnit(strings.NewReader(string(doc)), &r)
		if err != nil {
			// The reader never fails, so every error is about the document.
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatalf("got error %v, want one matching baleen.ErrInvalid", err)
			}
			if diff := cmp.Diff(before, r); diff != "" {
				t.Fatalf("report changed on error %v (-want +got):\n%s", err, diff)
			}
			return
		}
		if r.Passed < before.Passed || r.Failed < before.Failed || r.Skipped < 0 {
			t.Fatalf("got counts %d/%d/%d, want no less than %d/%d/0", r.Passed, r.Failed, r.Skipped, before.Passed, before.Failed)
		}
		failed, listed := r.Failed-before.Failed, len(r.Failures)-len(before.Failures)
		if listed != min(failed, MaxFailures-len(before.Failures)) {
			t.Fatalf("got %d new failed tests and %d new failures listed, want all listed up to MaxFailures", failed, listed)
		}
		for _, fl := range r.Failures {
			if len(fl.Message) > MaxMessage+len("\n… (cut)") || len(fl.Output) > MaxOutput+len("\n… (cut)") {
				t.Fatalf("got message of %d and output of %d bytes, want at most %d and %d", len(fl.Message), len(fl.Output), MaxMessage, MaxOutput)
			}
			if !utf8.ValidString(fl.Name) || !utf8.ValidString(fl.Message) || !utf8.ValidString(fl.Output) {
				t.Fatalf("got failure %q with invalid UTF-8, want valid", fl)
			}
		}
	})
}

// FuzzCobertura checks that no document makes Cobertura panic and that the counts it returns make sense.
func FuzzCobertura(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Cobertura(strings.NewReader(string(doc)))
		if err != nil {
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatalf("got error %v, want one matching baleen.ErrInvalid", err)
			}
			if c != (Counts{}) {
				t.Fatalf("got %+v with error %v, want zero counts", c, err)
			}
			return
		}
		if c.LinesCovered < 0 || c.LinesCovered > c.LinesValid || c.BranchesCovered < 0 || c.BranchesCovered > c.BranchesValid {
			t.Fatalf("got %+v, want 0 <= covered <= valid for lines and branches", c)
		}
	})
}

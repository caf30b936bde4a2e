package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
)

func TestCoberturaSamples(t *testing.T) {
	tests := []struct {
		file string
		want Counts
	}{
		{"coverage-py.xml", Counts{LinesCovered: 7, LinesValid: 10}},
		// Every line is listed under its <method> and again under its <class>: the root's 4 of 6, not 8 of 12.
		{"gocover-cobertura.xml", Counts{LinesCovered: 4, LinesValid: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Cobertura(f)
			if err != nil {
				t.Fatalf("Cobertura: got error %v, want none", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// classes wraps class elements in a Cobertura document with the given root attributes.
func classes(rootAttrs, body string) string {
	return `<coverage ` + rootAttrs + `><packages><package name="p"><classes>` + body + `</classes></package></packages></coverage>`
}

func TestCoberturaSources(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Counts
	}{
		{
			name: "root counts win over lines",
			doc: classes(`lines-covered="90" lines-valid="100" line-rate="0.9"`,
				`<class filename="a.py"><lines><line number="1" hits="1"/><line number="2" hits="0"/></lines></class>`),
			want: Counts{LinesCovered: 90, LinesValid: 100},
		},
		{
			// gcovr lists a line once per function instance (a destructor's two variants, one run, one not);
			// its own figure, at the root, merges them as gcovr does.
			name: "same line per function instance: the root's figure",
			doc: classes(`lines-covered="2" lines-valid="3" line-rate="0.6667"`,
				`<class name="a_cpp" filename="a.cpp"><methods/><lines>
				<line number="5" hits="1"/><line number="6" hits="0"/><line number="6" hits="1"/><line number="7" hits="0"/>
				</lines></class>`),
			want: Counts{LinesCovered: 2, LinesValid: 3},
		},
		{
			name: "same line twice in one class without root counts: once, covered if any entry is",
			doc:  classes(``, `<class filename="a.cpp"><lines><line number="6" hits="0"/><line number="6" hits="3"/><line number="7" hits="0"/></lines></class>`),
			want: Counts{LinesCovered: 1, LinesValid: 2},
		},
		{
			// dotnet-coverage and AltCover put partial, nested and compiler-generated classes in one file;
			// the tool counts each class's lines, so a line two classes list counts twice.
			name: "several classes per file, counted per class",
			doc: classes(``, `<class name="Outer" filename="Outer.cs"><lines><line number="3" hits="2"/><line number="4" hits="1"/></lines></class>
				<class name="Outer+&lt;&gt;c" filename="Outer.cs"><lines><line number="3" hits="0"/></lines></class>`),
			want: Counts{LinesCovered: 2, LinesValid: 3},
		},
		{
			// istanbul lists each function's declaration line under <methods>: no statement, not counted.
			name: "method declaration lines left out",
			doc: classes(`line-rate="0.5" branch-rate="1"`, `<class name="math.js" filename="src/math.js"><methods>
				<method name="add" hits="1" signature="()V"><lines><line number="1" hits="1"/></lines></method>
				<method name="div" hits="0" signature="()V"><lines><line number="4" hits="0"/></lines></method>
				</methods><lines><line number="2" hits="1" branch="false"/><line number="5" hits="0" branch="false"/></lines></class>`),
			want: Counts{LinesCovered: 1, LinesValid: 2, BranchesCovered: RateScale, BranchesValid: RateScale},
		},
		{
			name: "same line number in two files",
			doc: classes(``, `<class filename="a.go"><lines><line number="1" hits="1"/></lines></class>
				<class filename="b.go"><lines><line number="1" hits="0"/></lines></class>`),
			want: Counts{LinesCovered: 1, LinesValid: 2},
		},
		{
			name: "decimal and huge hits",
			doc:  classes(``, `<class filename="a"><lines><line number="1" hits="0.0"/><line number="2" hits="2.5"/><line number="3" hits="99999999999999999999"/></lines></class>`),
			want: Counts{LinesCovered: 2, LinesValid: 3},
		},
		{
			name: "root counts and no lines",
			doc:  `<coverage lines-covered="813" lines-valid="1000" line-rate="0.1"><packages/></coverage>`,
			want: Counts{LinesCovered: 813, LinesValid: 1000},
		},
		{
			name: "nothing measured",
			doc:  `<coverage lines-covered="0" lines-valid="0" line-rate="1"/>`,
			want: Counts{},
		},
		{
			name: "line-rate alone, scaled",
			doc:  `<coverage line-rate="0.81234"/>`,
			want: Counts{LinesCovered: 8123, LinesValid: RateScale},
		},
		{
			name: "branches from the root",
			doc:  `<coverage lines-covered="5" lines-valid="10" branches-covered="3" branches-valid="4" branch-rate="0.75"/>`,
			want: Counts{LinesCovered: 5, LinesValid: 10, BranchesCovered: 3, BranchesValid: 4},
		},
		{
			name: "branches from condition-coverage",
			doc: classes(`branch-rate="0.1"`, `<class filename="a.py"><lines>
				<line number="1" hits="1" branch="true" condition-coverage="50% (1/2)"/>
				<line number="2" hits="1" branch="true" condition-coverage="100% (4/4)"/>
				<line number="3" hits="0"/></lines></class>`),
			want: Counts{LinesCovered: 2, LinesValid: 3, BranchesCovered: 5, BranchesValid: 6},
		},
		{
			name: "a branch-rate of 0 without counts measures nothing",
			doc:  `<coverage line-rate="0.5" branch-rate="0"/>`,
			want: Counts{LinesCovered: RateScale / 2, LinesValid: RateScale},
		},
		{
			name: "byte-order mark",
			doc:  "\xef\xbb\xbf<?xml version=\"1.0\"?><coverage line-rate=\"1\"/>",
			want: Counts{LinesCovered: RateScale, LinesValid: RateScale},
		},
		{
			name: "latin-1 file name",
			doc:  "<?xml version=\"1.0\" encoding=\"latin1\"?>" + classes(``, "<class filename=\"caf\xe9.py\"><lines><line number=\"1\" hits=\"1\"/></lines></class>"),
			want: Counts{LinesCovered: 1, LinesValid: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Cobertura(strings.NewReader(tt.doc))
			if err != nil {
				t.Fatalf("Cobertura: got error %v, want none", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCoberturaInvalid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // in the error message
	}{
		{"empty", ``, "no root element"},
		{"truncated", `<coverage><packages><package>`, "unexpected EOF"},
		{"mismatched end tag", `<coverage line-rate="1"><packages></classes></coverage>`, "unexpected end element </classes>"},
		{"end tag with another prefix", `<a:coverage xmlns:a="x" xmlns:b="x" line-rate="1"></b:coverage>`, "unexpected end element </coverage>"},
		{"second root", `<coverage line-rate="1"/><coverage line-rate="0"/>`, "a second root element <coverage>"},
		{"wrong root", `<testsuite/>`, "root element is <testsuite>, want <coverage>"},
		{"no numbers", `<coverage version="1"/>`, "no lines-covered and lines-valid, no <line> elements in a class's <lines>, no line-rate"},
		{"covered over valid", `<coverage lines-covered="11" lines-valid="10"/>`, "lines-covered 11, lines-valid 10: want 0 <= covered <= valid"},
		{"negative count", `<coverage lines-covered="-1" lines-valid="10"/>`, "want 0 <= covered <= valid"},
		{"count not a number", `<coverage lines-covered="7.5" lines-valid="10"/>`, "not whole numbers"},
		{"count overflows", `<coverage lines-covered="1" lines-valid="99999999999999999999999"/>`, "not whole numbers"},
		{"rate over one", `<coverage line-rate="1.5"/>`, `line-rate "1.5": want a number from 0 to 1`},
		{"rate NaN", `<coverage line-rate="NaN"/>`, "want a number from 0 to 1"},
		{"hits not a number", `<coverage><class filename="a.go"><lines><line number="3" hits="many"/></lines></class></coverage>`, `class "a.go": line "3": hits "many" is not a number`},
		{"hits NaN", `<coverage><class filename="a.go"><lines><line number="3" hits="NaN"/></lines></class></coverage>`, `hits "NaN" is not a number`},
		{"no hits", `<coverage><class filename="a.go"><lines><line number="3"/></lines></class></coverage>`, "no hits attribute"},
		{"no number", `<coverage><class filename="a.go"><lines><line hits="1"/></lines></class></coverage>`, "no number attribute"},
		{"unsupported encoding", `<?xml version="1.0" encoding="windows-1252"?><coverage/>`, `encoding "windows-1252" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Cobertura(strings.NewReader(tt.doc))
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatalf("got %+v, error %v; want an error matching baleen.ErrInvalid", got, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

func TestCoberturaSamples(t *testing.T) {
	tests := []struct {
		file                   string
		wantCovered, wantValid int
	}{
		{"coverage-py.xml", 7, 10},
		// Every line is listed under its <method> and again under its <class>: counted once, 4 of 6, not 8 of 12.
		{"gocover-cobertura.xml", 4, 6},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			covered, valid, err := Cobertura(f)
			if err != nil {
				t.Fatalf("Cobertura: got error %v, want none", err)
			}
			if covered != tt.wantCovered || valid != tt.wantValid {
				t.Errorf("got %d of %d lines covered, want %d of %d", covered, valid, tt.wantCovered, tt.wantValid)
			}
		})
	}
}

func TestCoberturaSources(t *testing.T) {
	tests := []struct {
		name                   string
		doc                    string
		wantCovered, wantValid int
	}{
		{
			name: "lines win over root attributes",
			doc: `<coverage lines-covered="90" lines-valid="100" line-rate="0.9"><packages><package><classes>
				<class filename="a.py"><lines><line number="1" hits="1"/><line number="2" hits="0"/></lines></class>
				</classes></package></packages></coverage>`,
			wantCovered: 1, wantValid: 2,
		},
		{
			name: "same line in two classes of one file",
			doc: `<coverage><packages><package><classes>
				<class name="Outer" filename="Outer.java"><lines><line number="3" hits="2"/><line number="4" hits="1"/></lines></class>
				<class name="Outer$Inner" filename="Outer.java"><lines><line number="3" hits="0"/></lines></class>
				</classes></package></packages></coverage>`,
			wantCovered: 2, wantValid: 2,
		},
		{
			name: "same line number in two files",
			doc: `<coverage><packages><package><classes>
				<class filename="a.go"><lines><line number="1" hits="1"/></lines></class>
				<class filename="b.go"><lines><line number="1" hits="0"/></lines></class>
				</classes></package></packages></coverage>`,
			wantCovered: 1, wantValid: 2,
		},
		{
			name: "class name when no filename",
			doc: `<coverage><packages><package><classes>
				<class name="A"><lines><line number="1" hits="1"/></lines></class>
				<class name="B"><lines><line number="1" hits="0"/></lines></class>
				</classes></package></packages></coverage>`,
			wantCovered: 1, wantValid: 2,
		},
		{
			name:        "decimal and huge hits",
			doc:         `<coverage><packages><package><classes><class filename="a"><lines><line number="1" hits="0.0"/><line number="2" hits="2.5"/><line number="3" hits="99999999999999999999"/></lines></class></classes></package></packages></coverage>`,
			wantCovered: 2, wantValid: 3,
		},
		{
			name:        "root attributes when no lines",
			doc:         `<coverage lines-covered="813" lines-valid="1000" line-rate="0.1"><packages/></coverage>`,
			wantCovered: 813, wantValid: 1000,
		},
		{
			name:        "nothing measured",
			doc:         `<coverage lines-covered="0" lines-valid="0" line-rate="1"/>`,
			wantCovered: 0, wantValid: 0,
		},
		{
			name:        "line-rate alone, scaled",
			doc:         `<coverage line-rate="0.81234"/>`,
			wantCovered: 8123, wantValid: RateScale,
		},
		{
			name:        "byte-order mark",
			doc:         "\xef\xbb\xbf<?xml version=\"1.0\"?><coverage line-rate=\"1\"/>",
			wantCovered: RateScale, wantValid: RateScale,
		},
		{
			name:        "latin-1 file name",
			doc:         "<?xml version=\"1.0\" encoding=\"latin1\"?><coverage><packages><package><classes><class filename=\"caf\xe9.py\"><lines><line number=\"1\" hits=\"1\"/></lines></class></classes></package></packages></coverage>",
			wantCovered: 1, wantValid: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			covered, valid, err := Cobertura(strings.NewReader(tt.doc))
			if err != nil {
				t.Fatalf("Cobertura: got error %v, want none", err)
			}
			if covered != tt.wantCovered || valid != tt.wantValid {
				t.Errorf("got %d of %d lines covered, want %d of %d", covered, valid, tt.wantCovered, tt.wantValid)
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
		{"wrong root", `<testsuite/>`, "root element is <testsuite>, want <coverage>"},
		{"no numbers", `<coverage version="1"/>`, "no <line> elements, no lines-covered and lines-valid, no line-rate"},
		{"covered over valid", `<coverage lines-covered="11" lines-valid="10"/>`, "lines-covered 11, lines-valid 10: want 0 <= covered <= valid"},
		{"negative count", `<coverage lines-covered="-1" lines-valid="10"/>`, "want 0 <= covered <= valid"},
		{"count not a number", `<coverage lines-covered="7.5" lines-valid="10"/>`, "not whole numbers"},
		{"count overflows", `<coverage lines-covered="1" lines-valid="99999999999999999999999"/>`, "not whole numbers"},
		{"rate over one", `<coverage line-rate="1.5"/>`, `line-rate "1.5": want a number from 0 to 1`},
		{"rate NaN", `<coverage line-rate="NaN"/>`, "want a number from 0 to 1"},
		{"hits not a number", `<coverage><class filename="a.go"><line number="3" hits="many"/></class></coverage>`, `line "3" of "a.go": hits "many" is not a number`},
		{"hits NaN", `<coverage><class filename="a.go"><line number="3" hits="NaN"/></class></coverage>`, `hits "NaN" is not a number`},
		{"no hits", `<coverage><class filename="a.go"><line number="3"/></class></coverage>`, "no hits attribute"},
		{"no number", `<coverage><class filename="a.go"><line hits="1"/></class></coverage>`, "no number attribute"},
		{"unsupported encoding", `<?xml version="1.0" encoding="windows-1252"?><coverage/>`, `encoding "windows-1252" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			covered, valid, err := Cobertura(strings.NewReader(tt.doc))
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatalf("got %d, %d, error %v; want an error matching baleen.ErrInvalid", covered, valid, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

package api

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A log written in pieces that split lines becomes one LogLine per line, each with its stage.
func TestLogWriter(t *testing.T) {
	var out bytes.Buffer
	lw := NewLogWriter(&out)
	for _, p := range []string{"queued\n==> bu", "ild\nStep 1/2\r\n", "==> test\nok", " 3 tests"} {
		if _, err := lw.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	var got []LogLine
	dec := json.NewDecoder(&out)
	for dec.More() {
		var l LogLine
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	want := []LogLine{{"", 1, "queued"}, {"build", 2, "==> build"}, {"build", 3, "Step 1/2"},
		{"test", 4, "==> test"}, {"test", 5, "ok 3 tests"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

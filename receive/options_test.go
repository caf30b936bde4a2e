package receive

import (
	"bytes"
	"errors"
	"testing"

	"github.com/baleen-ci/baleen"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name     string
		raw      []string
		skip     bool
		shown    string
		refusing bool
	}{
		{"none", nil, false, "", false},
		{"ci.skip", []string{"ci.skip"}, true, "", false},
		{"unknown shown and ignored", []string{"merge_request.create"}, false, `push option "merge_request.create" ignored`, false},
		{"deploy=false refused until the pipeline can honour it", []string{"deploy=false"}, false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			o, err := parseOptions(tt.raw, &out)
			if got := err != nil; got != tt.refusing {
				t.Fatalf("parseOptions(%q) error = %v, want refusal %v", tt.raw, err, tt.refusing)
			}
			if err != nil && !errors.Is(err, baleen.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if o.skip != tt.skip {
				t.Errorf("skip: got %v, want %v", o.skip, tt.skip)
			}
			if !bytes.Contains(out.Bytes(), []byte(tt.shown)) {
				t.Errorf("output %q lacks %q", out.String(), tt.shown)
			}
		})
	}
}

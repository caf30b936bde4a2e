package receive

import (
	"bytes"
	"testing"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name     string
		raw      []string
		skip     bool
		shown    string
		noDeploy bool
	}{
		{"none", nil, false, "", false},
		{"ci.skip", []string{"ci.skip"}, true, "", false},
		{"unknown shown and ignored", []string{"merge_request.create"}, false, `push option "merge_request.create" ignored`, false},
		{"deploy=false builds without deploying", []string{"deploy=false"}, false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			o := parseOptions(tt.raw, &out)
			if o.noDeploy != tt.noDeploy {
				t.Errorf("noDeploy: got %v, want %v", o.noDeploy, tt.noDeploy)
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

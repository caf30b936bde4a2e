package docker

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeStream(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string // "" for no error
	}{
		{
			name: "stream text passes as is",
			in:   `{"stream":"Step 1/2 : FROM scratch\n"}{"stream":"\n"}{"stream":" ---\u003e Running in 0123\n"}`,
			want: "Step 1/2 : FROM scratch\n\n ---> Running in 0123\n",
		},
		{
			name: "status is one line per change, not per progress tick",
			in: `{"status":"Pulling from library/x","id":"latest"}
{"status":"Downloading","progressDetail":{"current":1,"total":10},"progress":"[=>  ]","id":"abc"}
{"status":"Downloading","progressDetail":{"current":5,"total":10},"progress":"[===>]","id":"abc"}
{"status":"Downloading","progressDetail":{"current":1,"total":10},"id":"def"}
{"status":"Pull complete","id":"abc"}
{"status":"Digest: sha256:00"}
{"status":"Status: Downloaded newer image for x:latest"}`,
			want: "latest: Pulling from library/x\nabc: Downloading\ndef: Downloading\nabc: Pull complete\n" +
				"Digest: sha256:00\nStatus: Downloaded newer image for x:latest\n",
		},
		{
			name: "aux messages say nothing",
			in:   `{"aux":{"ID":"sha256:00"}}{"stream":"done\n"}`,
			want: "done\n",
		},
		{
			name:    "errorDetail ends the stream with the builder's message",
			in:      `{"stream":"Step 2/2 : RUN false\n"}{"errorDetail":{"code":1,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"},"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}{"stream":"never\n"}`,
			want:    "Step 2/2 : RUN false\n",
			wantErr: "The command '/bin/sh -c false' returned a non-zero code: 1",
		},
		{
			name:    "a bare error field counts too",
			in:      `{"error":"pull access denied"}`,
			wantErr: "pull access denied",
		},
		{
			name:    "broken json is an error",
			in:      `{"stream":"ok\n"}{"stream":`,
			want:    "ok\n",
			wantErr: "read engine output: unexpected EOF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := decodeStream(strings.NewReader(tt.in), &out)
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			var gotErr string
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("error: got %q, want %q", gotErr, tt.wantErr)
			}
		})
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestDecodeStreamWriteError(t *testing.T) {
	err := decodeStream(strings.NewReader(`{"stream":"x\n"}`), failWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("decodeStream to a failing writer: got %v, want an error saying disk full", err)
	}
}

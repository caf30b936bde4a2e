package pipeline

import (
	"bytes"
	"strings"
	"testing"
)

func TestMasker(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		writes  []string
		want    string
	}{
		{"no secrets", nil, []string{"hello ", "world"}, "hello world"},
		{"whole secret", []string{"hunter2"}, []string{"pw=hunter2\n"}, "pw=" + Mask + "\n"},
		{"split across writes", []string{"hunter2"}, []string{"pw=hun", "ter2 ok\n"}, "pw=" + Mask + " ok\n"},
		{"split byte by byte", []string{"s3cr3t"}, strings.Split("a s3cr3t b", ""), "a " + Mask + " b"},
		{"prefix that is not a secret", []string{"hunter2"}, []string{"hunt", "ing\n"}, "hunting\n"},
		{"secret at end flushed on close", []string{"abc"}, []string{"x ab"}, "x ab"},
		{"longer secret wins", []string{"pass", "password1"}, []string{"password1 pass"}, Mask + " " + Mask},
		{"empty secret ignored", []string{""}, []string{"text"}, "text"},
		{"repeated", []string{"k"}, []string{"kkk"}, Mask + Mask + Mask},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			m := NewMasker(&out, tt.secrets)
			for _, w := range tt.writes {
				if n, err := m.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMaskerNeverLeaksPrefixThenSecret stops a secret from reaching the output in two halves when a caller
// writes it one byte at a time and reads the output between writes.
func TestMaskerNeverLeaksPrefixThenSecret(t *testing.T) {
	const secret = "topsecretvalue"
	var out bytes.Buffer
	m := NewMasker(&out, []string{secret})
	for i := range len(secret) {
		m.Write([]byte{secret[i]})
		if strings.Contains(out.String(), secret[:i+1]) && i > 0 {
			t.Fatalf("after %d bytes the output holds %q, a part of the secret", i+1, out.String())
		}
	}
	m.Close()
	if got := out.String(); got != Mask {
		t.Errorf("got %q, want %q", got, Mask)
	}
}

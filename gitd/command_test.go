package gitd

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/internal/shell"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"git quoting", `git-receive-pack '/proj.git'`, []string{"git-receive-pack", "/proj.git"}},
		{"plain words", "builds  api\t7", []string{"builds", "api", "7"}},
		{"empty", "", nil},
		{"blanks only", " \t\n", nil},
		{"quoted quote", `say 'it'\''s'`, []string{"say", "it's"}},
		{"double quotes", `say "a \"b\" \$c \d"`, []string{"say", `a "b" $c \d`}},
		{"empty word", `a '' b`, []string{"a", "", "b"}},
		{"adjacent parts", `a'b'"c"\ d`, []string{"abc d"}},
		{"backslash newline", "a\\\nb", []string{"ab"}},
		{"metacharacters are literal", `projects;rm -rf /`, []string{"projects;rm", "-rf", "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitWords(tt.in)
			if err != nil {
				t.Fatalf("splitWords(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splitWords(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSplitWordsRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"unterminated single": `git-receive-pack 'proj`,
		"unterminated double": `say "hi`,
		"trailing backslash":  `say \`,
		"nul byte":            "say a\x00b",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := splitWords(in)
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Errorf("splitWords(%q) = %q, %v; want an error wrapping ErrInvalid", in, got, err)
			}
		})
	}
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{`git-receive-pack '/proj.git'`, `a "b\"c" 'd'\''e'`, "x\\\ny", `'`, `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitWords(s)
		if err != nil {
			return
		}
		// Quoting the words again and splitting gives them back.
		again, err := splitWords(shell.Join(words))
		if err != nil {
			t.Fatalf("splitWords of requoted %q: %v", words, err)
		}
		if diff := cmp.Diff(words, again); diff != "" {
			t.Fatalf("requoted words differ (-first +again):\n%s", diff)
		}
	})
}

func TestParseGitCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want gitRequest
	}{
		{"push scp form", []string{"git-receive-pack", "proj.git"}, gitRequest{serviceReceivePack, "proj"}},
		{"push url form", []string{"git-receive-pack", "/proj.git"}, gitRequest{serviceReceivePack, "proj"}},
		{"no suffix", []string{"git-receive-pack", "/proj"}, gitRequest{serviceReceivePack, "proj"}},
		{"bare name", []string{"git-upload-pack", "proj"}, gitRequest{serviceUploadPack, "proj"}},
		{"home form", []string{"git-upload-pack", "~/proj.git"}, gitRequest{serviceUploadPack, "proj"}},
		{"spaced service", []string{"git", "upload-pack", "proj"}, gitRequest{serviceUploadPack, "proj"}},
		{"dots and dashes", []string{"git-upload-pack", "my.app-2_x"}, gitRequest{serviceUploadPack, "my.app-2_x"}},
		{"trailing slash", []string{"git-upload-pack", "/proj.git/"}, gitRequest{serviceUploadPack, "proj"}},
		{"trailing slash without suffix", []string{"git-receive-pack", "proj/"}, gitRequest{serviceReceivePack, "proj"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseGitCommand(tt.args)
			if err != nil {
				t.Fatalf("parseGitCommand(%q): %v", tt.args, err)
			}
			if got != tt.want {
				t.Errorf("parseGitCommand(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestParseGitCommandRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"parent dir", []string{"git-receive-pack", "../x"}},
		{"nested", []string{"git-receive-pack", "a/b"}},
		{"absolute deep", []string{"git-receive-pack", "/srv/git/a.git"}},
		{"upper case", []string{"git-receive-pack", "Bad"}},
		{"quote", []string{"git-receive-pack", "x'y"}},
		{"dot dot inside", []string{"git-upload-pack", "a..b"}},
		{"dot first", []string{"git-upload-pack", ".git"}},
		{"dash first", []string{"git-upload-pack", "-x"}},
		{"empty", []string{"git-upload-pack", ""}},
		{"two slashes", []string{"git-upload-pack", "//x"}},
		{"home then slash", []string{"git-upload-pack", "~//x"}},
		{"other user home", []string{"git-upload-pack", "~bob/x"}},
		{"no path", []string{"git-upload-pack"}},
		{"two paths", []string{"git-upload-pack", "a", "b"}},
		{"archive", []string{"git-upload-archive", "a"}},
		{"bare git", []string{"git"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseGitCommand(tt.args)
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Errorf("parseGitCommand(%q) = %+v, %v; want an error wrapping ErrInvalid", tt.args, got, err)
			}
		})
	}
}

func TestParseGitCommandNotGit(t *testing.T) {
	for _, args := range [][]string{nil, {"projects"}, {"builds", "api"}, {"gitk"}} {
		if _, err := parseGitCommand(args); !errors.Is(err, errNotGit) {
			t.Errorf("parseGitCommand(%q): got %v, want errNotGit", args, err)
		}
	}
}

func FuzzParseGitCommand(f *testing.F) {
	for _, s := range []string{`git-receive-pack '/proj.git'`, `git upload-pack '~/a'`, `git-receive-pack '../x'`, `git-upload-pack 'a/b'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args, err := splitWords(line)
		if err != nil {
			return
		}
		req, err := parseGitCommand(args)
		if err != nil {
			return
		}
		// Whatever was accepted is one safe path element.
		if err := baleen.ValidateProjectName(req.project); err != nil {
			t.Fatalf("%q gave project %q: %v", line, req.project, err)
		}
		if strings.ContainsAny(req.project, `/\'"`) || strings.Contains(req.project, "..") {
			t.Fatalf("%q gave unsafe project %q", line, req.project)
		}
		if req.service != serviceReceivePack && req.service != serviceUploadPack {
			t.Fatalf("%q gave service %q", line, req.service)
		}
	})
}

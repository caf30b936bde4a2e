package gitd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/baleen-ci/baleen"
)

// The git services the Server answers.
const (
	serviceReceivePack = "git-receive-pack"
	serviceUploadPack  = "git-upload-pack"
)

// splitWords splits an ssh command line into words the way a POSIX shell would, without expanding anything:
// words are separated by blanks; '...' is literal; "..." is literal except that a backslash escapes $, `, ",
// \ and a newline; outside quotes a backslash escapes the next character and a backslash-newline is dropped.
// Git sends its command as `git-receive-pack '/proj.git'`, quoting the path this way. An unterminated quote,
// a trailing backslash or a NUL byte is an error wrapping baleen.ErrInvalid.
func splitWords(s string) ([]string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, fmt.Errorf("command line holds a NUL byte: %w", baleen.ErrInvalid)
	}
	var (
		words []string
		cur   strings.Builder
		inArg bool // a word has started, possibly empty ('')
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			if inArg {
				words = append(words, cur.String())
				cur.Reset()
				inArg = false
			}
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("command line: unterminated single quote: %w", baleen.ErrInvalid)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inArg = true
		case '"':
			closed := false
			for i++; i < len(s); i++ {
				d := s[i]
				if d == '"' {
					closed = true
					break
				}
				if d == '\\' && i+1 < len(s) {
					switch s[i+1] {
					case '$', '`', '"', '\\':
						cur.WriteByte(s[i+1])
						i++
						continue
					case '\n':
						i++
						continue
					}
				}
				cur.WriteByte(d)
			}
			if !closed {
				return nil, fmt.Errorf("command line: unterminated double quote: %w", baleen.ErrInvalid)
			}
			inArg = true
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("command line: trailing backslash: %w", baleen.ErrInvalid)
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				inArg = true
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		words = append(words, cur.String())
	}
	return words, nil
}

// gitRequest is a parsed git command: which service, for which project.
type gitRequest struct {
	service string
	project string
}

// errNotGit says that a command line is not one of git's.
var errNotGit = errors.New("not a git command")

// parseGitCommand recognises git's own commands among ssh command words: `git-receive-pack PATH`,
// `git-upload-pack PATH`, and the same with a space (`git receive-pack PATH`). It returns errNotGit for
// anything else that does not start with "git", and an error wrapping baleen.ErrInvalid for a git command
// it refuses (another git service, a wrong number of arguments, a bad project path).
func parseGitCommand(args []string) (gitRequest, error) {
	if len(args) == 0 {
		return gitRequest{}, errNotGit
	}
	var service string
	var rest []string
	switch {
	case args[0] == "git" && len(args) >= 2:
		service, rest = "git-"+args[1], args[2:]
	case args[0] == "git":
		return gitRequest{}, fmt.Errorf("git: missing service: %w", baleen.ErrInvalid)
	case strings.HasPrefix(args[0], "git-"):
		service, rest = args[0], args[1:]
	default:
		return gitRequest{}, errNotGit
	}
	if service != serviceReceivePack && service != serviceUploadPack {
		return gitRequest{}, fmt.Errorf("%s is not supported; use git push, git clone or git fetch: %w", service, baleen.ErrInvalid)
	}
	if len(rest) != 1 {
		return gitRequest{}, fmt.Errorf("%s: want one repository path, got %d arguments: %w", service, len(rest), baleen.ErrInvalid)
	}
	project, err := projectFromPath(rest[0])
	if err != nil {
		return gitRequest{}, err
	}
	return gitRequest{service: service, project: project}, nil
}

// projectFromPath turns the repository path a git client sends into a project name. It accepts "proj",
// "proj.git", "/proj", "/proj.git", "~/proj" and "~/proj.git" (the forms of host:proj.git,
// ssh://host/proj.git and ssh://host/~/proj.git), each also with a trailing "/": at most one leading "/"
// or "~/", at most one trailing "/", at most one ".git" suffix, and then a name that baleen.ValidateProjectName accepts. Anything else, among it "..", a further
// "/", quotes and absolute paths deeper than one element, is refused with an error wrapping
// baleen.ErrInvalid, before anything touches the disk.
func projectFromPath(p string) (string, error) {
	name := p
	switch {
	case strings.HasPrefix(name, "~/"):
		name = name[2:]
	case strings.HasPrefix(name, "/"):
		name = name[1:]
	}
	name = strings.TrimSuffix(name, "/")
	name = strings.TrimSuffix(name, ".git")
	if err := baleen.ValidateProjectName(name); err != nil {
		return "", fmt.Errorf("repository path %q: %w", p, err)
	}
	return name, nil
}

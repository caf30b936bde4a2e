package access

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
)

// Config is the access part of the server's config file: its users, the rules that give them roles, and
// the projects each credential may be used by. Parse reads it; the rest of the file is the server's.
type Config struct {
	// Users are the named users, by name.
	Users map[string]User
	// Rules give roles, in file order: for a user and a project, the first rule that names both decides.
	Rules []Rule
	// Credentials are the project globs that may use each server credential, by the credential's name.
	Credentials map[string][]string
	// FetchKey are the project globs whose ssh:// dependency sources and mirrors may be fetched with the
	// server's fetch key (fetch_key_projects); none when empty.
	FetchKey []string
	// GitCredentials are the project globs that may fetch with each login of git_credentials, by host;
	// other projects fetch that host anonymously.
	GitCredentials map[string][]string
}

// User is one named user: the keys that prove it, inline or read from files, and an optional e-mail.
type User struct {
	Name  string
	Email string
	// Keys are the keys given inline in the config, in authorized_keys format.
	Keys []gossh.PublicKey
	// KeyFiles are authorized_keys files read again whenever their content changes.
	KeyFiles []string
}

// Rule gives Role to Users on the projects whose name matches one of Projects.
type Rule struct {
	// Projects are project names or globs (path.Match: '*', '?', '[...]').
	Projects []string
	// Users are user names; "*" stands for every named user.
	Users []string
	Role  baleen.Role
	// Line is the rule's line in the config file, for messages.
	Line int
}

// AnyUser in a rule's users stands for every named user.
const AnyUser = "*"

var userNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ParseFile reads the access sections of the server config file at name.
func ParseFile(name string) (Config, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(name, data)
}

// Parse reads the `users:`, `access:`, `credentials:`, `fetch_key_projects:` and `git_credentials:` sections
// of a server config file (of git_credentials, only each login's projects); file names it in messages. The other keys are left to the server's own config. Every problem is reported, each as
// "file:line: what", joined into one error that wraps baleen.ErrInvalid.
func Parse(file string, data []byte) (Config, error) {
	p := &parser{file: file}
	c := Config{Users: map[string]User{}, Credentials: map[string][]string{}, GitCredentials: map[string][]string{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("%s: %w: %w", file, err, baleen.ErrInvalid)
	}
	if len(doc.Content) == 0 { // an empty file
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "want a mapping of settings")
		return c, p.err()
	}
	var rules, fetchKey *yaml.Node
	knownHosts := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch key, val := root.Content[i].Value, root.Content[i+1]; key {
		case "users":
			p.users(val, c.Users)
		case "access":
			rules = val
		case "credentials":
			p.credentials(val, c.Credentials)
		case "git_credentials":
			p.gitCredentials(val, c.GitCredentials)
		case "fetch_key_projects":
			fetchKey = val
			c.FetchKey = p.globs(val, "fetch_key_projects")
		case "known_hosts":
			knownHosts = val.Value != ""
		}
	}
	if rules != nil {
		c.Rules = p.rules(rules, c.Users)
	}
	if fetchKey == nil && knownHosts {
		p.errorf(root, "fetch_key_projects: give the projects (names or globs) whose ssh:// dependency sources and mirrors "+
			"may be fetched with the server's fetch key, now that known_hosts lets them be fetched; [\"*\"] for every project, [] for none")
	}
	return c, p.err()
}

// parser collects the problems of one file.
type parser struct {
	file string
	errs []error
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.file, n.Line, fmt.Sprintf(format, args...)))
}

func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", errors.Join(p.errs...), baleen.ErrInvalid)
}

// mapping calls f with each key and value of n, a mapping; anything else is reported as not one.
func (p *parser) mapping(n *yaml.Node, what string, f func(key, val *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping", what)
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f(n.Content[i], n.Content[i+1])
	}
}

// strings reads a list of strings; a lone string is not accepted, so that a forgotten bracket is noticed.
func (p *parser) strings(n *yaml.Node, what string) []string {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a list of strings", what)
		return nil
	}
	var out []string
	for _, e := range n.Content {
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
			p.errorf(e, "%s: want a string", what)
			continue
		}
		out = append(out, e.Value)
	}
	return out
}

func (p *parser) users(n *yaml.Node, users map[string]User) {
	owner := map[string]string{} // inline key fingerprint -> user
	p.mapping(n, "users", func(k, v *yaml.Node) {
		name := k.Value
		if !userNamePattern.MatchString(name) {
			p.errorf(k, "users: user name %q: use letters, digits, '.', '_' or '-' (at most 64)", name)
			return
		}
		u := User{Name: name}
		where := "users." + name
		p.mapping(v, where, func(fk, fv *yaml.Node) {
			switch fk.Value {
			case "keys":
				for i, line := range p.strings(fv, where+".keys") {
					key, err := parseKeyLine(line)
					if err != nil {
						p.errorf(fv.Content[i], "%s.keys[%d]: %v", where, i, err)
						continue
					}
					fp := gossh.FingerprintSHA256(key)
					if other, ok := owner[fp]; ok {
						p.errorf(fv.Content[i], "%s.keys[%d]: key %s is listed for %s too; a key is one user's", where, i, fp, other)
						continue
					}
					owner[fp] = name
					u.Keys = append(u.Keys, key)
				}
			case "key_files":
				for i, f := range p.strings(fv, where+".key_files") {
					if _, err := os.Stat(f); err != nil {
						p.errorf(fv.Content[i], "%s.key_files[%d]: %v", where, i, err)
					}
					u.KeyFiles = append(u.KeyFiles, f)
				}
			case "email":
				u.Email = fv.Value
			default:
				p.errorf(fk, "%s: unknown key %q (want keys, key_files or email)", where, fk.Value)
			}
		})
		if len(u.Keys) == 0 && len(u.KeyFiles) == 0 {
			p.errorf(k, "%s: give keys or key_files", where)
		}
		users[name] = u
	})
}

func (p *parser) rules(n *yaml.Node, users map[string]User) []Rule {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "access: want a list of rules {projects: [...], users: [...], role: ...}")
		return nil
	}
	var rules []Rule
	for i, rn := range n.Content {
		where := fmt.Sprintf("access[%d]", i)
		r := Rule{Line: rn.Line}
		var roleSet bool
		p.mapping(rn, where, func(k, v *yaml.Node) {
			switch k.Value {
			case "projects":
				r.Projects = p.globs(v, where+".projects")
			case "users":
				r.Users = p.ruleUsers(v, where+".users", users)
			case "role":
				role, err := baleen.ParseRole(v.Value)
				if err != nil {
					p.errorf(v, "%s.role: %v", where, strings.TrimSuffix(err.Error(), ": "+baleen.ErrInvalid.Error()))
				}
				r.Role, roleSet = role, true
			default:
				p.errorf(k, "%s: unknown key %q (want projects, users and role)", where, k.Value)
			}
		})
		switch {
		case rn.Kind != yaml.MappingNode:
		case len(r.Projects) == 0:
			p.errorf(rn, "%s: give projects, a list of names or globs", where)
		case len(r.Users) == 0:
			p.errorf(rn, "%s: give users, a list of user names (\"*\" for all)", where)
		case !roleSet:
			p.errorf(rn, "%s: give role: read, write, deploy or admin", where)
		}
		rules = append(rules, r)
	}
	return rules
}

func (p *parser) ruleUsers(n *yaml.Node, where string, users map[string]User) []string {
	names := p.strings(n, where)
	for i, u := range names {
		if _, ok := users[u]; !ok && u != AnyUser {
			p.errorf(n.Content[i], "%s: %q is not a user under users:", where, u)
		}
	}
	return names
}

// globs reads a list of project names or globs.
func (p *parser) globs(n *yaml.Node, where string) []string {
	gs := p.strings(n, where)
	for i, g := range gs {
		if err := checkGlob(g); err != nil {
			p.errorf(n.Content[i], "%s: %v", where, err)
		}
	}
	return gs
}

func checkGlob(g string) error {
	if g == "" {
		return errors.New("an empty pattern matches no project")
	}
	if _, err := path.Match(g, ""); err != nil {
		return fmt.Errorf("pattern %q: %w", g, err)
	}
	if strings.Contains(g, "/") {
		return fmt.Errorf("pattern %q: project names hold no '/'", g)
	}
	return nil
}

func (p *parser) credentials(n *yaml.Node, scopes map[string][]string) {
	p.scopes(n, "credentials", "the projects (names or globs) that may use it", scopes)
}

// gitCredentials reads the projects of each login under git_credentials; the login itself is the server's.
func (p *parser) gitCredentials(n *yaml.Node, scopes map[string][]string) {
	p.scopes(n, "git_credentials", "the projects (names or globs) whose https:// dependency sources and mirrors may use this login", scopes)
}

// scopes reads the required projects of each entry of section, a mapping by name; what says what they
// are for, when one is missing.
func (p *parser) scopes(n *yaml.Node, section, what string, scopes map[string][]string) {
	p.mapping(n, section, func(k, v *yaml.Node) {
		where := section + "." + k.Value
		var seen bool
		p.mapping(v, where, func(fk, fv *yaml.Node) {
			if fk.Value == "projects" {
				scopes[k.Value] = p.globs(fv, where+".projects")
				seen = true
			}
		})
		if !seen && v.Kind == yaml.MappingNode {
			p.errorf(k, "%s: give projects, %s; [\"*\"] for every project", where, what)
		}
	})
}

// parseKeyLine reads one authorized_keys line. Options (from=, command=, restrict...) are refused: Baleen
// honours none, and a key let in without the limits its line asks for would be a surprise.
func parseKeyLine(line string) (gossh.PublicKey, error) {
	key, _, options, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("not an SSH public key: %w", err)
	}
	if len(options) > 0 {
		return nil, fmt.Errorf("key options %q are not supported; remove them to authorize this key", strings.Join(options, ","))
	}
	return key, nil
}

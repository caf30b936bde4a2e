package spec

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"unicode"

	"github.com/baleen-ci/baleen"
	"go.yaml.in/yaml/v3"
)

// MaxSize is the largest baleen.yml, in bytes, that Parse accepts. Callers reading the file may stop
// reading past it.
const MaxSize = 1 << 20

// File is a parsed and validated baleen.yml together with the positions of its build images, which
// CheckTree needs to point at the key a missing directory or Dockerfile came from. ParseFile makes one.
type File struct {
	// Spec is the parsed file with every default filled in. It is never nil.
	Spec *baleen.Spec
	// Warnings are what is valid but likely not meant, such as a literal push tag one letter away from a
	// keyword (`comit`). Each has Warning set.
	Warnings Errors

	name    string
	images  map[string]imagePos
	secrets []SecretUse
	target  position
}

// position is a place in the file.
type position struct{ line, col int }

// imagePos is where one build image was written: its key, its context and its dockerfile (the key's place
// when they were not written out).
type imagePos struct{ key, context, dockerfile position }

// Parse parses and validates a baleen.yml and returns its Spec with defaults filled in. filename names the
// file in messages ("baleen.yml"). On failure the error is an Errors holding every problem found. Use
// ParseFile instead when the repository's files are at hand, to check them with File.CheckTree.
func Parse(filename string, data []byte) (*baleen.Spec, error) {
	f, err := ParseFile(filename, data)
	if err != nil {
		return nil, err
	}
	return f.Spec, nil
}

// ParseFile parses and validates a baleen.yml like Parse, and keeps what File.CheckTree needs.
func ParseFile(filename string, data []byte) (*File, error) {
	p := &parser{file: filename, images: make(map[string]imagePos), buildSet: make(map[string]bool)}
	if len(data) > MaxSize {
		return nil, Errors{TooLarge(filename, int64(len(data)))}
	}
	top, problem := decode(filename, data)
	if problem != nil {
		return nil, Errors{problem}
	}
	var expanded int
	if !p.scan(top, false, &expanded) {
		return nil, p.result()
	}
	s := p.spec(top)
	if err := p.result(); err != nil {
		return nil, err
	}
	return &File{Spec: s, Warnings: p.warnings.sorted(), name: filename, images: p.images, secrets: p.secrets,
		target: p.target}, nil
}

// TooLarge is the problem of a file of size bytes, over MaxSize: for callers that stop reading at MaxSize
// and know the size otherwise (from a stat, or a git tree entry).
func TooLarge(filename string, size int64) *Error {
	return &Error{File: filename, Line: 1, Col: 1,
		Msg: fmt.Sprintf("the file is %d bytes, over the limit of %d (1 MiB)", size, MaxSize)}
}

// CheckTree checks s against the repository's files, as File.CheckTree does, but without positions: its
// problems name the key ("build.api") and the file "baleen.yml", not a line. Prefer ParseFile and
// File.CheckTree, which point at the line.
func CheckTree(s *baleen.Spec, tree fs.FS) error {
	return (&File{Spec: s, name: "baleen.yml"}).CheckTree(tree)
}

// parser holds what one parse has found so far.
type parser struct {
	file   string
	errs   Errors
	images map[string]imagePos
	// builds are the build image names, in file order; buildSet holds the same names.
	builds   []string
	buildSet map[string]bool
	// more counts the problems found past MaxErrors.
	more     int
	warnings Errors
	// secrets are the secret names the file lists, where it lists them.
	secrets []SecretUse
	// target is where deploy.target is written.
	target position
}

// errorf records a problem at n (the start of the file when n is nil), or only counts it past MaxErrors.
func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	if len(p.errs) >= MaxErrors {
		p.more++
		return
	}
	p.errs = append(p.errs, p.at(n, format, args...))
}

// warnf records something valid but likely not meant, at n.
func (p *parser) warnf(n *yaml.Node, format string, args ...any) {
	if len(p.warnings) < MaxErrors {
		w := p.at(n, format, args...)
		w.Warning = true
		p.warnings = append(p.warnings, w)
	}
}

func (p *parser) at(n *yaml.Node, format string, args ...any) *Error {
	e := &Error{File: p.file, Line: 1, Col: 1, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	return e
}

func pos(n *yaml.Node) position { return position{n.Line, n.Column} }

// sections names the kinds of mapping a baleen.yml holds, each with its own keys (see keysOf).
func sections() []string {
	return []string{"top", "build", "depends", "ready", "test", "artifacts", "artifact", "push", "deploy", "unit", "health"}
}

// keysOf lists the keys each section of a baleen.yml allows, in the order the documentation gives them.
// The sections are those of docs/baleen.schema.json; the tests hold the two in step.
func keysOf(section string) []string {
	switch section {
	case "top":
		return []string{"build", "depends", "test", "credentials", "artifacts", "push", "deploy", "runs_on"}
	case "build":
		return []string{"context", "dockerfile", "args", "target", "builder"}
	case "depends":
		return []string{"image", "src", "branch", "minhash", "env", "credentials", "command", "ready", "after", "rebuild_dependents"}
	case "ready":
		return []string{"command", "timeout"}
	case "test":
		return []string{"image", "command", "env", "credentials", "workdir", "timeout"}
	case "artifacts":
		return []string{"xunit", "allow_no_tests", "coverage", "coverage_html", "files"}
	case "artifact":
		return []string{"path", "paths"}
	case "push":
		return []string{"registry", "images", "tags", "repositories"}
	case "deploy":
		return []string{"target", "branch", "strategy", "units"}
	case "unit":
		return []string{"image", "command", "ports", "env", "credentials", "volumes", "health"}
	case "health":
		return []string{"http", "command", "timeout"}
	}
	return nil
}

// spec interprets the top-level mapping.
func (p *parser) spec(top *yaml.Node) *baleen.Spec {
	s := &baleen.Spec{}
	pairs, ok := p.mapping(top, "top level", "a mapping of sections (build, depends, test, ...)")
	if !ok {
		return s
	}
	m := p.known(pairs, "top", "")
	// build comes first: the other sections refer to its images.
	if kv, ok := m["build"]; ok {
		s.Build = p.build(kv.val)
	} else {
		p.errorf(top, "build: required: list the images this repository builds, such as `build: {app: .}`")
	}
	if kv, ok := m["depends"]; ok && !isNull(kv.val) {
		s.Depends = p.depends(kv.val)
	}
	s.Test = p.test(m["test"].val)
	if kv, ok := m["credentials"]; ok && !isNull(kv.val) {
		s.Credentials = p.names(kv.val, "credentials", "secret names")
	}
	p.envClash(valueOf(m["test"].val, "env"), "test.env", s.SubjectSecrets())
	if kv, ok := m["artifacts"]; ok && !isNull(kv.val) {
		s.Artifacts = p.artifacts(kv.val)
	}
	if kv, ok := m["runs_on"]; ok && !isNull(kv.val) {
		s.RunsOn = p.labels(kv.val, "runs_on")
	}
	if kv, ok := m["push"]; ok && !isEmpty(kv.val) {
		s.Push = p.push(kv.val)
	}
	if kv, ok := m["deploy"]; ok && !isEmpty(kv.val) {
		s.Deploy = p.deploy(kv.val)
	}
	return s
}

// build reads the build section: image name -> context, or -> {context, dockerfile, args, target}.
func (p *parser) build(n *yaml.Node) []baleen.ImageBuild {
	pairs, ok := p.mapping(n, "build", "a mapping of image names to build contexts")
	if !ok {
		return nil
	}
	if len(deref(n).Content) == 0 {
		p.errorf(n, "build: want at least one image, such as `build: {app: .}`")
		return nil
	}
	pairs = pairs[:p.capEntries(n, "build", "images", len(pairs), MaxImages)]
	var out []baleen.ImageBuild
	for _, kv := range pairs {
		path := join("build", kv.name)
		// A bad name is reported, and what it holds is checked all the same.
		badName := checkImageName(kv.name)
		if badName != "" {
			p.errorf(kv.key, "%s: %s", path, badName)
		}
		ib := baleen.ImageBuild{Name: kv.name, Context: ".", Dockerfile: "Dockerfile"}
		// A context or dockerfile left out is blamed on the key that stands for it.
		at := imagePos{key: pos(kv.key), context: pos(kv.key)}
		var ctxNode, dfNode *yaml.Node
		switch v := deref(kv.val); {
		case v.Kind == yaml.MappingNode:
			pairs, _ := p.mapping(kv.val, path, "")
			m := p.known(pairs, "build", path)
			ctxNode, dfNode = m["context"].val, m["dockerfile"].val
			if a, ok := m["args"]; ok {
				ib.Args = p.envMap(a.val, path+".args", "build argument")
			}
			if t, ok := m["target"]; ok {
				if s, ok := p.str(t.val, path+".target", "a build stage name"); ok {
					if !stageNamePattern.MatchString(s) {
						p.errorf(t.val, "%s.target: %q is not a valid build stage name", path, s)
					} else {
						ib.Target = s
					}
				}
			}
			if b, ok := m["builder"]; ok {
				ib.Builder = p.builder(b.val, path+".builder")
			}
		case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
			ctxNode = kv.val
		default:
			p.errorf(kv.val, "%s: want a string (a build context) or a mapping, got %s", path, kindName(kv.val))
		}
		if ctxNode != nil {
			at.context = pos(ctxNode)
			if s, ok := p.str(ctxNode, path+".context", "a directory relative to the repository root"); ok {
				if c, msg := cleanRel(s, "build context"); msg != "" {
					p.errorf(ctxNode, "%s: %s", path, msg)
				} else {
					ib.Context = c
				}
			}
		}
		at.dockerfile = at.context
		if dfNode != nil {
			at.dockerfile = pos(dfNode)
			if s, ok := p.str(dfNode, path+".dockerfile", "a path relative to the context"); ok {
				switch c, msg := cleanRel(s, "dockerfile"); {
				case msg != "":
					p.errorf(dfNode, "%s: %s", path, strings.Replace(msg, "leaves the repository", "leaves the build context", 1))
				case c == ".":
					p.errorf(dfNode, "%s.dockerfile: want a file, got the context directory itself", path)
				default:
					ib.Dockerfile = c
				}
			}
		}
		if badName != "" {
			continue
		}
		p.images[kv.name] = at
		p.builds = append(p.builds, kv.name)
		p.buildSet[kv.name] = true
		out = append(out, ib)
	}
	return out
}

// image checks a reference to an image: one of the build images, or an outside reference. A bare name
// close to a build image's is taken for a typo of it.
func (p *parser) image(n *yaml.Node, path, ref string) bool {
	if p.buildSet[ref] {
		return true
	}
	if !strings.ContainsAny(ref, ":/@") {
		if s := p.suggest(ref, p.builds); s != "" {
			p.errorf(n, "%s: %q is not one of the build images; did you mean %s? (for an outside image, give its tag: %s:latest)", path, ref, s, ref)
			return false
		}
	}
	if msg := checkImageRef(ref); msg != "" {
		p.errorf(n, "%s: %s", path, msg)
		return false
	}
	return true
}

// buildImage checks that ref names one of the build images.
func (p *parser) buildImage(n *yaml.Node, path, ref string) bool {
	if p.buildSet[ref] {
		return true
	}
	if s := p.suggest(ref, p.builds); s != "" {
		p.errorf(n, "%s: %q is not one of the build images; did you mean %s?", path, ref, s)
	} else {
		p.errorf(n, "%s: %q is not one of the build images (%s)", path, ref, truncate(strings.Join(p.builds, ", "), 200))
	}
	return false
}

// depends reads the depends section: hostname -> dependency.
func (p *parser) depends(n *yaml.Node) []baleen.Dependency {
	pairs, ok := p.mapping(n, "depends", "a mapping of hostnames to dependencies")
	if !ok {
		return nil
	}
	pairs = pairs[:p.capEntries(n, "depends", "dependencies", len(pairs), MaxDepends)]
	var out []baleen.Dependency
	after := make(map[string][]*yaml.Node)
	for _, kv := range pairs {
		path := join("depends", kv.name)
		// A bad hostname is reported, and what it holds is checked all the same.
		badName := !hostnamePattern.MatchString(kv.name)
		if badName {
			p.errorf(kv.key, "%s: %q is not a valid hostname: use lowercase letters, digits and '-', at most 63", path, kv.name)
		}
		pairs, ok := p.mapping(kv.val, path, "a mapping with image or src")
		if !ok {
			continue
		}
		m := p.known(pairs, "depends", path)
		d := baleen.Dependency{Name: kv.name, Ready: baleen.Ready{Timeout: baleen.DefaultReadyTimeout}}
		if f, ok := m["src"]; ok {
			if s, ok := p.str(f.val, path+".src", "a repository URL or project name"); ok {
				if msg := checkSrc(s); msg != "" {
					p.errorf(f.val, "%s: %s", path, msg)
				} else {
					d.Src = s
				}
			}
		}
		if f, ok := m["image"]; ok {
			if s, ok := p.str(f.val, path+".image", "an image name"); ok {
				switch _, src := m["src"]; {
				case src:
					// With src, image names one of the other repository's build images.
					if msg := checkImageName(s); msg != "" {
						p.errorf(f.val, "%s.image: %s", path, msg)
					} else {
						d.Image = s
					}
				case p.image(f.val, path+".image", s):
					d.Image = s
				}
			}
		}
		_, hasImage := m["image"]
		_, hasSrc := m["src"]
		if !hasImage && !hasSrc {
			p.errorf(kv.val, "%s: want image (an image to run) or src (a repository to build and run), or both", path)
		}
		for _, key := range []string{"branch", "minhash", "rebuild_dependents"} {
			if f, ok := m[key]; ok && !hasSrc {
				p.errorf(f.key, "%s.%s: only applies to a dependency with src", path, key)
			}
		}
		if f, ok := m["branch"]; ok && hasSrc {
			if s, ok := p.str(f.val, path+".branch", "a branch name"); ok {
				if msg := checkBranch(s); msg != "" {
					p.errorf(f.val, "%s.branch: %s", path, msg)
				} else {
					d.Branch = s
				}
			}
		}
		if f, ok := m["minhash"]; ok && hasSrc {
			if s, ok := p.str(f.val, path+".minhash", "a commit hash"); ok {
				if !minhashPattern.MatchString(s) {
					p.errorf(f.val, "%s.minhash: %q is not a commit hash: want 4 to 40 hexadecimal digits", path, s)
				} else {
					d.MinHash = strings.ToLower(s)
				}
			}
		}
		if f, ok := m["rebuild_dependents"]; ok && hasSrc {
			d.RebuildDependents = p.boolean(f.val, path+".rebuild_dependents")
		}
		if f, ok := m["env"]; ok {
			d.Env = p.envMap(f.val, path+".env", "variable")
		}
		if f, ok := m["credentials"]; ok && !isNull(f.val) {
			d.Credentials = p.names(f.val, path+".credentials", "secret names")
			p.envClash(m["env"].val, path+".env", d.Credentials)
		}
		if f, ok := m["command"]; ok {
			d.Command = p.command(f.val, path+".command")
		}
		if f, ok := m["after"]; ok {
			d.After, after[kv.name] = p.strList(f.val, path+".after", "dependency hostnames")
		}
		if f, ok := m["ready"]; ok && !isNull(f.val) {
			if pairs, ok := p.mapping(f.val, path+".ready", "a mapping with command and timeout"); ok {
				r := p.known(pairs, "ready", path+".ready")
				if c, ok := r["command"]; ok {
					d.Ready.Command = p.command(c.val, path+".ready.command")
				}
				if t, ok := r["timeout"]; ok {
					if to, ok := p.duration(t.val, path+".ready.timeout"); ok {
						d.Ready.Timeout = to
					}
				}
			}
		}
		if !badName {
			out = append(out, d)
		}
	}
	names := make([]string, len(pairs))
	for i, kv := range pairs {
		names[i] = kv.name
	}
	p.checkAfter(names, after)
	return out
}

// test reads the test section; n may be nil.
func (p *parser) test(n *yaml.Node) baleen.Test {
	t := baleen.Test{Timeout: baleen.DefaultTestTimeout}
	if len(p.builds) > 0 {
		t.Image = p.builds[0]
	}
	if isNull(n) {
		return t
	}
	pairs, ok := p.mapping(n, "test", "a mapping (image, command, env, workdir, timeout)")
	if !ok {
		return t
	}
	m := p.known(pairs, "test", "test")
	if f, ok := m["image"]; ok {
		if s, ok := p.str(f.val, "test.image", "an image name"); ok && p.image(f.val, "test.image", s) {
			t.Image = s
		}
	}
	if f, ok := m["command"]; ok {
		t.Command = p.command(f.val, "test.command")
	}
	if f, ok := m["env"]; ok {
		t.Env = p.envMap(f.val, "test.env", "variable")
	}
	if f, ok := m["credentials"]; ok && !isNull(f.val) {
		t.Credentials = p.names(f.val, "test.credentials", "secret names")
	}
	if f, ok := m["workdir"]; ok {
		if s, ok := p.str(f.val, "test.workdir", "an absolute path inside the container"); ok {
			if c, msg := cleanAbs(s, "workdir"); msg != "" {
				p.errorf(f.val, "test.workdir: %s", msg)
			} else {
				t.Workdir = c
			}
		}
	}
	if f, ok := m["timeout"]; ok {
		if d, ok := p.duration(f.val, "test.timeout"); ok {
			t.Timeout = d
		}
	}
	return t
}

// builder reads a build's builder: "classic" forces the classic builder, "buildkit" is the default.
func (p *parser) builder(n *yaml.Node, path string) string {
	s, ok := p.str(n, path, "classic or buildkit")
	switch {
	case !ok:
	case s == "classic":
		return s
	case s != "buildkit":
		p.errorf(n, "%s: %q is not a builder: want classic or buildkit", path, s)
	}
	return ""
}

// labelPattern is what an engine label may be.
var labelPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// labels reads a list of engine labels (runs_on).
func (p *parser) labels(n *yaml.Node, path string) []string {
	list, nodes := p.strList(n, path, "engine labels")
	var out []string
	for i, s := range list {
		if !labelPattern.MatchString(s) {
			p.errorf(nodes[i], "%s[%d]: %q is not an engine label (lowercase letters, digits, '.', '_' and '-')", path, i, s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// names reads a list of unique variable names (credentials).
func (p *parser) names(n *yaml.Node, path, want string) []string {
	list, nodes := p.strList(n, path, want)
	var out []string
	first := make(map[string]int)
	for i, s := range list {
		epath := fmt.Sprintf("%s[%d]", path, i)
		if msg := checkEnvName(s); msg != "" {
			p.errorf(nodes[i], "%s: %s", epath, msg)
			continue
		}
		if line, dup := first[s]; dup {
			p.errorf(nodes[i], "%s: %s is listed twice (first at line %d)", epath, s, line)
			continue
		}
		first[s] = nodes[i].Line
		p.secrets = append(p.secrets, SecretUse{Name: s, Path: epath, Line: nodes[i].Line, Col: nodes[i].Column})
		out = append(out, s)
	}
	return out
}

// artifacts reads the artifacts section.
func (p *parser) artifacts(n *yaml.Node) baleen.Artifacts {
	var a baleen.Artifacts
	pairs, ok := p.mapping(n, "artifacts", "a mapping (xunit, coverage, coverage_html, files)")
	if !ok {
		return a
	}
	m := p.known(pairs, "artifacts", "artifacts")
	a.XUnit = p.artifactPaths(m["xunit"].val, "artifacts.xunit")
	if n := m["allow_no_tests"].val; n != nil {
		if b := p.boolean(n, "artifacts.allow_no_tests"); b != nil {
			a.AllowNoTests = *b
		}
	}
	a.Coverage = p.artifactPaths(m["coverage"].val, "artifacts.coverage")
	a.CoverageHTML = p.artifactPaths(m["coverage_html"].val, "artifacts.coverage_html")
	a.Files = p.artifactPaths(m["files"].val, "artifacts.files")
	return a
}

// artifactPaths reads one artifacts entry: a path, a list of paths, {path: X} or {paths: [X, Y]}.
func (p *parser) artifactPaths(n *yaml.Node, path string) []string {
	if n == nil {
		return nil
	}
	const want = "an absolute path inside the container"
	var list []string
	var nodes []*yaml.Node
	v := deref(n)
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
		if s, ok := p.str(n, path, want); ok {
			list, nodes = []string{s}, []*yaml.Node{n}
		}
	case v.Kind == yaml.SequenceNode:
		list, nodes = p.strList(n, path, "absolute paths inside the container")
	case v.Kind == yaml.MappingNode:
		pairs, _ := p.mapping(n, path, "")
		m := p.known(pairs, "artifact", path)
		if f, ok := m["path"]; ok {
			if s, ok := p.str(f.val, path+".path", want); ok {
				list, nodes = append(list, s), append(nodes, f.val)
			}
		}
		if f, ok := m["paths"]; ok {
			l, ns := p.strList(f.val, path+".paths", "absolute paths inside the container")
			list, nodes = append(list, l...), append(nodes, ns...)
		}
		if len(m) == 0 && len(pairs) == 0 {
			p.errorf(n, "%s: want path or paths", path)
		}
	default:
		p.errorf(n, "%s: want a path, a list of paths or a mapping with path or paths, got %s", path, kindName(n))
	}
	var out []string
	for i, s := range list {
		if c, msg := cleanAbs(s, "path"); msg != "" {
			p.errorf(nodes[i], "%s: %s", path, msg)
		} else {
			out = append(out, c)
		}
	}
	return out
}

// push reads the push section.
func (p *parser) push(n *yaml.Node) *baleen.Push {
	pairs, ok := p.mapping(n, "push", "a mapping (registry, images, tags, repositories)")
	if !ok {
		return nil
	}
	m := p.known(pairs, "push", "push")
	out := &baleen.Push{}
	if f, ok := m["registry"]; ok {
		if s, ok := p.str(f.val, "push.registry", "a registry such as registry.example.com:5000"); ok {
			if msg := checkRegistry(s); msg != "" {
				p.errorf(f.val, "push.registry: %s", msg)
			} else {
				out.Registry = s
			}
		}
	} else {
		p.errorf(n, "push.registry: required when push is set")
	}
	if f, ok := m["images"]; ok {
		list, nodes := p.strList(f.val, "push.images", "build image names")
		for i, s := range list {
			if p.buildImage(nodes[i], fmt.Sprintf("push.images[%d]", i), s) {
				out.Images = append(out.Images, s)
			}
		}
	}
	if f, ok := m["tags"]; ok {
		list, nodes := p.strList(f.val, "push.tags", "tags")
		for i, s := range list {
			if !tagPattern.MatchString(s) {
				p.errorf(nodes[i], "push.tags[%d]: %q is not a valid tag: want commit, short, branch, build, latest, or letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')", i, s)
				continue
			}
			if k := tagTypo(s); k != "" {
				p.warnf(nodes[i], "push.tags[%d]: %q is a literal tag; did you mean %s?", i, s, k)
			}
			out.Tags = append(out.Tags, s)
		}
	}
	if f, ok := m["repositories"]; ok && !isNull(f.val) {
		out.Repositories = p.repositories(f.val, out.Images)
	}
	return out
}

// repositories reads push.repositories: build image name -> the repository it is pushed to under the
// registry. Each must be an image that is pushed, and no two may share a repository.
func (p *parser) repositories(n *yaml.Node, pushed []string) map[string]string {
	pairs, ok := p.mapping(n, "push.repositories", "a mapping of build image names to repository names")
	if !ok {
		return nil
	}
	out := map[string]string{}
	first := map[string]string{}
	for _, kv := range pairs {
		path := join("push.repositories", kv.name)
		if !p.buildImage(kv.key, path, kv.name) {
			continue
		}
		if len(pushed) > 0 && !contains(pushed, kv.name) {
			p.errorf(kv.key, "%s: %s is not pushed (push.images lists %s)", path, kv.name, strings.Join(pushed, ", "))
			continue
		}
		repo, ok := p.str(kv.val, path, "a repository name such as team/api")
		if !ok {
			continue
		}
		if msg := checkImageName(repo); msg != "" {
			p.errorf(kv.val, "%s: %s", path, strings.Replace(msg, "image name", "repository name", 1))
			continue
		}
		if other, dup := first[repo]; dup {
			p.errorf(kv.val, "%s: %s is also the repository of %s", path, repo, other)
			continue
		}
		first[repo] = kv.name
		out[kv.name] = repo
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// deploy reads the deploy section, keeping it whole in Raw.
func (p *parser) deploy(n *yaml.Node) *baleen.Deploy {
	pairs, ok := p.mapping(n, "deploy", "a mapping (target, branch, strategy, units)")
	if !ok {
		return nil
	}
	m := p.known(pairs, "deploy", "deploy")
	out := &baleen.Deploy{}
	if raw, ok := toAny(n).(map[string]any); ok {
		out.Raw = raw
	}
	if f, ok := m["target"]; ok {
		if s, ok := p.str(f.val, "deploy.target", "a deploy target"); ok {
			if strings.ContainsFunc(s, unicode.IsSpace) || hasControl(s) {
				p.errorf(f.val, "deploy.target: %q is not a target name: no spaces or control characters", s)
			} else {
				out.Target, p.target = s, pos(f.val)
			}
		}
	} else {
		p.errorf(n, "deploy.target: required when deploy is set: a target in the server config's targets")
	}
	if f, ok := m["branch"]; ok {
		if s, ok := p.str(f.val, "deploy.branch", "a branch name"); ok {
			if msg := checkBranch(s); msg != "" {
				p.errorf(f.val, "deploy.branch: %s", msg)
			} else {
				out.Branch = s
			}
		}
	}
	if f, ok := m["strategy"]; ok {
		if s, ok := p.str(f.val, "deploy.strategy", "rolling or all"); ok {
			if s != "rolling" && s != "all" {
				p.errorf(f.val, "deploy.strategy: want rolling or all, got %q", s)
			} else {
				out.Strategy = s
			}
		}
	}
	if f, ok := m["units"]; ok {
		out.Units = p.units(f.val)
	}
	return out
}

// envClash reports each variable of the env mapping n, at path, that shares its name with one of creds, the
// credentials the same container gets: one would silently replace the other.
func (p *parser) envClash(n *yaml.Node, path string, creds []string) {
	v := deref(n)
	if v == nil || v.Kind != yaml.MappingNode || len(creds) == 0 {
		return
	}
	secret := make(map[string]bool, len(creds))
	for _, c := range creds {
		secret[c] = true
	}
	for i := 0; i+1 < min(len(v.Content), 2*MaxEntries); i += 2 {
		if k := deref(v.Content[i]); k != nil && secret[k.Value] {
			p.errorf(v.Content[i], "%s: %s is also a credential this container gets: name the variable otherwise, or drop it", join(path, k.Value), k.Value)
		}
	}
}

// valueOf returns the value of key in the mapping n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	v := deref(n)
	if v == nil || v.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		if k := deref(v.Content[i]); k != nil && k.Value == key {
			return v.Content[i+1]
		}
	}
	return nil
}

// oneLine reports each string under n, at path, that bad finds fault with: what a deploy unit writes into a
// unit file or an environment file, where a line break would end the line and start one of the pusher's
// choosing. what says what it holds and why that cannot be.
func (p *parser) oneLine(n *yaml.Node, path string, bad func(string) bool, what string) {
	v := deref(n)
	switch {
	case v == nil:
	case v.Kind == yaml.ScalarNode && bad(v.Value):
		p.errorf(n, "%s: holds %s", path, what)
	case v.Kind == yaml.SequenceNode:
		for i, e := range v.Content[:min(len(v.Content), MaxEntries)] {
			p.oneLine(e, fmt.Sprintf("%s[%d]", path, i), bad, what)
		}
	case v.Kind == yaml.MappingNode:
		for i := 0; i+1 < min(len(v.Content), 2*MaxEntries); i += 2 {
			p.oneLine(v.Content[i+1], join(path, v.Content[i].Value), bad, what)
		}
	}
}

// hasLineBreak reports whether s holds a newline or a carriage return.
func hasLineBreak(s string) bool { return strings.ContainsAny(s, "\r\n") }

// units reads deploy.units, in file order.
func (p *parser) units(n *yaml.Node) []baleen.DeployUnit {
	pairs, ok := p.mapping(n, "deploy.units", "a mapping of unit names to units")
	if !ok {
		return nil
	}
	pairs = pairs[:p.capEntries(n, "deploy.units", "units", len(pairs), MaxUnits)]
	var units []baleen.DeployUnit
	for _, kv := range pairs {
		path := join("deploy.units", kv.name)
		// A bad name is reported, and what it holds is checked all the same.
		// ".." is the deployer's separator between project and unit ("baleen-<project>..<unit>").
		badName := !unitNamePattern.MatchString(kv.name) || strings.Contains(kv.name, "..")
		if badName {
			p.errorf(kv.key, "%s: %q is not a valid unit name: use lowercase letters, digits, '.', '_' and '-', at most 63, without \"..\"", path, kv.name)
		}
		pairs, ok := p.mapping(kv.val, path, "a mapping with at least image")
		if !ok {
			continue
		}
		m := p.known(pairs, "unit", path)
		u := baleen.DeployUnit{Name: kv.name}
		if f, ok := m["image"]; ok {
			if s, ok := p.str(f.val, path+".image", "a build image name"); ok {
				p.buildImage(f.val, path+".image", s)
				u.Image = s
			}
		} else {
			p.errorf(kv.val, "%s.image: required: the build image the unit runs", path)
		}
		if f, ok := m["command"]; ok {
			u.Command = p.command(f.val, path+".command")
			p.oneLine(f.val, path+".command", hasControl, "a line break or a tab, which a unit file cannot hold: write one line")
		}
		if f, ok := m["ports"]; ok {
			list, nodes := p.strList(f.val, path+".ports", "ports")
			for i, s := range list {
				if !checkPort(s) {
					p.errorf(nodes[i], "%s.ports[%d]: %q is not a port: want [ip:][host_port:]container_port[/tcp|udp], ports from 1 to 65535", path, i, s)
				}
			}
			u.Ports = list
		}
		if f, ok := m["env"]; ok {
			u.Env = p.envMap(f.val, path+".env", "variable")
			p.oneLine(f.val, path+".env", hasLineBreak, "a line break, which an environment file cannot hold")
		}
		if f, ok := m["credentials"]; ok {
			u.Credentials = p.names(f.val, path+".credentials", "secret names")
			p.envClash(m["env"].val, path+".env", u.Credentials)
		}
		if f, ok := m["volumes"]; ok {
			list, nodes := p.strList(f.val, path+".volumes", "volumes")
			for i, s := range list {
				if msg := checkVolume(s); msg != "" {
					p.errorf(nodes[i], "%s.volumes[%d]: %s", path, i, msg)
				}
			}
			u.Volumes = list
		}
		if f, ok := m["health"]; ok {
			hpath := path + ".health"
			if pairs, ok := p.mapping(f.val, hpath, "a mapping (http, command, timeout)"); ok {
				h := p.known(pairs, "health", hpath)
				if g, ok := h["http"]; ok {
					if s, ok := p.str(g.val, hpath+".http", "an http URL"); ok {
						if msg := checkHTTP(s); msg != "" {
							p.errorf(g.val, "%s.http: %s", hpath, msg)
						}
						u.Health.HTTP = s
					}
				}
				if g, ok := h["command"]; ok {
					u.Health.Command = p.command(g.val, hpath+".command")
				}
				if g, ok := h["timeout"]; ok {
					u.Health.Timeout, _ = p.duration(g.val, hpath+".timeout")
				}
			}
		}
		if u.Health.Timeout == 0 {
			u.Health.Timeout = baleen.DefaultHealthTimeout
		}
		if !badName {
			units = append(units, u)
		}
	}
	return units
}

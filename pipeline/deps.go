package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// DependencyRepos is what resolving repository dependencies needs of the repositories: gitd.Repositories
// has it.
type DependencyRepos interface {
	baleen.Repositories
	// Fetch fetches branch (the remote's default when empty) of src into project's repository and returns
	// the branch and its head commit. forProjects are the projects it is made for (the dependent whose
	// baleen.yml names src and those above it): the server's fetch credentials are used only when every
	// one of them may use them.
	Fetch(ctx context.Context, forProjects []string, project, src, branch string) (string, string, error)
	// MayFetch returns the error Fetch would return for src, made for forProjects, before it connects (a
	// source of a kind it refuses, credentials that one of forProjects may not use).
	MayFetch(forProjects []string, src string) error
	// Contains reports whether rev names a commit in the history of commit, and its full id.
	Contains(ctx context.Context, project, commit, rev string) (string, bool, error)
}

// DependencyTarget is one repository dependency to build: a commit of a project.
type DependencyTarget struct {
	// Name is the key under depends.
	Name    string
	Project string
	Src     string
	Branch  string
	Commit  string
	// Chain is the projects from the first dependent down to this one, for cycle detection.
	Chain []string
}

// DependencyResult is a built (or reused) dependency.
type DependencyResult struct {
	Build  int
	Reused bool
	// Images maps the dependency's build image names to references the engine has.
	Images map[string]string
}

// BuildDependency builds one dependency, or reuses a green build of its commit, and says which images it
// has. It returns an error when the dependency's build failed.
type BuildDependency func(ctx context.Context, t DependencyTarget, out io.Writer) (DependencyResult, error)

// DependencyProjects names the projects that dependencies live in.
type DependencyProjects interface {
	// Local reports whether src is the bare name of a project on this server rather than a URL or a path;
	// an error refuses the dependency (a project the build may not use).
	Local(ctx context.Context, src string) (bool, error)
	// Claim returns the project that the repository at src is fetched into, given the name derived from
	// its URL, making the project if need be (and saying so). A name that belongs to another source (a
	// pushed project, or another URL with the same last element) is never reused: that would overwrite its
	// branches.
	Claim(ctx context.Context, name, src string) (project string, created bool, err error)
}

// DisambiguatedName is name followed by a digest of src: the project name of a dependency whose derived
// name is taken by another source.
func DisambiguatedName(name, src string) string {
	sum := sha256.Sum256([]byte(src))
	suffix := "-" + hex.EncodeToString(sum[:])[:8]
	if len(name)+len(suffix) > 63 {
		name = name[:63-len(suffix)]
	}
	return name + suffix
}

// cacheProjects names dependencies in a local cache: always after their URL and its digest, so that two
// sources with the same last element never share a repository. Nothing is local.
type cacheProjects struct{}

func (cacheProjects) Local(context.Context, string) (bool, error) { return false, nil }
func (cacheProjects) Claim(_ context.Context, name, src string) (string, bool, error) {
	return DisambiguatedName(name, src), false, nil
}

// ResolveDependencies builds, bottom-up, the repository dependencies (depends.NAME.src) of s, whose build
// is the last project of chain, and returns the image each runs as and the records of the builds used.
// A cycle, a dependency without a baleen.yml, a minhash outside the fetched branch and a dependency whose
// build fails are errors that name the dependency.
//
// projects names the dependencies' projects; nil names them for a local cache.
func ResolveDependencies(ctx context.Context, s *baleen.Spec, chain []string, repos DependencyRepos, projects DependencyProjects,
	build BuildDependency, out io.Writer) (map[string]string, []baleen.DependencyBuild, error) {
	images := map[string]string{}
	var records []baleen.DependencyBuild
	for _, d := range s.Depends {
		if d.Src == "" {
			continue
		}
		if projects == nil {
			projects = cacheProjects{}
		}
		rec, ref, err := resolveOne(ctx, d, chain, repos, projects, build, out)
		if err != nil {
			return images, records, fmt.Errorf("dependency %s: %w", d.Name, err)
		}
		images[d.Name] = ref
		records = append(records, rec)
	}
	return images, records, nil
}

func resolveOne(ctx context.Context, d baleen.Dependency, chain []string, repos DependencyRepos, projects DependencyProjects,
	build BuildDependency, out io.Writer) (baleen.DependencyBuild, string, error) {
	rec := baleen.DependencyBuild{Name: d.Name, RebuildDependents: d.RebuildDependents == nil || *d.RebuildDependents}
	var err error
	if strings.HasPrefix(d.Src, "./") || strings.HasPrefix(d.Src, "../") {
		return rec, "", fmt.Errorf("src %s is relative; here it must be an absolute path or a URL (relative paths work only for the repository baleen build is given)", d.Src)
	}
	if err := locate(ctx, d, &rec, chain, repos, projects, out); err != nil {
		return rec, "", err
	}
	if d.MinHash != "" {
		full, ok, err := repos.Contains(ctx, rec.Project, rec.Commit, d.MinHash)
		if err != nil {
			return rec, "", err
		}
		if !ok {
			return rec, "", fmt.Errorf("minhash %s is not in the history of %s (its head is %s)", d.MinHash, rec.Branch, short(rec.Commit))
		}
		fmt.Fprintf(out, "%s: %s contains minhash %s\n", rec.Project, short(rec.Commit), short(full))
	}
	tree, err := repos.Tree(ctx, rec.Project, rec.Commit)
	if err != nil {
		return rec, "", err
	}
	data, err := fs.ReadFile(tree, "baleen.yml")
	if errors.Is(err, fs.ErrNotExist) {
		return rec, "", fmt.Errorf("%s has no baleen.yml at %s", rec.Project, short(rec.Commit))
	}
	if err != nil {
		return rec, "", err
	}
	ds, err := spec.Parse("baleen.yml", data)
	if err != nil {
		return rec, "", fmt.Errorf("%s's baleen.yml at %s is not valid:\n%w", rec.Project, short(rec.Commit), err)
	}
	res, err := build(ctx, DependencyTarget{Name: d.Name, Project: rec.Project, Src: d.Src, Branch: rec.Branch, Commit: rec.Commit,
		Chain: append(append([]string{}, chain...), rec.Project)}, out)
	if err != nil {
		return rec, "", err
	}
	rec.Build, rec.Reused = res.Build, res.Reused
	image := d.Image
	if image == "" {
		image = ds.Build[0].Name
	}
	ref, ok := res.Images[image]
	if !ok {
		return rec, "", fmt.Errorf("%s builds no image %q", rec.Project, image)
	}
	return rec, ref, nil
}

// locate finds the project, branch and commit of dependency d into rec: a project of this server, or the
// repository at d.Src fetched into a project of its own. A project already in chain is a cycle.
func locate(ctx context.Context, d baleen.Dependency, rec *baleen.DependencyBuild, chain []string, repos DependencyRepos,
	projects DependencyProjects, out io.Writer) error {
	var err error
	onServer, err := projects.Local(ctx, d.Src)
	if err != nil {
		return fmt.Errorf("depends.%s.src: %w", d.Name, err)
	}
	if onServer {
		rec.Project = d.Src
	} else {
		if err := repos.MayFetch(chain, d.Src); err != nil {
			return err // before a project is made for it: a refused src leaves nothing
		}
		name, err := ProjectName(d.Src)
		if err != nil {
			return err
		}
		var created bool
		if rec.Project, created, err = projects.Claim(ctx, name, d.Src); err != nil {
			return err
		}
		if created {
			fmt.Fprintf(out, "created project %s for %s\n", rec.Project, baleen.RedactURL(d.Src))
		}
	}
	for i, p := range chain {
		if p == rec.Project {
			cycle := append(append([]string{}, chain[i:]...), rec.Project)
			return fmt.Errorf("dependency cycle: %s", strings.Join(cycle, " -> "))
		}
	}
	if onServer {
		rec.Branch = d.Branch
		if rec.Branch == "" {
			rec.Branch = "main"
		}
		rec.Commit, err = repos.Resolve(ctx, rec.Project, "refs/heads/"+rec.Branch)
		if err != nil {
			return fmt.Errorf("project %s has no branch %s: %w", rec.Project, rec.Branch, err)
		}
	} else {
		fmt.Fprintf(out, "fetching %s (%s)\n", rec.Project, baleen.RedactURL(d.Src))
		rec.Branch, rec.Commit, err = repos.Fetch(ctx, chain, rec.Project, d.Src, d.Branch)
		if err != nil {
			return err
		}
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^a-z0-9._-]+`)

// ProjectName derives a project name from a dependency's source: the last element of its URL or path,
// without ".git", made a valid project name ("ssh://git@example.com/team/Users.git" -> "users").
func ProjectName(src string) (string, error) {
	p := src
	if u, err := url.Parse(src); err == nil && u.Scheme != "" {
		p = u.Path
	} else if i := strings.LastIndex(src, ":"); i > 0 && !strings.Contains(src[:i], "/") {
		p = src[i+1:] // scp-like: git@host:team/users.git
	}
	name := strings.TrimSuffix(path.Base(strings.TrimRight(p, "/")), ".git")
	name = strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(name), "-"), ".-")
	if len(name) > 63 {
		name = name[:63]
	}
	if err := baleen.ValidateProjectName(name); err != nil {
		return "", fmt.Errorf("cannot name a project after %s: %w", baleen.RedactURL(src), err)
	}
	return name, nil
}

// HasSources reports whether s has repository dependencies (depends.NAME.src).
func HasSources(s *baleen.Spec) bool {
	for _, d := range s.Depends {
		if d.Src != "" {
			return true
		}
	}
	return false
}

// PrefixWriter returns a writer that starts every line written through it with prefix, so that a
// dependency's output reads apart from its dependent's.
func PrefixWriter(w io.Writer, prefix string) io.Writer { return &prefixWriter{w: w, prefix: prefix} }

type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var buf []byte
	for _, c := range b {
		if !p.mid {
			buf = append(buf, p.prefix...)
			p.mid = true
		}
		buf = append(buf, c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(buf); err != nil {
		return 0, err
	}
	return len(b), nil
}

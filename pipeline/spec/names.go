package spec

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/distribution/reference"
)

var (
	// imageNamePattern is Docker's repository name without a registry: lowercase components of [a-z0-9]+
	// joined by '.', '_', '__' or dashes, separated by '/'.
	imageNamePattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	// envNamePattern is a POSIX shell variable name.
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// hostnamePattern is one lowercase DNS label (RFC 1123).
	hostnamePattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	// unitNamePattern names a deploy unit.
	unitNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	// stageNamePattern is a Dockerfile build stage name.
	stageNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)
	// tagPattern is a literal Docker tag.
	tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// minhashPattern is an abbreviated or full git commit hash.
	minhashPattern = regexp.MustCompile(`^[0-9a-fA-F]{4,40}$`)
	// scpLikePattern is git's "user@host:path" form of an SSH URL.
	scpLikePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$`)
)

// maxImageName is Docker's limit on a repository name.
const maxImageName = 255

// checkImageName reports what is wrong with a build image name, or "".
func checkImageName(name string) string {
	switch {
	case name == "":
		return "an image name may not be empty"
	case len(name) > maxImageName:
		return fmt.Sprintf("image name is %d characters, over Docker's %d", len(name), maxImageName)
	case !imageNamePattern.MatchString(name):
		return fmt.Sprintf("%q is not a valid image name: use lowercase letters and digits, separated by '.', '_', '__', '-' or '/'", name)
	}
	return ""
}

// checkImageRef reports what is wrong with an outside image reference ("postgres:16"), or "".
func checkImageRef(ref string) string {
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return fmt.Sprintf("%q is not a valid image reference: %v", ref, err)
	}
	return ""
}

// checkEnvName reports what is wrong with an environment variable name, or "".
func checkEnvName(name string) string {
	if !envNamePattern.MatchString(name) {
		return fmt.Sprintf("%q is not a valid variable name: use letters, digits and '_', not starting with a digit", name)
	}
	return ""
}

// cleanRel cleans a slash-separated path relative to a root it may not leave. what names the path in
// messages ("build context"). It returns the cleaned path ("." for the root) or a problem.
func cleanRel(p, what string) (string, string) {
	switch {
	case p == "":
		return "", what + " may not be empty (use . for the repository root)"
	case strings.Contains(p, `\`):
		return "", fmt.Sprintf("%s %q: use / to separate directories", what, p)
	case path.IsAbs(p):
		return "", fmt.Sprintf("%s %q: want a relative path, got an absolute one", what, p)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Sprintf("%s %q leaves the repository", what, p)
	}
	return c, ""
}

// cleanAbs cleans an absolute path inside a container.
func cleanAbs(p, what string) (string, string) {
	if hasControl(p) {
		return "", fmt.Sprintf("%s %q holds a control character (a line break or a tab): write one line", what, p)
	}
	if !path.IsAbs(p) {
		return "", fmt.Sprintf("%s %q: want an absolute path inside the container", what, p)
	}
	return path.Clean(p), ""
}

// checkSrc reports what is wrong with a dependency's src: a URL, git's user@host:path, a path (absolute,
// or relative to the repository with ./ or ../), or a bare project name.
func checkSrc(src string) string {
	switch {
	case strings.HasPrefix(src, "/"), strings.HasPrefix(src, "./"), strings.HasPrefix(src, "../"):
	case strings.Contains(src, "://"):
		u, err := url.Parse(src)
		if err != nil {
			return fmt.Sprintf("src %q is not a valid URL: %v", src, err)
		}
		switch u.Scheme {
		case "ssh", "git", "http", "https":
			if u.Host == "" {
				return fmt.Sprintf("src %q has no host", src)
			}
		case "file":
		default:
			return fmt.Sprintf("src %q: want an ssh, git, http, https or file URL", src)
		}
		if u.Path == "" || u.Path == "/" {
			return fmt.Sprintf("src %q names no repository", src)
		}
	case scpLikePattern.MatchString(src):
	default:
		if err := baleen.ValidateProjectName(src); err != nil {
			return fmt.Sprintf("src %q is neither a URL (ssh://host/repo.git, user@host:repo.git), a path (/srv/git/repo.git, ../repo) nor a project name", src)
		}
	}
	return ""
}

// checkBranch reports what is wrong with a branch name, after git check-ref-format's main rules.
func checkBranch(b string) string {
	bad := b == "" || b == "@" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") ||
		strings.Contains(b, "/.") || strings.HasPrefix(b, ".") ||
		strings.ContainsFunc(b, func(r rune) bool {
			return r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r)
		})
	if bad {
		return fmt.Sprintf("%q is not a valid branch name", b)
	}
	return ""
}

// checkRegistry reports what is wrong with a push registry: a host[:port], optionally with a namespace.
func checkRegistry(r string) string {
	if strings.Contains(r, "://") {
		return fmt.Sprintf("registry %q: give host[:port][/namespace], without a scheme", r)
	}
	n, err := reference.ParseNormalizedNamed(r + "/baleen")
	if err != nil || reference.Domain(n) == "docker.io" && !strings.HasPrefix(r, "docker.io") &&
		!strings.HasPrefix(r, "index.docker.io") {
		return fmt.Sprintf("registry %q: want host[:port][/namespace], such as registry.example.com:5000/team", r)
	}
	return ""
}

// checkHTTP reports what is wrong with a health check URL.
func checkHTTP(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q: want an http or https URL, such as http://localhost:8080/health", s)
	}
	return ""
}

// hasControl reports whether s holds a control character, tab and line breaks among them.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// checkPort reports whether s is a published port as docker run's -p takes it:
// [ip:][host_port:]container_port[/tcp|udp|sctp], each port from 1 to 65535 or a range of them, low-high,
// and the host port left empty only after an address ("127.0.0.1::80": a port the engine picks).
func checkPort(s string) bool {
	if rest, proto, ok := strings.Cut(s, "/"); ok {
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return false
		}
		s = rest
	}
	ip := ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]:")
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return false
		}
		ip, s = s[1:end], s[end+2:]
	case strings.Count(s, ":") == 2:
		ip, s, _ = strings.Cut(s, ":")
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			return false
		}
	}
	host, container, published := strings.Cut(s, ":")
	if !published {
		host, container = "", s
	}
	return portRange(container) && (host == "" && (ip != "" || !published) || portRange(host))
}

// portRange reports whether s is a port from 1 to 65535, or a range of them, low-high.
func portRange(s string) bool {
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	l, errL := strconv.Atoi(lo)
	h, errH := strconv.Atoi(hi)
	return errL == nil && errH == nil && lo[0] != '+' && hi[0] != '+' && l >= 1 && l <= h && h <= 65535
}

// checkVolume reports what is wrong with a deploy volume "source:/target[:options]".
func checkVolume(v string) string {
	parts := strings.Split(v, ":")
	// A source that starts with '-' would reach docker run as an option; a line break, the unit file.
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || strings.HasPrefix(parts[0], "-") || hasControl(v) ||
		!path.IsAbs(parts[1]) {
		return fmt.Sprintf("volume %q: want source:/path/in/container[:options]", v)
	}
	return ""
}

// distance is the optimal string alignment distance between a and b, counted in bytes: the Levenshtein
// distance, with swapping two neighbouring letters ("imgae") counting as one edit.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// Suggest returns the candidate closest to s if it is close enough to be a likely misspelling, else "".
// Case does not count: "Image" suggests "image". The server's config reader uses it for its unknown keys.
func Suggest(s string, candidates []string) string { return suggest(s, candidates) }

// suggest is Suggest.
func suggest(s string, candidates []string) string {
	if len(s) > 64 {
		return ""
	}
	s = strings.ToLower(s)
	best, bestD := "", 3
	for _, c := range candidates {
		limit := 2
		if len(c) <= 5 {
			limit = 1
		}
		if d := distance(s, strings.ToLower(c)); d <= limit && d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

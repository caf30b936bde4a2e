package deploy

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/baleen-ci/baleen"
)

// Paths on a host. Unit files go where the administrator's units live; everything else of Baleen's sits
// in one root-only directory.
const (
	unitDir  = "/etc/systemd/system"
	stateDir = "/etc/baleen"
	// dockerPath is the Docker CLI on Flatcar and Debian alike.
	dockerPath = "/usr/bin/docker"
)

// Timeouts written into every unit.
const (
	// unitStartTimeout covers ExecStartPre and the start of docker run. The image is on the host before a
	// unit starts, but after a host's reboot the engine may still be starting or cleaning up.
	unitStartTimeout = 10 * time.Minute
	// unitStopTimeout is docker stop's own grace (stopGrace) plus time for docker to remove the container.
	unitStopTimeout  = 45 * time.Second
	stopGrace        = 30 * time.Second
	unitRestartDelay = 5 * time.Second
)

// hardening are the sandboxing options of every unit. The unit's own processes are only the Docker CLI
// talking to the engine's socket: the container itself is started by dockerd, outside this sandbox, so
// none of this constrains the service; it confines the CLI (and whatever could subvert it) to what it
// needs. It needs no capabilities (the socket belongs to root, so plain uid 0 may connect), no network but
// AF_UNIX, no writable file system, no devices and no new privileges.
var hardening = [][2]string{
	{"NoNewPrivileges", "yes"},
	{"CapabilityBoundingSet", ""},
	{"RestrictAddressFamilies", "AF_UNIX"},
	{"ProtectSystem", "strict"},
	{"ProtectHome", "read-only"},
	{"PrivateTmp", "yes"},
	{"PrivateDevices", "yes"},
	{"ProtectKernelTunables", "yes"},
	{"ProtectKernelModules", "yes"},
	{"ProtectControlGroups", "yes"},
	{"RestrictNamespaces", "yes"},
	{"RestrictRealtime", "yes"},
	{"RestrictSUIDSGID", "yes"},
	{"LockPersonality", "yes"},
	{"MemoryDenyWriteExecute", "yes"},
	{"SystemCallArchitectures", "native"},
}

var (
	unitNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	envKeyPattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// portPattern is docker run -p: [ip:][hostPort:]containerPort[/proto], with ranges.
	portPattern = regexp.MustCompile(`^[0-9\[][0-9A-Za-z.:\[\]-]*(/(tcp|udp|sctp))?$`)
)

// unitName is the base name of a unit's files on a host, and its container's name:
// "baleen-<project>..<name>". No two (project, unit) pairs share it: a project name holds no "..", a unit
// name neither (validUnitName) and does not start with '.', so the last ".." in a base name is where the
// project ends. The "baleen-" prefix keeps Baleen's units apart from the administrator's own.
func unitName(project, name string) string { return "baleen-" + project + ".." + name }

// validUnitName reports whether name may name a deploy unit: a plain file name without "..", which
// unitName uses to set the project apart.
func validUnitName(name string) bool {
	return unitNamePattern.MatchString(name) && !strings.Contains(name, "..")
}

// unitFile is the systemd unit of a unit name: "baleen-<project>..<name>.service".
func unitFile(base string) string { return base + ".service" }

// unitPath, envPath and statePath are where a unit's files live on a host; prevPath and newPath hold a
// file's previous and staged versions during a switch.
func unitPath(base string) string  { return unitDir + "/" + unitFile(base) }
func envPath(base string) string   { return stateDir + "/" + base + ".env" }
func statePath(base string) string { return stateDir + "/" + base + ".release" }
func prevPath(base, kind string) string {
	return stateDir + "/" + base + "." + kind + ".prev"
}
func newPath(base, kind string) string { return stateDir + "/" + base + "." + kind + ".new" }

// renderUnit renders the systemd unit that runs u of project with image, as release r.
func renderUnit(r baleen.Release, u baleen.DeployUnit, image string) ([]byte, error) {
	base := unitName(r.Project, u.Name)
	if err := checkUnit(r.Project, u, image); err != nil {
		return nil, err
	}
	run := []string{dockerPath, "run", "--rm", "--name", base,
		"--label", "baleen.project=" + r.Project,
		"--label", "baleen.unit=" + u.Name,
		"--label", "baleen.release=" + strconv.Itoa(r.Number),
		"--env-file", envPath(base)}
	for _, p := range u.Ports {
		run = append(run, "-p", p)
	}
	for _, v := range u.Volumes {
		run = append(run, "-v", v)
	}
	run = append(run, image)
	run = append(run, u.Command.Argv()...)

	desc := fmt.Sprintf("Baleen %s %s: release %d, build %d", r.Project, u.Name, r.Number, r.Build)
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", desc),
		unit.NewUnitOption("Unit", "Documentation", "https://github.com/baleen-ci/baleen/blob/main/docs/deploy.md"),
		unit.NewUnitOption("Unit", "Requires", "docker.service"),
		unit.NewUnitOption("Unit", "After", "docker.service network-online.target"),
		unit.NewUnitOption("Unit", "Wants", "network-online.target"),
		unit.NewUnitOption("Service", "Type", "simple"),
		unit.NewUnitOption("Service", "SyslogIdentifier", base),
		// A container left by a crash would block the name. Quietly: on a clean start there is none, and
		// docker's "No such container" would read like a failure in the journal.
		unit.NewUnitOption("Service", "ExecStartPre", "-"+commandLine([]string{"/bin/sh", "-c", "exec " + dockerPath + " rm --force " + base + " >/dev/null 2>&1"})),
		unit.NewUnitOption("Service", "ExecStart", commandLine(run)),
		unit.NewUnitOption("Service", "ExecStop", commandLine([]string{dockerPath, "stop", "--time", seconds(stopGrace), base})),
		unit.NewUnitOption("Service", "Restart", "always"),
		unit.NewUnitOption("Service", "RestartSec", seconds(unitRestartDelay)),
		unit.NewUnitOption("Service", "TimeoutStartSec", seconds(unitStartTimeout)),
		unit.NewUnitOption("Service", "TimeoutStopSec", seconds(unitStopTimeout)),
	}
	for _, h := range hardening {
		opts = append(opts, unit.NewUnitOption("Service", h[0], h[1]))
	}
	opts = append(opts, unit.NewUnitOption("Install", "WantedBy", "multi-user.target"))
	b, err := io.ReadAll(unit.Serialize(opts))
	if err != nil {
		return nil, fmt.Errorf("render unit %s: %w", unitFile(base), err)
	}
	header := fmt.Sprintf("# Written by Baleen for %s, release %d (build %d). Do not edit: the next deploy replaces it.\n", r.Project, r.Number, r.Build)
	return append([]byte(header), b...), nil
}

// seconds is d in whole seconds as systemd and docker read it.
func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// checkUnit rejects what could break out of a unit file or a docker run argument: a unit name that is not a
// plain file name, control characters anywhere, a port or volume that docker would read as a flag.
func checkUnit(project string, u baleen.DeployUnit, image string) error {
	where := "deploy unit " + u.Name
	if !validUnitName(u.Name) {
		return fmt.Errorf("deploy unit %q: use lowercase letters, digits, '.', '_' or '-', without \"..\": %w", u.Name, baleen.ErrInvalid)
	}
	if err := baleen.ValidateProjectName(project); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if image == "" || strings.HasPrefix(image, "-") || hasSpaceOrControl(image) {
		return fmt.Errorf("%s: image reference %q: %w", where, image, baleen.ErrInvalid)
	}
	for _, p := range u.Ports {
		if !portPattern.MatchString(p) {
			return fmt.Errorf("%s: port %q: want [ip:]hostPort:containerPort[/proto]: %w", where, p, baleen.ErrInvalid)
		}
	}
	for _, v := range u.Volumes {
		if v == "" || strings.HasPrefix(v, "-") || hasControl(v) {
			return fmt.Errorf("%s: volume %q: %w", where, v, baleen.ErrInvalid)
		}
	}
	for _, a := range u.Command.Argv() {
		if hasControl(a) {
			return fmt.Errorf("%s: command argument %q contains a control character: %w", where, a, baleen.ErrInvalid)
		}
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func hasSpaceOrControl(s string) bool {
	return hasControl(s) || strings.ContainsRune(s, ' ')
}

// commandLine quotes argv for an Exec*= line: each argument plain when it is made of safe characters and
// double-quoted with C escapes otherwise, with '%' (specifiers) and '$' (variable expansion) doubled so that
// systemd passes them on literally. argv holds no control characters (checkUnit).
func commandLine(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		a = strings.ReplaceAll(strings.ReplaceAll(a, "%", "%%"), "$", "$$")
		if a != "" && !strings.ContainsFunc(a, unsafeRune) {
			b.WriteString(a)
			continue
		}
		b.WriteByte('"')
		for _, r := range a {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	return b.String()
}

// unsafeRune reports whether r makes an Exec*= argument need quotes.
func unsafeRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("_@%$+=:,./-", r)
}

// credentialsLine starts the comment of an environment file that names the credentials among its variables.
const credentialsLine = "# credentials: "

// renderEnv renders the environment file of u (docker run --env-file: KEY=VALUE lines, taken literally):
// u.Env and, for each credential, its value from secret. It is written root-only on the host; its values
// never reach a log or an error message.
func renderEnv(u baleen.DeployUnit, secret func(string) (string, bool)) ([]byte, error) {
	where := "deploy unit " + u.Name
	env := maps.Clone(u.Env)
	if env == nil {
		env = map[string]string{}
	}
	for _, c := range u.Credentials {
		if secret == nil {
			return nil, fmt.Errorf("%s: credential %s: the server has no secrets configured: %w", where, c, baleen.ErrNotFound)
		}
		v, ok := secret(c)
		if !ok {
			return nil, fmt.Errorf("%s: credential %s is not set on the server: %w", where, c, baleen.ErrNotFound)
		}
		env[c] = v
	}
	var b strings.Builder
	b.WriteString("# Written by Baleen. Root only: it holds credentials.\n")
	if len(u.Credentials) > 0 {
		// Which values are credentials, for masking them in the unit's journal (docker ignores comments).
		b.WriteString(credentialsLine + strings.Join(slices.Sorted(slices.Values(u.Credentials)), " ") + "\n")
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !envKeyPattern.MatchString(k) {
			return nil, fmt.Errorf("%s: environment variable name %q: %w", where, k, baleen.ErrInvalid)
		}
		// Name the variable, never the value: it may be a credential.
		if strings.ContainsAny(env[k], "\r\n\x00") {
			return nil, fmt.Errorf("%s: the value of %s spans lines, which an environment file cannot hold: %w", where, k, baleen.ErrInvalid)
		}
		b.WriteString(k + "=" + env[k] + "\n")
	}
	return []byte(b.String()), nil
}

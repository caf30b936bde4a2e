package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
	"github.com/baleen-ci/baleen/forge"
	"github.com/baleen-ci/baleen/notify"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
	"github.com/baleen-ci/baleen/pipeline/retention"
	"go.yaml.in/yaml/v3"
)

// Config is everything `baleen serve` is told, from flags, the environment and the config file, in that
// order of precedence. docs/config.md documents it.
type Config struct {
	Data   string `yaml:"data"`
	Listen string `yaml:"listen"`
	// AddressFile, when set, receives the address the server listens on once it does (useful with a
	// listen port of 0); a flag only.
	AddressFile    string `yaml:"-"`
	AuthorizedKeys string `yaml:"authorized_keys"`
	// Concurrency caps the builds that run at once across projects.
	Concurrency int `yaml:"concurrency"`
	// ShutdownGrace is how long running builds may go on after SIGTERM before they are cancelled.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// Credentials are the secrets builds may ask for by name in baleen.yml.
	Credentials map[string]Credential `yaml:"credentials"`
	// Users and Access are the named users and the rules that give them roles per project; package access
	// reads them (accessPolicy). Without either, every key of the authorized keys file is admin.
	Users  yaml.Node `yaml:"users"`
	Access yaml.Node `yaml:"access"`
	// ConfigFile is the config file read, if any; a flag or BALEEN_CONFIG only.
	ConfigFile string `yaml:"-"`
	LogLevel   string `yaml:"log_level"`
	// KnownHosts is the OpenSSH known_hosts file that ssh:// dependency sources are checked against.
	KnownHosts string `yaml:"known_hosts"`
	// AllowGitProtocol lets dependency sources use git://.
	AllowGitProtocol bool `yaml:"allow_git_protocol"`
	// LocalSources are the directories on the server whose repositories dependency sources may name by
	// path or file:// URL; without them such sources are refused.
	LocalSources []string `yaml:"local_sources"`
	// MaxPushes caps the pushes that run at once (0: gitd's default).
	MaxPushes int `yaml:"max_pushes"`
	// GitMemoryLimitMB caps the address space of each git child, in MiB (0: gitd's default).
	GitMemoryLimitMB int64 `yaml:"git_memory_limit_mb"`
	// GitCredentials are the credentials for https:// dependency sources and mirrors, by host, each for
	// the projects it lists.
	GitCredentials map[string]GitLogin `yaml:"git_credentials"`
	// FetchKeyProjects are the projects (names or globs) whose ssh:// dependency sources and mirrors may
	// be fetched with the server's fetch key; nil when the file does not say (docs/config.md).
	FetchKeyProjects *[]string `yaml:"fetch_key_projects"`
	// Registries are the credentials for the registries builds push to, by host[:port].
	Registries map[string]Login `yaml:"registries"`
	// KeepBuilds is how many green builds per project keep their images (default 5).
	KeepBuilds int `yaml:"keep_builds"`
	// Retention says which builds are kept and LogLimitMB how much of a build's log (docs/config.md);
	// cmd/baleen/retention.go uses them.
	Retention  retention.Rules `yaml:"retention"`
	LogLimitMB int64           `yaml:"log_limit_mb"`
	// MinFreeMB is the free space, in MiB, the data directory must keep for a push to be taken: nil for
	// the default (1024), 0 for no check (cmd/baleen/retention.go).
	MinFreeMB *int64 `yaml:"min_free_mb"`
	// DeployKeepImages is how many releases' images each deploy host keeps per unit (default 3).
	DeployKeepImages int `yaml:"deploy_keep_images"`
	// Targets are the groups of hosts that baleen.yml's deploy.target names (docs/deploy.md).
	Targets map[string]TargetConfig `yaml:"targets"`
	// DeployGrace is how long a deployed unit must stay active before its health check (default 10s).
	DeployGrace time.Duration `yaml:"deploy_grace"`
	// HTTP is the web side: pages, API, badges and metrics (docs/web.md).
	HTTP HTTPConfig `yaml:"http"`
	// Notify and Mirrors are the notification sinks (docs/notify.md) and the followed repositories
	// (docs/forges.md); cmd/baleen/notify.go wires them.
	Notify  []notify.Sink           `yaml:"notify"`
	Mirrors map[string]forge.Mirror `yaml:"mirrors"`
	// Engines are the Docker engines builds are placed on (docs/engines.md); without them, the one engine
	// DOCKER_HOST names, with Concurrency build slots.
	Engines pool.Config `yaml:"engines"`
	// RetryOnEngineFailure is how many times a build whose engine stopped answering runs again on another
	// engine of Engines (docs/engines.md); 0: never.
	RetryOnEngineFailure int `yaml:"retry_on_engine_failure"`
}

// TargetConfig is one deploy target: the hosts and how to reach them.
type TargetConfig struct {
	User       string   `yaml:"user"`
	Identity   string   `yaml:"identity"`
	KnownHosts string   `yaml:"known_hosts"`
	Hosts      []string `yaml:"hosts"`
}

// Login is a user name and the file that holds its password or token.
type Login struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// GitLogin is a login for an https git host and the projects (names or globs) that may fetch with it.
// Required once users or access are configured; without them, a login that lists none is for every project.
type GitLogin struct {
	Login    `yaml:",inline"`
	Projects []string `yaml:"projects"`
}

// password reads a login's password file; a trailing newline is dropped.
func (l Login) password() (string, error) {
	b, err := os.ReadFile(l.PasswordFile)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Credential says where a secret's value is: a file (preferred: it stays out of the config) or the server's
// environment.
type Credential struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
	// Projects are the projects (names or globs) that may use the secret. Required once users or access
	// are configured; without them, a credential that lists none is for every project.
	Projects []string `yaml:"projects"`
}

// defaults are the settings nobody gave.
func defaults() Config {
	return Config{Data: "./baleen-data", Listen: ":2222", Concurrency: runtime.NumCPU(), ShutdownGrace: 5 * time.Minute, LogLevel: "info", KeepBuilds: 5}
}

// loadConfig reads the serve command line: flags, then BALEEN_* variables, then the config file.
func loadConfig(args []string, e env) (Config, error) {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	var set Config
	fl.StringVar(&set.Data, "data", "", "data directory: repositories, database, artifacts, host key (env BALEEN_DATA; default ./baleen-data)")
	fl.StringVar(&set.Listen, "listen", "", "SSH listen address (env BALEEN_LISTEN; default :2222)")
	fl.StringVar(&set.AuthorizedKeys, "authorized-keys", "", "OpenSSH authorized_keys file of who may push (env BALEEN_AUTHORIZED_KEYS; default DATA/authorized_keys)")
	fl.StringVar(&set.AddressFile, "address-file", "", "write the address the server listens on to this file once it listens (for -listen 127.0.0.1:0)")
	configFile := fl.String("config", "", "YAML config file, see docs/config.md (env BALEEN_CONFIG)")
	httpFl := addHTTPFlags(fl)
	if err := fl.Parse(args); err != nil {
		return Config{}, err
	}
	if fl.NArg() > 0 {
		return Config{}, fmt.Errorf("serve takes no arguments, got %q", fl.Args())
	}
	fromEnv := Config{Data: e.getenv("BALEEN_DATA"), Listen: e.getenv("BALEEN_LISTEN"), AuthorizedKeys: e.getenv("BALEEN_AUTHORIZED_KEYS")}
	if *configFile == "" {
		*configFile = e.getenv("BALEEN_CONFIG")
	}
	c := defaults()
	if *configFile != "" {
		if err := readConfigFile(*configFile, &c); err != nil {
			return Config{}, err
		}
		c.ConfigFile = *configFile
	}
	for _, over := range []Config{fromEnv, set} {
		c.Data = pick(over.Data, c.Data)
		c.Listen = pick(over.Listen, c.Listen)
		c.AuthorizedKeys = pick(over.AuthorizedKeys, c.AuthorizedKeys)
	}
	c.AddressFile = set.AddressFile
	if c.AuthorizedKeys == "" {
		c.AuthorizedKeys = filepath.Join(c.Data, "authorized_keys")
	}
	c.HTTP = httpFl.apply(c.HTTP, e)
	if c.usersConfigured() { // users:, access: and the credentials' projects, checked before serving
		if _, err := access.ParseFile(c.ConfigFile); err != nil {
			return Config{}, err
		}
	}
	return c, c.validate()
}

func pick(over, base string) string {
	if over != "" {
		return over
	}
	return base
}

func readConfigFile(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

func (c Config) validate() error {
	var errs []error
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency: want 1 or more, got %d", c.Concurrency))
	}
	if c.DeployGrace < 0 {
		errs = append(errs, fmt.Errorf("deploy_grace: want a duration of 0 or more, got %s", c.DeployGrace))
	}
	if c.MaxPushes < 0 || c.GitMemoryLimitMB < 0 {
		errs = append(errs, fmt.Errorf("max_pushes, git_memory_limit_mb: want 0 (the default) or more"))
	}
	if c.Engines != nil {
		if err := c.Engines.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RetryOnEngineFailure < 0 || c.RetryOnEngineFailure > 0 && len(c.Engines) < 2 {
		errs = append(errs, fmt.Errorf("retry_on_engine_failure: want 0, or 1 or more with two engines or more under engines:, got %d", c.RetryOnEngineFailure))
	}
	if c.KeepBuilds < 1 {
		errs = append(errs, fmt.Errorf("keep_builds: want 1 or more, got %d", c.KeepBuilds))
	}
	errs = append(errs, c.validateRetention())
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("shutdown_grace: want a duration of 0 or more, got %s", c.ShutdownGrace))
	}
	for name, cr := range c.Credentials {
		if (cr.File == "") == (cr.Env == "") {
			errs = append(errs, fmt.Errorf("credentials.%s: give exactly one of file or env", name))
		}
		errs = append(errs, checkGlobs("credentials."+name+".projects", cr.Projects))
	}
	for host, l := range c.GitCredentials {
		errs = append(errs, checkGlobs("git_credentials."+host+".projects", l.Projects))
	}
	if c.FetchKeyProjects != nil {
		errs = append(errs, checkGlobs("fetch_key_projects", *c.FetchKeyProjects))
	}
	for i, d := range c.LocalSources {
		if !filepath.IsAbs(d) {
			errs = append(errs, fmt.Errorf("local_sources[%d]: %q: want an absolute directory", i, d))
		}
	}
	for _, group := range []struct {
		key    string
		logins map[string]Login
	}{{"git_credentials", c.gitLogins()}, {"registries", c.Registries}} {
		for host, l := range group.logins {
			if l.Username == "" || l.PasswordFile == "" {
				errs = append(errs, fmt.Errorf("%s.%s: give username and password_file", group.key, host))
			}
		}
	}
	for name, t := range c.Targets {
		if len(t.Hosts) == 0 {
			errs = append(errs, fmt.Errorf("targets.%s.hosts: list at least one host (\"host:port\" or \"local\")", name))
		}
		remote := false
		for _, h := range t.Hosts {
			remote = remote || h != "local"
		}
		if remote && (t.User == "" || t.Identity == "" || t.KnownHosts == "") {
			errs = append(errs, fmt.Errorf("targets.%s: give user, identity and known_hosts (an unknown host key is refused)", name))
		}
	}
	errs = append(errs, c.HTTP.validate())
	errs = append(errs, c.validateIntegrations())
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: want debug, info, warn or error, got %q", c.LogLevel))
	}
	return errors.Join(errs...)
}

// checkGlobs refuses what is not a project name or glob in globs, the value of key.
func checkGlobs(key string, globs []string) error {
	var errs []error
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil || strings.Contains(g, "/") {
			errs = append(errs, fmt.Errorf("%s: %q is not a project name or glob", key, g))
		}
	}
	return errors.Join(errs...)
}

// gitLogins are the logins of git_credentials without their projects.
func (c Config) gitLogins() map[string]Login {
	logins := map[string]Login{}
	for host, l := range c.GitCredentials {
		logins[host] = l.Login
	}
	return logins
}

// secret returns a credential's value, read when a build asks for it so that a rotated file takes effect
// without a restart.
func (c Config) secret(getenv func(string) string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		cr, ok := c.Credentials[name]
		if !ok {
			return "", false
		}
		if cr.Env != "" {
			v := getenv(cr.Env)
			return v, v != ""
		}
		b, err := os.ReadFile(cr.File)
		if err != nil {
			return "", false
		}
		v := strings.TrimRight(string(b), "\r\n")
		return v, v != ""
	}
}

// registryAuth returns the credentials of a registry from the config, reading the password file when a
// build pushes, so that a rotated password takes effect without a restart. A registry without an entry
// gets nil: anonymous.
func (c Config) registryAuth(logger *slog.Logger) func(string) *baleen.RegistryAuth {
	return func(registry string) *baleen.RegistryAuth {
		l, ok := c.Registries[registry]
		if !ok {
			return nil
		}
		pw, err := l.password()
		if err != nil {
			logger.Error("registry password", "registry", registry, "err", err)
			return &baleen.RegistryAuth{Username: l.Username, ServerAddress: registry}
		}
		return &baleen.RegistryAuth{Username: l.Username, Password: pw, ServerAddress: registry}
	}
}

// orEvery is globs, or every project when the config gave no projects key (an explicit [] is for none).
func orEvery(globs []string) []string {
	if globs == nil { // no projects key; an explicit [] is for none
		return []string{"*"}
	}
	return globs
}

// usersConfigured reports whether the config file names users or access rules.
func (c Config) usersConfigured() bool {
	return c.Users.Kind != 0 || c.Access.Kind != 0
}

// accessPolicy builds who may do what: with users or access rules in the config file, package access reads
// them (and every credential and git login must then list its projects, and fetch_key_projects be given
// with known_hosts); without them, every key of the authorized keys file is admin, and a credential or git
// login that lists no projects is for every project, as is the fetch key without fetch_key_projects.
func (c Config) accessPolicy(logger *slog.Logger) (*access.Policy, error) {
	ac := access.Config{Credentials: map[string][]string{}, GitCredentials: map[string][]string{}, FetchKey: []string{"*"}}
	if c.usersConfigured() {
		var err error
		if ac, err = access.ParseFile(c.ConfigFile); err != nil {
			return nil, err
		}
	} else {
		for name, cr := range c.Credentials {
			ac.Credentials[name] = orEvery(cr.Projects)
		}
		for host, l := range c.GitCredentials {
			ac.GitCredentials[host] = orEvery(l.Projects)
		}
		if c.FetchKeyProjects != nil {
			ac.FetchKey = *c.FetchKeyProjects
		}
	}
	return access.New(access.Options{Config: ac, AuthorizedKeys: c.AuthorizedKeys, Logger: logger}), nil
}

package notify

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
)

// The notification events a sink may ask for.
const (
	EventFailed            = "failed"
	EventFixed             = "fixed"
	EventPassed            = "passed"
	EventStillFailing      = "still_failing"
	EventReleaseDone       = "release_done"
	EventReleaseFailed     = "release_failed"
	EventReleaseRolledBack = "release_rolled_back"
	// EventDigest is the event of a delivery that carries several notifications at once.
	EventDigest = "digest"
)

// AllEvents lists the events a sink may name, in documentation order.
var AllEvents = []string{EventFailed, EventFixed, EventPassed, EventStillFailing, EventReleaseDone, EventReleaseFailed, EventReleaseRolledBack}

// DefaultEvents are the events of a sink that names none.
var DefaultEvents = []string{EventFailed, EventFixed, EventReleaseFailed, EventReleaseRolledBack}

// Sink is one entry of the `notify:` list of the server config: where to send, and which events of which
// projects and branches. Exactly one of Webhook, Email, Slack and Matrix is set.
type Sink struct {
	Name string `yaml:"name"`
	// Events lists the events to send; DefaultEvents when empty.
	Events []string `yaml:"events"`
	// Projects lists project names or globs (path.Match syntax); every project when empty.
	Projects []string `yaml:"projects"`
	// Branches lists branch names or globs; every branch when empty.
	Branches []string `yaml:"branches"`
	// StillFailingEvery sends still_failing once per this many failed builds in a row (default 5).
	StillFailingEvery int `yaml:"still_failing_every"`

	Webhook *WebhookConfig `yaml:"webhook"`
	Email   *EmailConfig   `yaml:"email"`
	Slack   *SlackConfig   `yaml:"slack"`
	Matrix  *MatrixConfig  `yaml:"matrix"`
}

// WebhookConfig is a sink that POSTs the versioned JSON body, signed with the secret in SecretFile.
type WebhookConfig struct {
	URL        string `yaml:"url"`
	SecretFile string `yaml:"secret_file"`
}

// EmailConfig is a sink that mails plain text over SMTP.
type EmailConfig struct {
	// SMTP is the server as host:port.
	SMTP string `yaml:"smtp"`
	// TLS is starttls (the default), tls (implicit TLS, e.g. port 465) or none.
	TLS          string   `yaml:"tls"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	From         string   `yaml:"from"`
	To           []string `yaml:"to"`
	// CommitAuthors also mails, for failed, the authors of the commits the push brought.
	CommitAuthors bool `yaml:"commit_authors"`
	// CAFile is a PEM bundle that the server's certificate is checked against, in place of the system's.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds each step of the SMTP conversation (connect, greeting, TLS handshake, each command and
	// its reply); 15s when 0. A server that says nothing for that long fails the attempt.
	Timeout time.Duration `yaml:"timeout"`
}

// SlackConfig is a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat). Its URL is a secret,
// so it is read from URLFile.
type SlackConfig struct {
	URLFile string `yaml:"url_file"`
}

// MatrixConfig is a Matrix room, written to with the client-server API and an access token.
type MatrixConfig struct {
	// Homeserver is the base URL of the homeserver's client-server API, e.g. https://matrix.example.org.
	Homeserver string `yaml:"homeserver"`
	// Room is the room ID, e.g. "!abcdef:example.org".
	Room      string `yaml:"room"`
	TokenFile string `yaml:"token_file"`
}

// Kind names the sink's kind: webhook, email, slack or matrix.
func (s Sink) Kind() string {
	switch {
	case s.Webhook != nil:
		return "webhook"
	case s.Email != nil:
		return "email"
	case s.Slack != nil:
		return "slack"
	case s.Matrix != nil:
		return "matrix"
	}
	return ""
}

// ValidateConfig checks the `notify:` list and fills in defaults. Each problem is named by its place
// ("notify[1] (authors).email.smtp: ...").
func ValidateConfig(sinks []Sink) error {
	var errs []error
	seen := map[string]bool{}
	for i := range sinks {
		s := &sinks[i]
		where := fmt.Sprintf("notify[%d] (%s)", i, s.Name)
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("%s: name: %q is used twice: %w", where, s.Name, baleen.ErrInvalid))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}

var sinkName = baleen.ValidateProjectName

func (s *Sink) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format+": %w", append(args, baleen.ErrInvalid)...))
	}
	if err := sinkName(s.Name); err != nil {
		bad("name: %q: use lowercase letters, digits, '.', '_' or '-'", s.Name)
	}
	n := 0
	for _, set := range []bool{s.Webhook != nil, s.Email != nil, s.Slack != nil, s.Matrix != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		bad("give exactly one of webhook, email, slack or matrix, got %d", n)
	}
	if len(s.Events) == 0 {
		s.Events = slices.Clone(DefaultEvents)
	}
	for _, e := range s.Events {
		if !slices.Contains(AllEvents, e) {
			bad("events: %q: want one of %s", e, strings.Join(AllEvents, ", "))
		}
	}
	for _, g := range append(slices.Clone(s.Projects), s.Branches...) {
		if _, err := path.Match(g, ""); err != nil {
			bad("projects/branches: %q is not a valid glob", g)
		}
	}
	if s.StillFailingEvery == 0 {
		s.StillFailingEvery = 5
	}
	if s.StillFailingEvery < 1 {
		bad("still_failing_every: want 1 or more, got %d", s.StillFailingEvery)
	}
	switch {
	case s.Webhook != nil:
		errs = append(errs, s.Webhook.validate())
	case s.Email != nil:
		errs = append(errs, s.Email.validate())
	case s.Slack != nil:
		if s.Slack.URLFile == "" {
			bad("slack.url_file: give the file that holds the incoming-webhook URL")
		}
	case s.Matrix != nil:
		errs = append(errs, s.Matrix.validate())
	}
	return errors.Join(errs...)
}

func checkURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q: want an http:// or https:// URL: %w", key, baleen.RedactURL(raw), baleen.ErrInvalid)
	}
	if u.User != nil {
		return fmt.Errorf("%s: put no credentials in the URL: %w", key, baleen.ErrInvalid)
	}
	return nil
}

func (w *WebhookConfig) validate() error {
	var errs []error
	errs = append(errs, checkURL("webhook.url", w.URL))
	if w.SecretFile == "" {
		errs = append(errs, fmt.Errorf("webhook.secret_file: give the file that holds the signing secret: %w", baleen.ErrInvalid))
	}
	return errors.Join(errs...)
}

func (e *EmailConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("email."+format+": %w", append(args, baleen.ErrInvalid)...))
	}
	if host, port, err := net.SplitHostPort(e.SMTP); err != nil || host == "" || !validPort(port) {
		bad("smtp: %q: want host:port, the port a number", e.SMTP)
	}
	if e.TLS == "" {
		e.TLS = "starttls"
	}
	if !slices.Contains([]string{"starttls", "tls", "none"}, e.TLS) {
		bad("tls: %q: want starttls, tls or none", e.TLS)
	}
	if e.Timeout < 0 || e.Timeout > attemptTimeout {
		bad("timeout: %s: want a duration up to %s", e.Timeout, attemptTimeout)
	}
	if (e.Username == "") != (e.PasswordFile == "") {
		bad("give both username and password_file, or neither")
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		bad("from: %q is not a mail address", e.From)
	}
	for _, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil {
			bad("to: %q is not a mail address", to)
		}
	}
	if len(e.To) == 0 && !e.CommitAuthors {
		bad("give to, or commit_authors: true")
	}
	return errors.Join(errs...)
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 1<<16
}

func (m *MatrixConfig) validate() error {
	var errs []error
	errs = append(errs, checkURL("matrix.homeserver", m.Homeserver))
	if !strings.HasPrefix(m.Room, "!") || !strings.Contains(m.Room, ":") {
		errs = append(errs, fmt.Errorf("matrix.room: %q: want a room ID such as !abc:example.org: %w", m.Room, baleen.ErrInvalid))
	}
	if m.TokenFile == "" {
		errs = append(errs, fmt.Errorf("matrix.token_file: give the file that holds the access token: %w", baleen.ErrInvalid))
	}
	return errors.Join(errs...)
}

// wants reports whether the sink takes notifications of project's branch.
func (s *Sink) wants(project, branch string) bool {
	return globMatch(s.Projects, project) && (branch == "" || globMatch(s.Branches, branch))
}

func globMatch(globs []string, name string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

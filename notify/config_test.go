package notify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
	"go.yaml.in/yaml/v3"
)

// The shape in docs/notify.md parses and validates, with defaults filled in.
func TestConfigFromYAML(t *testing.T) {
	src := `
notify:
  - name: team-hook
    webhook: {url: "https://hooks.example.com/baleen", secret_file: /etc/baleen/secrets/hook}
    events: [failed, fixed, release_failed]
    projects: ["shop-*"]
  - name: authors
    email: {smtp: "smtp.example.com:587", tls: starttls, username: ci,
            password_file: /etc/baleen/secrets/smtp, from: "baleen@example.com",
            to: [team@example.com], commit_authors: true, timeout: 10s}
    events: [failed]
  - name: chat
    slack: {url_file: /etc/baleen/secrets/slack_url}
  - name: room
    matrix: {homeserver: "https://matrix.example.org", room: "!abc:example.org", token_file: /etc/baleen/secrets/matrix}
    branches: [main]
`
	var c struct {
		Notify []notify.Sink `yaml:"notify"`
	}
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := notify.ValidateConfig(c.Notify); err != nil {
		t.Fatal(err)
	}
	kinds := ""
	for _, s := range c.Notify {
		kinds += s.Kind() + " "
	}
	if kinds != "webhook email slack matrix " {
		t.Errorf("kinds: got %q", kinds)
	}
	if got := strings.Join(c.Notify[2].Events, ","); got != strings.Join(notify.DefaultEvents, ",") {
		t.Errorf("default events: got %s", got)
	}
	if got := c.Notify[1].Email.Timeout; got != 10*time.Second {
		t.Errorf("email.timeout: got %s, want 10s", got)
	}
	if c.Notify[2].StillFailingEvery != 5 {
		t.Errorf("still_failing_every default: got %d, want 5", c.Notify[2].StillFailingEvery)
	}
}

func TestConfigErrorsSayWhereAndWhat(t *testing.T) {
	hook := func() *notify.WebhookConfig {
		return &notify.WebhookConfig{URL: "https://h.example.com/x", SecretFile: "/s"}
	}
	cases := []struct {
		name  string
		sinks []notify.Sink
		want  string
	}{
		{"no kind", []notify.Sink{{Name: "a"}}, "notify[0] (a): give exactly one of webhook, email, slack or matrix, got 0"},
		{"two kinds", []notify.Sink{{Name: "a", Webhook: hook(), Slack: &notify.SlackConfig{URLFile: "/u"}}}, "got 2"},
		{"bad name", []notify.Sink{{Name: "A B", Webhook: hook()}}, `name: "A B"`},
		{"twice", []notify.Sink{{Name: "a", Webhook: hook()}, {Name: "a", Webhook: hook()}}, `notify[1] (a): name: "a" is used twice`},
		{"bad event", []notify.Sink{{Name: "a", Webhook: hook(), Events: []string{"broke"}}}, `events: "broke": want one of failed, fixed`},
		{"bad glob", []notify.Sink{{Name: "a", Webhook: hook(), Projects: []string{"shop-["}}}, `"shop-[" is not a valid glob`},
		{"webhook url", []notify.Sink{{Name: "a", Webhook: &notify.WebhookConfig{URL: "ftp://x", SecretFile: "/s"}}}, `webhook.url: "ftp://x": want an http:// or https:// URL`},
		{"webhook creds", []notify.Sink{{Name: "a", Webhook: &notify.WebhookConfig{URL: "https://u:p@x/", SecretFile: "/s"}}}, "webhook.url: put no credentials in the URL"},
		{"no secret", []notify.Sink{{Name: "a", Webhook: &notify.WebhookConfig{URL: "https://x/"}}}, "webhook.secret_file: give the file"},
		{"smtp", []notify.Sink{{Name: "a", Email: &notify.EmailConfig{SMTP: "x", From: "a@b.c", To: []string{"d@e.f"}}}}, `email.smtp: "x": want host:port`},
		{"smtp url", []notify.Sink{{Name: "a", Email: &notify.EmailConfig{SMTP: "smtp://x:25", From: "a@b.c", To: []string{"d@e.f"}}}}, `email.smtp: "smtp://x:25": want host:port`},
		{"smtp port", []notify.Sink{{Name: "a", Email: &notify.EmailConfig{SMTP: "x:smtp", From: "a@b.c", To: []string{"d@e.f"}}}}, `email.smtp: "x:smtp": want host:port`},
		{"tls", []notify.Sink{{Name: "a", Email: &notify.EmailConfig{SMTP: "x:25", TLS: "ssl", From: "a@b.c", To: []string{"d@e.f"}}}}, `email.tls: "ssl": want starttls, tls or none`},
		{"timeout", []notify.Sink{{Name: "a", Email: &notify.EmailConfig{SMTP: "x:25", Timeout: time.Hour, From: "a@b.c", To: []string{"d@e.f"}}}}, `email.timeout: 1h0m0s: want a duration up to 30s`},
		{"half auth", []notify.Sink{{Name: "a", Email: &notify.EmailConfig{SMTP: "x:25", Username: "u", From: "a@b.c", To: []string{"d@e.f"}}}}, "give both username and password_file"},
		{"nobody", []notify.Sink{{Name: "a", Email: &notify.EmailConfig{SMTP: "x:25", From: "a@b.c"}}}, "give to, or commit_authors: true"},
		{"bad to", []notify.Sink{{Name: "a", Email: &notify.EmailConfig{SMTP: "x:25", From: "a@b.c", To: []string{"nobody"}}}}, `email.to: "nobody" is not a mail address`},
		{"matrix room", []notify.Sink{{Name: "a", Matrix: &notify.MatrixConfig{Homeserver: "https://m.example.org", Room: "#alias:example.org", TokenFile: "/t"}}}, "matrix.room"},
		{"slack", []notify.Sink{{Name: "a", Slack: &notify.SlackConfig{}}}, "slack.url_file"},
		{"still failing", []notify.Sink{{Name: "a", Webhook: hook(), StillFailingEvery: -1}}, "still_failing_every: want 1 or more, got -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := notify.ValidateConfig(c.sinks)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, baleen.ErrInvalid) {
				t.Errorf("got %v, want an ErrInvalid saying %q", err, c.want)
			}
		})
	}
}

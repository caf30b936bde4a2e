package notify

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"

	"github.com/baleen-ci/baleen"
	gomail "github.com/wneessen/go-mail"
)

// mailer sends plain-text mail over SMTP with go-mail, which speaks STARTTLS, implicit TLS and SMTP AUTH
// (PLAIN, LOGIN, CRAM-MD5, SCRAM) and is maintained, where net/smtp is frozen.
type mailer struct {
	cfg EmailConfig
}

func (m *mailer) send(ctx context.Context, _ baleen.Delivery, st *stored) (int, error) {
	to := m.recipients(st)
	if len(to) == 0 {
		return 0, errors.New("no recipient: no fixed address and no commit author")
	}
	msg := gomail.NewMsg()
	if err := msg.From(m.cfg.From); err != nil {
		return 0, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(to...); err != nil {
		return 0, fmt.Errorf("to: %w", err)
	}
	msg.Subject("[baleen] " + st.Title())
	msg.SetBodyString(gomail.TypeTextPlain, mailText(&st.Message))
	d := &smtpDialer{addr: m.cfg.SMTP, step: cmp.Or(m.cfg.Timeout, defaultSMTPStep)}
	c, err := m.client(d)
	if err != nil {
		return 0, err
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return 0, d.explain(err, m.cfg.TLS)
	}
	return 250, nil
}

// maxAuthorRecipients bounds the commit authors one mail goes to: their addresses are whatever the
// commits say, so a push of many commits with made-up ones must not make the server mail them all.
const maxAuthorRecipients = 10

// recipients are the fixed addresses and, for a failed build (or a digest that carries one), the commit
// authors (the first maxAuthorRecipients of them, newest commits first), each once.
func (m *mailer) recipients(st *stored) []string {
	to := slices.Clone(m.cfg.To)
	if !m.cfg.CommitAuthors {
		return to
	}
	n := 0
	for _, a := range st.Authors {
		if n == maxAuthorRecipients {
			break
		}
		if !slices.Contains(to, a) {
			to = append(to, a)
			n++
		}
	}
	return to
}

// client makes a go-mail client whose connections come from d. go-mail's own TLS dial (WithSSL) is not
// used: it bounds the dial only, and go-mail ignores it when a dial function is given, speaking plain SMTP
// to a TLS port, where both sides then wait for the other forever. d dials TLS itself for implicit TLS; the
// policy is then opportunistic, under which go-mail reads the connection's TLS state (a server must not offer
// STARTTLS inside TLS, RFC 3207) and so offers PLAIN and LOGIN auth.
func (m *mailer) client(d *smtpDialer) (*gomail.Client, error) {
	host, portStr, err := net.SplitHostPort(m.cfg.SMTP)
	if err != nil {
		return nil, fmt.Errorf("email.smtp %q: %w", m.cfg.SMTP, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("email.smtp %q: port: %w", m.cfg.SMTP, err)
	}
	tc, err := m.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTLSConfig(tc), gomail.WithTimeout(attemptTimeout),
		gomail.WithDialContextFunc(d.dial)}
	switch m.cfg.TLS {
	case "tls":
		d.tls = tc
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.cfg.Username != "" {
		pw, err := baleen.ReadSecretFile("email.password_file", m.cfg.PasswordFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.cfg.Username), gomail.WithPassword(pw))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail client: %w", err)
	}
	return c, nil
}

func (m *mailer) tlsConfig(host string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if m.cfg.CAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(m.cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read email.ca_file: %w", err)
	}
	tc.RootCAs = x509.NewCertPool()
	if !tc.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("email.ca_file %s: no PEM certificate in it", m.cfg.CAFile)
	}
	return tc, nil
}

package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

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
	c, err := m.client()
	if err != nil {
		return 0, err
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return 0, fmt.Errorf("send mail via %s: %w", m.cfg.SMTP, err)
	}
	return 250, nil
}

// recipients are the fixed addresses and, for a failed build (or a digest that carries one), the commit
// authors, each once.
func (m *mailer) recipients(st *stored) []string {
	to := slices.Clone(m.cfg.To)
	if m.cfg.CommitAuthors {
		for _, a := range st.Authors {
			if !slices.Contains(to, a) {
				to = append(to, a)
			}
		}
	}
	return to
}

func (m *mailer) client() (*gomail.Client, error) {
	host, portStr, err := net.SplitHostPort(m.cfg.SMTP)
	if err != nil {
		return nil, fmt.Errorf("email.smtp %q: %w", m.cfg.SMTP, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("email.smtp %q: port: %w", m.cfg.SMTP, err)
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if m.cfg.CAFile != "" {
		pem, err := os.ReadFile(m.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read email.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("email.ca_file %s: no PEM certificate in it", m.cfg.CAFile)
		}
	}
	opts := []gomail.Option{
		gomail.WithPort(port), gomail.WithTLSConfig(tc), gomail.WithTimeout(attemptTimeout),
	}
	switch m.cfg.TLS {
	case "tls":
		// go-mail dials TLS itself here: it must know the connection is encrypted to offer PLAIN or LOGIN
		// auth, which it does not when the dial is ours. Its timeout then bounds the dial only.
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithDialContextFunc(dialer()))
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithDialContextFunc(dialer()), gomail.WithTLSPolicy(gomail.TLSMandatory))
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

// dialer dials the SMTP server and bounds the whole conversation by the attempt's deadline, so a server
// that stops answering mid-way cannot hold the worker (go-mail's own timeout covers the dial only).
func dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(attemptTimeout)
		}
		if err := conn.SetDeadline(deadline); err != nil {
			return nil, errors.Join(err, conn.Close())
		}
		return conn, nil
	}
}

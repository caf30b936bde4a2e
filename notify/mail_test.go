package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths.
func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert = writeFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	key = writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	return cert, key
}

// git runs the git CLI in dir.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commitAs commits a change in the work tree as author and returns the commit id.
func commitAs(t *testing.T, work, author string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(work, author+".txt"), []byte(author), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, work, "add", ".")
	git(t, work, "-c", "user.name="+author, "-c", "user.email="+author+"@example.com", "commit", "-q", "-m", "change by "+author)
	return git(t, work, "rev-parse", "HEAD")
}

// A failed build is mailed over STARTTLS with AUTH to the team and to the authors of the commits the push
// brought (not to the author of the commit that was already green), with the failing tests and the log's
// last lines.
func TestMailToTheAuthorsOfTheBreakingPush(t *testing.T) {
	cert, key := selfSigned(t)
	addr, inbox := smtpServer(t, "--tls", cert, key, "--auth", "ci", "mail-password")

	repos := t.TempDir()
	git(t, repos, "init", "-q", "--bare", "shop-api.git")
	work := t.TempDir()
	git(t, work, "init", "-q", "-b", "main")
	green := commitAs(t, work, "alice")
	commitAs(t, work, "bob")
	red := commitAs(t, work, "carol")
	git(t, work, "push", "-q", filepath.Join(repos, "shop-api.git"), "main")

	st := openStore(t, t.TempDir())
	sink := notify.Sink{Name: "authors", Events: []string{"failed"}, Email: &notify.EmailConfig{
		SMTP: addr, TLS: "starttls", Username: "ci", PasswordFile: writeFile(t, "pw", "mail-password\n"),
		From: "baleen@example.com", To: []string{"team@example.com"}, CommitAuthors: true, CAFile: cert,
	}}
	_, bus, _ := startNotifier(t, notify.Options{
		Sinks: validated(t, sink), Deliveries: st, History: st, Authors: notify.GitAuthors{Dir: repos},
		Window: time.Millisecond, Links: links,
	})
	record(t, st, spec{status: baleen.StatusPassed, commit: green})
	var log strings.Builder
	for i := range 100 {
		log.WriteString("line " + itoa(i) + "\n")
	}
	b := record(t, st, spec{status: baleen.StatusFailed, commit: red, failures: []string{"cart.TestPay"}, log: log.String()})
	bus.Publish(finished(b))

	waitFor(t, "the mail", func() bool { return len(mails(t, inbox)) == 1 })
	m := mails(t, inbox)[0]
	for _, want := range []string{
		"X-Envelope-To: team@example.com", "X-Envelope-To: bob@example.com", "X-Envelope-To: carol@example.com",
		"Subject: [baleen] shop-api#2 failed on main (test)", "cart.TestPay (since #2)", "line 99", "line 70",
		"https://ci.example.com/shop-api/builds/2",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("mail lacks %q:\n%s", want, m)
		}
	}
	for _, not := range []string{"alice@example.com", "line 69\r\n", "mail-password"} {
		if strings.Contains(m, not) {
			t.Errorf("mail has %q:\n%s", not, m)
		}
	}
	waitFor(t, "the record", func() bool {
		ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{Statuses: []baleen.DeliveryStatus{baleen.DeliveryDelivered}})
		return len(ds) == 1 && ds[0].Code == 250
	})
}

// A wrong SMTP password fails the attempt and the record says why without the password, while a plain
// (tls: none) server with no auth and an implicit-TLS server (tls: tls) with auth get their mail.
func TestMailFailuresAreRecordedWithoutTheSecret(t *testing.T) {
	cert, key := selfSigned(t)
	addr, inbox := smtpServer(t, "--tls", cert, key, "--auth", "ci", "right-password")
	plain, plainInbox := smtpServer(t)
	smtps, smtpsInbox := smtpServer(t, "--smtps", cert, key, "--auth", "ci", "right-password")
	st := openStore(t, t.TempDir())
	wrong := notify.Sink{Name: "wrong", Events: []string{"passed"}, Email: &notify.EmailConfig{
		SMTP: addr, Username: "ci", PasswordFile: writeFile(t, "pw", "wrong-password"), CAFile: cert,
		From: "baleen@example.com", To: []string{"team@example.com"},
	}}
	open := notify.Sink{Name: "plain", Events: []string{"passed"}, Email: &notify.EmailConfig{
		SMTP: plain, TLS: "none", From: "baleen@example.com", To: []string{"team@example.com"},
	}}
	implicit := notify.Sink{Name: "smtps", Events: []string{"passed"}, Email: &notify.EmailConfig{
		SMTP: smtps, TLS: "tls", Username: "ci", PasswordFile: writeFile(t, "pw", "right-password"), CAFile: cert,
		From: "baleen@example.com", To: []string{"team@example.com"},
	}}
	_, bus, _ := startNotifier(t, notify.Options{
		Sinks: validated(t, wrong, open, implicit), Deliveries: st, History: st, Window: time.Millisecond, FirstRetry: time.Hour,
	})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusPassed})))
	waitFor(t, "the plain mail", func() bool { return len(mails(t, plainInbox)) == 1 })
	waitFor(t, "the mail over implicit TLS", func() bool { return len(mails(t, smtpsInbox)) == 1 })
	waitFor(t, "the failed attempt", func() bool {
		ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{Sink: "wrong"})
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{Sink: "wrong"})
	if d := ds[0]; d.Status != baleen.DeliveryPending || d.Error == "" || strings.Contains(d.Error, "wrong-password") {
		t.Errorf("got status %s, error %q; want pending with an error that hides the password", d.Status, d.Error)
	}
	if n := len(mails(t, inbox)); n != 0 {
		t.Errorf("the server with auth got %d mails, want 0", n)
	}
}

func itoa(i int) string { return strings.TrimSpace(big.NewInt(int64(i)).String()) }

// A TLS setting that does not match the server fails the attempt within the sink's step timeout, with a
// message that names the setting to change, instead of both sides waiting for each other: STARTTLS (the
// default) against an implicit-TLS server, which waits for a TLS handshake while the client waits for the
// greeting; and implicit TLS against a STARTTLS server, which greets in plain text.
func TestMailWrongTLSSettingFailsClearly(t *testing.T) {
	cert, key := selfSigned(t)
	smtps, smtpsInbox := smtpServer(t, "--smtps", cert, key)
	starttls, starttlsInbox := smtpServer(t, "--tls", cert, key)
	st := openStore(t, t.TempDir())
	sink := func(name, addr, mode string) notify.Sink {
		return notify.Sink{Name: name, Events: []string{"passed"}, Email: &notify.EmailConfig{
			SMTP: addr, TLS: mode, CAFile: cert, Timeout: time.Second,
			From: "baleen@example.com", To: []string{"team@example.com"},
		}}
	}
	_, bus, _ := startNotifier(t, notify.Options{
		Sinks:      validated(t, sink("starttls-on-465", smtps, "starttls"), sink("tls-on-587", starttls, "tls")),
		Deliveries: st, History: st, Window: time.Millisecond, FirstRetry: time.Hour,
	})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusPassed})))
	for _, c := range []struct{ sink, want string }{
		{"starttls-on-465", "no SMTP greeting within 1s: if the server expects TLS from the first byte (port 465), set tls: tls"},
		{"tls-on-587", "the server answered in plain text, not TLS: for a STARTTLS port (587, 25) set tls: starttls"},
	} {
		d := firstAttempt(t, st, c.sink)
		if d.Status != baleen.DeliveryPending || !strings.Contains(d.Error, c.want) {
			t.Errorf("%s: got %s with error %q, want pending with %q", c.sink, d.Status, d.Error, c.want)
		}
	}
	if n := len(mails(t, smtpsInbox)) + len(mails(t, starttlsInbox)); n != 0 {
		t.Errorf("got %d mails, want none", n)
	}
}

// stallingServer is a fault at the SMTP boundary: it accepts connections and, with greet, sends the
// greeting, then reads what comes and never answers.
func stallingServer(t *testing.T, greet bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if greet {
				c.Write([]byte("220 localhost ESMTP\r\n"))
			}
			go io.Copy(io.Discard, c)
		}
	}()
	return l.Addr().String()
}

// A server that stops answering at any step fails the attempt within the sink's timeout, saying where it
// stopped: after its greeting, or before the TLS handshake of implicit TLS.
func TestMailServerThatStopsAnswering(t *testing.T) {
	st := openStore(t, t.TempDir())
	sink := func(name, addr, mode string) notify.Sink {
		return notify.Sink{Name: name, Events: []string{"passed"}, Email: &notify.EmailConfig{
			SMTP: addr, TLS: mode, Timeout: time.Second, From: "baleen@example.com", To: []string{"team@example.com"},
		}}
	}
	_, bus, _ := startNotifier(t, notify.Options{
		Sinks: validated(t, sink("mute-after-greeting", stallingServer(t, true), "none"),
			sink("mute-tls", stallingServer(t, false), "tls")),
		Deliveries: st, History: st, Window: time.Millisecond, FirstRetry: time.Hour,
	})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusPassed})))
	for _, c := range []struct{ sink, want string }{
		{"mute-after-greeting", "the server stopped answering for 1s"},
		{"mute-tls", "no answer to the TLS handshake within 1s"},
	} {
		d := firstAttempt(t, st, c.sink)
		if !strings.Contains(d.Error, c.want) {
			t.Errorf("%s: got error %q, want %q", c.sink, d.Error, c.want)
		}
	}
}

// firstAttempt waits until sink's one delivery has been tried once, and returns it.
func firstAttempt(t *testing.T, st baleen.DeliveryStore, sink string) baleen.Delivery {
	t.Helper()
	var d baleen.Delivery
	waitFor(t, "the failed attempt of "+sink, func() bool {
		ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{Sink: sink})
		if len(ds) == 1 && ds[0].Attempts == 1 {
			d = ds[0]
			return true
		}
		return false
	})
	return d
}

// A push's commits name their authors as they like: a mail goes to at most 10 of them (the newest
// commits'), so that a push of many commits with made-up addresses cannot turn the server into a relay.
func TestMailToAtMostTenAuthors(t *testing.T) {
	addr, inbox := smtpServer(t)
	repos := t.TempDir()
	git(t, repos, "init", "-q", "--bare", "shop-api.git")
	work := t.TempDir()
	git(t, work, "init", "-q", "-b", "main")
	green := commitAs(t, work, "base")
	var red string
	for i := range 15 {
		red = commitAs(t, work, "author"+itoa(i))
	}
	git(t, work, "push", "-q", filepath.Join(repos, "shop-api.git"), "main")
	st := openStore(t, t.TempDir())
	sink := notify.Sink{Name: "authors", Events: []string{"failed"}, Email: &notify.EmailConfig{
		SMTP: addr, TLS: "none", From: "baleen@example.com", To: []string{"team@example.com"}, CommitAuthors: true}}
	_, bus, _ := startNotifier(t, notify.Options{Sinks: validated(t, sink), Deliveries: st, History: st,
		Authors: notify.GitAuthors{Dir: repos}, Window: time.Millisecond})
	record(t, st, spec{status: baleen.StatusPassed, commit: green})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusFailed, commit: red})))
	waitFor(t, "the mail", func() bool { return len(mails(t, inbox)) == 1 })
	m := mails(t, inbox)[0]
	if n := strings.Count(m, "X-Envelope-To: author"); n != 10 {
		t.Errorf("mailed %d authors, want 10:\n%s", n, m)
	}
	for _, want := range []string{"X-Envelope-To: team@example.com", "X-Envelope-To: author14@example.com"} {
		if !strings.Contains(m, want) {
			t.Errorf("mail lacks %q", want)
		}
	}
}

package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// LoginTTL is how long a sign-in link may be opened.
const LoginTTL = 5 * time.Minute

// SessionTTL is how long a session lasts without being used.
const SessionTTL = 7 * 24 * time.Hour

const sessionCookie = "baleen_session"

// session is a signed-in browser.
type session struct {
	id   baleen.Identity
	csrf string
	used time.Time
}

// sessions holds the one-time sign-in links and the sessions they opened, in memory: a restart signs
// everybody out.
type sessions struct {
	mu    sync.Mutex
	links map[string]linkGrant // by the hash of the link's secret
	open  map[string]*session  // by the hash of the cookie's secret
	now   func() time.Time
}

type linkGrant struct {
	id      baleen.Identity
	expires time.Time
}

func newSessions() *sessions {
	return &sessions{links: map[string]linkGrant{}, open: map[string]*session{}, now: time.Now}
}

func secret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// LoginURL mints a one-time sign-in link for id, valid for LoginTTL: the `web-login` ssh command prints it.
// base is the server's address as the person reaches it; Config.BaseURL when empty.
func (s *Server) LoginURL(id baleen.Identity, base string) (string, error) {
	if id.User == "" && id.Fingerprint == "" {
		return "", fmt.Errorf("login link: no identity: %w", baleen.ErrInvalid)
	}
	if base == "" {
		base = s.cfg.BaseURL
	}
	tok := secret()
	ss := s.sessions
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	for k, g := range ss.links {
		if now.After(g.expires) {
			delete(ss.links, k)
		}
	}
	ss.links[hash(tok)] = linkGrant{id: id, expires: now.Add(LoginTTL)}
	return strings.TrimRight(base, "/") + "/login/" + tok, nil
}

// Logout ends every session of the key with fingerprint (the `web-logout` ssh command). It returns how many
// it ended.
func (s *Server) Logout(fingerprint string) int {
	ss := s.sessions
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for k, se := range ss.open {
		if se.id.Fingerprint == fingerprint {
			delete(ss.open, k)
			n++
		}
	}
	return n
}

// redeem spends a link's secret, once.
func (ss *sessions) redeem(tok string) (baleen.Identity, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	k := hash(tok)
	g, ok := ss.links[k]
	delete(ss.links, k)
	if !ok || ss.now().After(g.expires) {
		return baleen.Identity{}, false
	}
	return g.id, true
}

func (ss *sessions) start(id baleen.Identity) (cookie string) {
	c := secret()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.open[hash(c)] = &session{id: id, csrf: secret(), used: ss.now()}
	return c
}

func (ss *sessions) find(cookie string) (session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	k := hash(cookie)
	se, ok := ss.open[k]
	if !ok {
		return session{}, false
	}
	now := ss.now()
	if now.Sub(se.used) > SessionTTL {
		delete(ss.open, k)
		return session{}, false
	}
	se.used = now
	return *se, true
}

func (ss *sessions) end(cookie string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.open, hash(cookie))
}

// caller is who sent a request.
type caller struct {
	id       baleen.Identity
	signedIn bool
	// readOnly caps the caller at RoleRead (a read-only API token).
	readOnly bool
	// csrf is the session's token that forms must carry; empty for tokens and anonymous callers.
	csrf string
	// bearer says the caller used an API token: no CSRF check, as no browser sends it by itself.
	bearer bool
}

// who identifies the caller from the session cookie or the bearer token. A bad token is an error; no
// credentials at all is an anonymous caller.
func (s *Server) who(r *http.Request) (caller, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || s.cfg.Tokens == nil {
			return caller{}, fmt.Errorf("authorization: want a Bearer API token: %w", baleen.ErrUnauthorized)
		}
		t, err := s.cfg.Tokens.TokenByHash(r.Context(), hash(strings.TrimSpace(tok)))
		if err != nil || (!t.Expires.IsZero() && time.Now().After(t.Expires)) {
			return caller{}, fmt.Errorf("API token unknown, revoked or expired: %w", baleen.ErrUnauthorized)
		}
		return caller{id: t.Identity, signedIn: true, readOnly: t.ReadOnly, bearer: true}, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if se, ok := s.sessions.find(c.Value); ok {
			return caller{id: se.id, signedIn: true, csrf: se.csrf}, nil
		}
	}
	return caller{}, nil
}

// role is what c may do with project: the Authorizer's answer (asked on every request, so that a removed
// key can do nothing more), capped by a read-only token, and at least read on a public project.
func (s *Server) role(ctx context.Context, c caller, project string) baleen.Role {
	role := baleen.RoleNone
	if c.signedIn {
		role = s.cfg.Authorizer.Role(ctx, c.id, project)
		if c.readOnly {
			role = min(role, baleen.RoleRead)
		}
	}
	if role < baleen.RoleRead && s.public(project) {
		role = baleen.RoleRead
	}
	return role
}

func (s *Server) public(project string) bool {
	return s.cfg.Public || slices.Contains(s.cfg.PublicProjects, project)
}

// require checks that c holds need on project, in words for the person refused.
func (s *Server) require(ctx context.Context, c caller, project string, need baleen.Role) error {
	if s.role(ctx, c, project) >= need {
		return nil
	}
	if !c.signedIn {
		return fmt.Errorf("sign in to see %s: run `ssh <server> web-login` and open the link: %w", project, baleen.ErrUnauthorized)
	}
	name := c.id.User
	if name == "" {
		name = c.id.Fingerprint
	}
	return fmt.Errorf("%s may not do this on %s: it needs the %s role: %w", name, project, need, baleen.ErrUnauthorized)
}

// checkCSRF compares a form's token with the session's, in constant time.
func checkCSRF(c caller, r *http.Request) error {
	if c.bearer {
		return nil
	}
	got := r.PostFormValue("csrf")
	if c.csrf == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.csrf)) != 1 {
		return errors.New("the form's CSRF token is missing or stale: reload the page and try again")
	}
	return nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	id, ok := s.sessions.redeem(r.PathValue("token"))
	if !ok {
		s.errorPage(w, r, http.StatusForbidden, errors.New("this sign-in link was used already or has expired: run `ssh <server> web-login` for a new one"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.sessions.start(id), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r), MaxAge: int(SessionTTL.Seconds())})
	s.log.Info("web sign-in", "user", id.User, "key", id.Fingerprint)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	c, _ := s.who(r)
	if err := checkCSRF(c, r); err != nil {
		s.errorPage(w, r, http.StatusForbidden, err)
		return
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secure(r), MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

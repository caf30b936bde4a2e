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

// SessionStore keeps the web sessions (store.Store implements it).
type SessionStore = baleen.SessionStore

// KeyChecker is implemented by an Authorizer that can tell whether a key is still authorized
// (access.Policy): the sessions of a key it no longer knows end at their next request.
type KeyChecker interface {
	KeyAuthorized(fingerprint string) bool
}

// extendAfter is how long a session is used before its end is moved on: not on every request, which would
// be a write for every page.
const extendAfter = time.Hour

// session is a signed-in browser.
type session struct {
	id   baleen.Identity
	csrf string
}

// sessions holds the one-time sign-in links and the sessions they open, both in the store: a restart
// signs nobody out and voids no link.
type sessions struct {
	store SessionStore
	mu    sync.Mutex
	now   func() time.Time
}

func newSessions(store SessionStore) *sessions {
	return &sessions{store: store, now: time.Now}
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
// base is the server's address as the person reaches it; Config.BaseURL when empty. Only a hash of the
// link's secret is stored.
func (s *Server) LoginURL(ctx context.Context, id baleen.Identity, base string) (string, error) {
	if id.User == "" && id.Fingerprint == "" {
		return "", fmt.Errorf("login link: no identity: %w", baleen.ErrInvalid)
	}
	if s.sessions.store == nil {
		return "", fmt.Errorf("login link: this server keeps no web sessions: %w", baleen.ErrInvalid)
	}
	if base == "" {
		base = s.cfg.BaseURL
	}
	tok := secret()
	l := baleen.LoginLink{Hash: hash(tok), Identity: id, Expires: s.sessions.clock().Add(LoginTTL).UTC()}
	if err := s.sessions.store.CreateLoginLink(ctx, l); err != nil {
		return "", fmt.Errorf("login link: %w", err)
	}
	return strings.TrimRight(base, "/") + "/login/" + tok, nil
}

// Logout ends every session of the key with fingerprint (the `web-logout` ssh command). It returns how many
// it ended.
func (s *Server) Logout(ctx context.Context, fingerprint string) (int, error) {
	if s.sessions.store == nil {
		return 0, nil
	}
	return s.sessions.store.DeleteSessionsOf(ctx, fingerprint)
}

// redeem spends a link's secret, once. An error is the store's; a link unknown, used or expired is not ok.
func (ss *sessions) redeem(ctx context.Context, tok string) (baleen.Identity, bool, error) {
	if ss.store == nil {
		return baleen.Identity{}, false, nil
	}
	l, err := ss.store.RedeemLoginLink(ctx, hash(tok))
	if errors.Is(err, baleen.ErrNotFound) {
		return baleen.Identity{}, false, nil
	}
	if err != nil {
		return baleen.Identity{}, false, err
	}
	if !ss.clock().Before(l.Expires) {
		return baleen.Identity{}, false, nil
	}
	return l.Identity, true, nil
}

// start opens a session for id and returns the cookie's secret.
func (ss *sessions) start(ctx context.Context, id baleen.Identity) (cookie string, err error) {
	c := secret()
	now := ss.clock()
	err = ss.store.CreateSession(ctx, baleen.WebSession{Hash: hash(c), Identity: id, CSRF: secret(), Created: now.UTC(),
		Expires: now.Add(SessionTTL).UTC()})
	if err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	return c, nil
}

func (ss *sessions) clock() time.Time {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.now()
}

// find returns the session of cookie, moving its end on when it was last moved over extendAfter ago. A
// session of a key that checker no longer authorizes is ended. An error is the store's; with ok, the
// session is valid still (only its end could not be moved on).
func (ss *sessions) find(ctx context.Context, cookie string, checker KeyChecker) (session, bool, error) {
	if ss.store == nil {
		return session{}, false, nil
	}
	k := hash(cookie)
	ws, err := ss.store.SessionByHash(ctx, k)
	if errors.Is(err, baleen.ErrNotFound) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, err
	}
	now := ss.clock()
	if !now.Before(ws.Expires) {
		return session{}, false, ss.store.DeleteSession(ctx, k)
	}
	if checker != nil && ws.Identity.Fingerprint != "" && !checker.KeyAuthorized(ws.Identity.Fingerprint) {
		return session{}, false, ss.store.DeleteSession(ctx, k)
	}
	se := session{id: ws.Identity, csrf: ws.CSRF}
	if ws.Expires.Sub(now) < SessionTTL-extendAfter {
		// A session that could not be moved on is still valid until its end: the error is only reported.
		return se, true, ss.store.ExtendSession(ctx, k, now.Add(SessionTTL).UTC())
	}
	return se, true, nil
}

func (ss *sessions) end(ctx context.Context, cookie string) error {
	if ss.store == nil {
		return nil
	}
	return ss.store.DeleteSession(ctx, hash(cookie))
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

// who identifies the caller from the bearer token or the session cookie. A bad token is an error; no
// credentials at all is an anonymous caller. An Authorization header of another scheme (the Basic password of
// a reverse proxy in front, passed on) is not Baleen's and is ignored.
func (s *Server) who(r *http.Request) (caller, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if s.cfg.Tokens == nil {
			return caller{}, fmt.Errorf("authorization: this server takes no API tokens: %w", baleen.ErrUnauthorized)
		}
		t, err := s.cfg.Tokens.TokenByHash(r.Context(), hash(strings.TrimSpace(tok)))
		if err != nil || (!t.Expires.IsZero() && time.Now().After(t.Expires)) {
			return caller{}, fmt.Errorf("API token unknown, revoked or expired: %w", baleen.ErrUnauthorized)
		}
		return caller{id: t.Identity, signedIn: true, readOnly: t.ReadOnly, bearer: true}, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		checker, _ := s.cfg.Authorizer.(KeyChecker)
		se, ok, err := s.sessions.find(r.Context(), c.Value, checker)
		if err != nil {
			s.log.Error("read web session", "err", err)
		}
		if ok {
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

// mayRead says whether c may read a project, for Build.SeenBy and PusherSeenBy: a page or answer about
// one project names no other project its reader may not read.
func (s *Server) mayRead(ctx context.Context, c caller) func(project string) bool {
	return func(project string) bool { return s.role(ctx, c, project) >= baleen.RoleRead }
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

// loginPage answers the opening of a sign-in link with a page whose button signs in: a GET spends nothing,
// so a link previewer or scanner that fetches the link (a chat's unfurling, a mail filter) does not use it
// up, and no page of another site can sign a browser in by loading it.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	c, _ := s.who(r)
	s.render(w, http.StatusOK, "login", frame(c, "Sign in", loginData{Action: "/login/" + r.PathValue("token")}))
}

type loginData struct {
	Action string
}

// login spends a sign-in link (the login page's form) and opens a session. A form posted from another site
// is refused, so that no site can sign a browser in as someone else.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		s.errorPage(w, r, http.StatusForbidden, errors.New("a sign-in from another site is refused: open the link yourself"))
		return
	}
	id, ok, err := s.sessions.redeem(r.Context(), r.PathValue("token"))
	if err != nil {
		s.log.Error("web sign-in", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, errors.New("the sign-in link could not be read: try again in a moment"))
		return
	}
	if !ok {
		s.errorPage(w, r, http.StatusForbidden, errors.New("this sign-in link was used already or has expired: run `ssh <server> web-login` for a new one"))
		return
	}
	cookie, err := s.sessions.start(r.Context(), id)
	if err != nil {
		s.log.Error("web sign-in", "user", id.User, "key", id.Fingerprint, "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, errors.New("the session could not be recorded: try a new link in a moment"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true,
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
		if err := s.sessions.end(r.Context(), ck.Value); err != nil {
			s.log.Error("web sign-out", "user", c.id.User, "key", c.id.Fingerprint, "err", err)
			s.errorPage(w, r, http.StatusInternalServerError, errors.New("the session could not be ended: try again"))
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secure(r), MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

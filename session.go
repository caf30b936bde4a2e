package baleen

import (
	"context"
	"time"
)

// WebSession is a browser signed in with a one-time link from `ssh HOST web-login`. Only a hash of the
// secret its cookie carries is kept, as for API tokens.
type WebSession struct {
	// Hash is the hex SHA-256 of the cookie's secret.
	Hash     string   `json:"-"`
	Identity Identity `json:"identity"`
	// CSRF is the token the session's forms carry.
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	// Expires is when the session ends unless it is used before; use moves it on.
	Expires time.Time `json:"expires"`
}

// LoginLink is a one-time sign-in link that `ssh HOST web-login` printed, not yet opened. Only a hash of the
// secret in its URL is kept.
type LoginLink struct {
	// Hash is the hex SHA-256 of the link's secret.
	Hash     string    `json:"-"`
	Identity Identity  `json:"identity"`
	Expires  time.Time `json:"expires"`
}

// SessionStore keeps web sessions and the sign-in links that open them, so that a restart signs nobody out
// and voids no link. Every method is safe for concurrent
// use.
type SessionStore interface {
	// CreateSession records s; ErrExists if its hash is taken.
	CreateSession(ctx context.Context, s WebSession) error
	// SessionByHash returns the session whose secret hashes to hash; ErrNotFound if none or if it expired.
	SessionByHash(ctx context.Context, hash string) (WebSession, error)
	// ExtendSession moves the end of the session with hash to expires; ErrNotFound if none.
	ExtendSession(ctx context.Context, hash string, expires time.Time) error
	// DeleteSession ends the session with hash; ending one that does not exist is no error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteSessionsOf ends every session of the key with fingerprint and returns how many it ended.
	DeleteSessionsOf(ctx context.Context, fingerprint string) (int, error)
	// CreateLoginLink records l; ErrExists if its hash is taken.
	CreateLoginLink(ctx context.Context, l LoginLink) error
	// RedeemLoginLink removes the link with hash and returns it, at once: of concurrent calls for one link
	// one at most gets it. ErrNotFound if none, if it was redeemed already, or if it expired.
	RedeemLoginLink(ctx context.Context, hash string) (LoginLink, error)
}

package baleen

import (
	"context"
	"time"
)

// APIToken is a credential for the HTTP API, made by `ssh HOST token create` for the key that asked. Only a
// hash of its secret is kept.
type APIToken struct {
	// ID names the token in listings and to revoke it: the first characters of its hash.
	ID string `json:"id"`
	// Hash is the hex SHA-256 of the secret.
	Hash     string   `json:"-"`
	Identity Identity `json:"identity"`
	// ReadOnly caps the token at the read role whatever its owner holds.
	ReadOnly bool      `json:"read_only"`
	Created  time.Time `json:"created"`
	// Expires is when the token stops working; zero for never.
	Expires time.Time `json:"expires,omitzero"`
}

// TokenStore keeps API tokens. Every method is safe for concurrent use.
type TokenStore interface {
	// CreateToken records t; ErrExists if its hash is taken.
	CreateToken(ctx context.Context, t APIToken) error
	// TokenByHash returns the token whose secret hashes to hash; ErrNotFound if none.
	TokenByHash(ctx context.Context, hash string) (APIToken, error)
	// Tokens lists the tokens, oldest first.
	Tokens(ctx context.Context) ([]APIToken, error)
	// DeleteToken removes the token with id; ErrNotFound if none.
	DeleteToken(ctx context.Context, id string) error
}

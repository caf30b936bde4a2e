package web

import (
	"context"
	"fmt"
	"time"

	"github.com/baleen-ci/baleen"
)

// TokenStore keeps API tokens (store.Store implements it).
type TokenStore = baleen.TokenStore

// tokenPrefix marks Baleen's API tokens, so that a leaked one is recognisable.
const tokenPrefix = "bln_"

// CreateToken makes an API token for id and returns its secret, shown once (`ssh HOST token create
// [--read-only] [--expires 30d]`). ttl 0 means it never expires.
func CreateToken(ctx context.Context, ts TokenStore, id baleen.Identity, readOnly bool, ttl time.Duration) (string, baleen.APIToken, error) {
	if ttl < 0 {
		return "", baleen.APIToken{}, fmt.Errorf("token expiry: want a positive duration, got %s: %w", ttl, baleen.ErrInvalid)
	}
	sec := tokenPrefix + secret()
	h := hash(sec)
	t := baleen.APIToken{ID: h[:12], Hash: h, Identity: id, ReadOnly: readOnly, Created: time.Now().UTC()}
	if ttl > 0 {
		t.Expires = t.Created.Add(ttl)
	}
	if err := ts.CreateToken(ctx, t); err != nil {
		return "", baleen.APIToken{}, fmt.Errorf("create token: %w", err)
	}
	return sec, t, nil
}

// ListTokens lists the tokens of the key with fingerprint, or every token when all is set (for admins).
func ListTokens(ctx context.Context, ts TokenStore, fingerprint string, all bool) ([]baleen.APIToken, error) {
	ts2, err := ts.Tokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	var out []baleen.APIToken
	for _, t := range ts2 {
		if all || t.Identity.Fingerprint == fingerprint {
			out = append(out, t)
		}
	}
	return out, nil
}

// RevokeToken deletes token id if it belongs to the key with fingerprint, or whoever's it is when any is set
// (for admins). ErrNotFound otherwise, so that others' token ids are not confirmed.
func RevokeToken(ctx context.Context, ts TokenStore, id, fingerprint string, any bool) error {
	all, err := ts.Tokens(ctx)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	for _, t := range all {
		if t.ID == id && (any || t.Identity.Fingerprint == fingerprint) {
			return ts.DeleteToken(ctx, id)
		}
	}
	return fmt.Errorf("revoke token %s: no such token of yours: %w", id, baleen.ErrNotFound)
}

// ParseExpiry reads a token lifetime: Go durations ("12h") or days ("30d").
func ParseExpiry(s string) (time.Duration, error) {
	var days int
	if n, err := fmt.Sscanf(s, "%dd", &days); err == nil && n == 1 && fmt.Sprintf("%dd", days) == s && days > 0 {
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expiry %q: want a duration such as 30d or 12h: %w", s, baleen.ErrInvalid)
	}
	return d, nil
}

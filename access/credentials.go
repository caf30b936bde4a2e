package access

import (
	"errors"
	"fmt"

	"github.com/baleen-ci/baleen"
)

// CheckCredentials returns nil when project may use every credential in names, and otherwise an error
// wrapping baleen.ErrUnauthorized that names each one it may not use. A credential the server does not
// have and one whose projects do not include project get the same words, so that the refusal tells a
// pusher nothing about the secrets of other projects.
func (p *Policy) CheckCredentials(project string, names []string) error {
	var errs []error
	for _, n := range names {
		if !p.CredentialAllowed(project, n) {
			errs = append(errs, fmt.Errorf("credential %s is not available to project %s (the server's config lists, under credentials, the projects each one is for)", n, project))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", errors.Join(errs...), baleen.ErrUnauthorized)
}

// CredentialAllowed reports whether project may use the server credential name: one of the credential's
// project globs matches it.
func (p *Policy) CredentialAllowed(project, name string) bool {
	return baleen.ValidateProjectName(project) == nil && matchAny(p.cfg.Credentials[name], project)
}

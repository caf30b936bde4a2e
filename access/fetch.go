package access

import "github.com/baleen-ci/baleen"

// FetchKeyAllowed reports whether a repository may be fetched with the server's fetch key for project: one
// of the globs of fetch_key_projects matches it. gitd asks it of every project a fetch is made for.
func (p *Policy) FetchKeyAllowed(project string) bool {
	return baleen.ValidateProjectName(project) == nil && matchAny(p.cfg.FetchKey, project)
}

// GitCredentialAllowed reports whether a repository on host may be fetched with host's login under
// git_credentials for project: one of the login's project globs matches it.
func (p *Policy) GitCredentialAllowed(host, project string) bool {
	return baleen.ValidateProjectName(project) == nil && matchAny(p.cfg.GitCredentials[host], project)
}

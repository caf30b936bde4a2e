// Package access decides who may do what: it reads the `users:`, `access:` and `credentials:` sections of
// the server's config file and the plain authorized keys file, turns a key a client proved it holds into a
// baleen.Identity, and answers baleen.Authorizer's question (which role an identity holds on a project) for
// every entry point: git push and fetch in gitd, each ssh command, the web.
//
// It sits before the flow push -> build -> test -> push image -> deploy: gitd asks Lookup when a client
// authenticates, and the entry points ask Role (through baleen.Require) before each operation. The key
// files are read again whenever their content changes, and Role looks the identity's key up again, so a
// key removed from the files can do nothing more, even on a connection it opened before.
//
// Credentials are scoped: each server secret lists the projects (globs) that may name it, and
// CheckCredentials refuses the others at a build's config stage. So are the server's fetch credentials:
// FetchKeyAllowed and GitCredentialAllowed say which projects may fetch with the fetch key and with each
// login of git_credentials (gitd asks them). docs/config.md documents the format.
package access

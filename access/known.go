package access

// KeyAuthorized reports whether the key with fingerprint is authorized now (listed for one user, or in the
// plain authorized keys file), from the current content of the files: the web ends the sessions of a key
// that is no longer.
func (p *Policy) KeyAuthorized(fingerprint string) bool {
	_, ok := p.resolve(fingerprint)
	return ok
}

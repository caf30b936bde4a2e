package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// SecretUse is one place a baleen.yml names a server secret: under the top-level credentials, a
// dependency's or a deploy unit's.
type SecretUse struct {
	// Name is the secret's name.
	Name string
	// Path is the dotted path of the list entry ("depends.db.credentials[0]").
	Path      string
	Line, Col int
}

// Secrets lists every place the file names a secret, in file order.
func (f *File) Secrets() []SecretUse {
	return slices.SortedStableFunc(slices.Values(f.secrets), func(a, b SecretUse) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// CheckSecrets asks refuse about each secret the file names, and returns an Errors holding, at the place
// each refused one is named, the path and refuse's words ("baleen.yml:7:20: depends.db.credentials[0]:
// credential X is not available to project P"); nil when refuse refuses none.
func (f *File) CheckSecrets(refuse func(name string) error) error {
	var errs Errors
	for _, u := range f.Secrets() {
		if err := refuse(u.Name); err != nil {
			errs = append(errs, &Error{File: f.name, Line: u.Line, Col: u.Col, Msg: fmt.Sprintf("%s: %v", u.Path, err)})
		}
	}
	return errs.orNil()
}

// CheckTargets checks deploy.target against targets, the names of the server's deploy targets, so that a
// push learns at its config stage, at the line, of a target the server does not have, rather than after
// its build; nil without a deploy section.
func (f *File) CheckTargets(targets []string) error {
	if f.Spec.Deploy == nil || f.Spec.Deploy.Target == "" || slices.Contains(targets, f.Spec.Deploy.Target) {
		return nil
	}
	name := f.Spec.Deploy.Target
	msg := fmt.Sprintf("deploy.target: %q is not a target of this server (it has none)", name)
	if s := suggest(name, targets); s != "" {
		msg = fmt.Sprintf("deploy.target: %q is not a target of this server; did you mean %s?", name, s)
	} else if len(targets) > 0 {
		msg = fmt.Sprintf("deploy.target: %q is not a target of this server (%s)", name, truncate(strings.Join(slices.Sorted(slices.Values(targets)), ", "), 200))
	}
	return Errors{{File: f.name, Line: f.target.line, Col: f.target.col, Msg: msg}}
}

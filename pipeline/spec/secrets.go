package spec

import (
	"cmp"
	"fmt"
	"slices"
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

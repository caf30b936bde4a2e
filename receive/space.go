package receive

import "io"

// spaceRefused reports the free-space check's refusal, if any, for every update of the push and to out.
func (r *Rules) spaceRefused(errs []error, out io.Writer) bool {
	if r.CheckSpace == nil {
		return false
	}
	err := r.CheckSpace()
	if err == nil {
		return false
	}
	io.WriteString(out, err.Error()+"\n")
	for i := range errs {
		errs[i] = err
	}
	return true
}

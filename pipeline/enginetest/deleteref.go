package enginetest

// DeleteRef removes a ref of project, as a deletion pushed by another writer would.
func (r *Repos) DeleteRef(project, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.refs, project+"\x00"+name)
}

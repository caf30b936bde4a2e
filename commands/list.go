package commands

import "strings"

// Entry describes one ssh command for documentation (the man page): its name, its arguments and flags, and
// what it does.
type Entry struct {
	Name, Args, Summary string
}

// List returns the ssh commands in the order `help` shows them, from the same table that answers them.
func List() []Entry {
	entries := make([]Entry, 0, len(table))
	for _, c := range table {
		entries = append(entries, Entry{Name: c.name, Args: strings.TrimSpace(strings.TrimPrefix(c.usage(), c.name)), Summary: c.help})
	}
	return entries
}

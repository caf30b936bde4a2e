package shell

import "strings"

// Quote quotes s as one shell word: s inside single quotes, where each single quote of s ends the quoted
// part, is written escaped, and starts a new one. Every other byte, newlines included, stands for itself;
// the empty string becomes an empty pair of quotes.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word of argv and joins them with spaces, as one shell command line.
func Join(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

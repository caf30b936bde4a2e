// Package shell quotes words for a POSIX shell (sh, and the remote shell of ssh): the git hook and the
// ssh command of source fetches in gitd, and the commands deploy runs on hosts, all quote this one way.
package shell

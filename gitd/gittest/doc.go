// Package gittest serves git repositories for the tests of what fetches them (gitd's dependency fetches,
// the server's end-to-end tests): git's own http-backend behind a TLS server and a login, on a loopback
// port. It is for tests only.
package gittest

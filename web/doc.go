// Package web is Baleen's HTTP side: server-rendered pages for every project, build and release, the live
// log of a running build over server-sent events, a JSON API under /api/v1, status and coverage badges,
// Prometheus metrics and health endpoints.
//
// It sits at the end of the push -> build -> test -> deploy flow and only reads what the other parts record:
// projects, builds, logs and releases through the stores' interfaces, and build events through
// baleen.EventSource. Actions (rebuild, cancel, deploy, roll back) go through the Actions interface, checked
// with the same baleen.Authorizer as the ssh commands. People sign in with a one-time link that the
// `web-login` ssh command prints; machines use API tokens.
package web

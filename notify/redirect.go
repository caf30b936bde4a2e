package notify

import (
	"errors"
	"net/http"
)

// maxRedirects bounds the redirects one outgoing request follows.
const maxRedirects = 5

// ErrRedirect is the error of an attempt that a redirect to another scheme, host or port ended.
var ErrRedirect = errors.New("a redirect to another host is not followed: configure the URL it points to")

// HTTPClient returns the client for outgoing notifications and commit statuses made from c: a client with
// a 30s timeout when c is nil, and a copy of c that follows redirects as SameOriginRedirects allows when c
// sets no CheckRedirect of its own.
func HTTPClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: attemptTimeout, CheckRedirect: SameOriginRedirects}
	}
	if c.CheckRedirect != nil {
		return c
	}
	cc := *c
	cc.CheckRedirect = SameOriginRedirects
	return &cc
}

// SameOriginRedirects is the CheckRedirect of every outgoing request: a redirect is followed only to the
// same scheme, host and port, at most 5 in a row. Followed elsewhere, a request would carry its credentials
// to a host nobody configured: a token header that the HTTP client keeps on a redirect (GitLab's
// PRIVATE-TOKEN), a Slack URL, whose path is its secret, in the Referer, a signed body. Any other redirect
// ends the attempt with the 3xx answer.
func SameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("stopped after 5 redirects")
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

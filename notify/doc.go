// Package notify tells people what builds and releases did. It sits after the verdict in the flow: it
// subscribes to the build events (baleen.EventSource), derives the notification events (failed, fixed,
// passed, still_failing, release_done, release_failed, release_rolled_back) from each finished build and the
// project's previous builds on the branch, and queues one delivery per matching sink in the delivery store
// (badger, so a restart loses nothing). A background worker sends them: signed webhooks, e-mail over SMTP,
// Slack-compatible incoming webhooks and Matrix rooms, retried with exponential backoff for up to a day and
// coalesced into a digest when many arrive at once. Other parts queue their own deliveries in the same queue
// with Notifier.Enqueue and a Sender (package forge's commit statuses), so that one worker retries and
// records them all. Nothing here can slow or fail a build.
//
// The `notify:` section of the server config is checked by ValidateConfig; docs/notify.md describes it and the
// versioned JSON body of the webhook.
package notify

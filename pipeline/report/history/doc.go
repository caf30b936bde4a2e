// Package history tells a build's test results apart by what came before them: which failures are new,
// which have been failing since an earlier build, which tests were fixed, which are flaky (they failed and
// passed on the same commit), and how coverage moved since the branch's previous green build.
//
// It sits after the test stage of the flow push -> build -> test -> push image -> deploy: once the
// reports are read, Record keeps the build's test cases in a baleen.TestHistory (the store keeps them in
// badger) and writes the comparison under the test summary of the push output. Tests and Failures render
// the same history for the `tests` and `report` ssh commands. Everything here works on the history alone:
// it imports no store, no engine and no transport.
package history

package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the baleen binary: run with BALEEN_TEST_MAIN=1, it is
// `baleen`, so end-to-end tests start real server processes (and kill them) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("BALEEN_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

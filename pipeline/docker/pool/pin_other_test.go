//go:build !linux

package pool_test

import "testing"

// pinEngines pins nothing off Linux: it says why (see pin_linux_test.go).
func pinEngines(b *testing.B, hosts ...string) string {
	return "pinning engines to a CPU each needs Linux"
}

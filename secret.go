package baleen

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecretFile reads a secret from file, trimmed of surrounding white space, for the config key that
// names the file. Callers read it each time they need it, so that a rotated secret takes effect without a
// restart. The error names the key and the file, never the content.
func ReadSecretFile(key, file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("read %s: %s is empty", key, file)
	}
	return s, nil
}

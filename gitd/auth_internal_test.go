package gitd

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// TestAuthorizedKeysOptionsFailClosed stops a key whose authorized_keys line limits it (from=, command=,
// restrict) from being let in without those limits: Baleen honours no options, so it leaves such keys out.
func TestAuthorizedKeysOptionsFailClosed(t *testing.T) {
	line := func() (string, string) {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := gossh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))), string(k.Marshal())
	}
	plain, plainKey := line()
	limited, limitedKey := line()
	data := "# keys\n" + plain + " alice\n" + `from="10.0.0.0/8",restrict ` + limited + " bob\nnot a key\n"
	var skipped []int
	keys := parseAuthorizedKeys([]byte(data), func(n int, err error) { skipped = append(skipped, n) })
	if !keys[plainKey] {
		t.Error("the plain key is not authorized")
	}
	if keys[limitedKey] {
		t.Error("a key with options is authorized without its limits")
	}
	if len(skipped) != 2 || skipped[0] != 3 || skipped[1] != 4 {
		t.Errorf("skipped lines: got %v, want [3 4]", skipped)
	}
}

package store

import (
	"fmt"
	"strconv"

	"github.com/baleen-ci/baleen"
)

// maxNumber is the largest build number the ten-digit key field holds.
const maxNumber = 9_999_999_999

func projectKey(project string) []byte { return []byte("p/" + project) }

func projectPrefix() []byte { return []byte("p/") }

func lastNumberKey(project string) []byte { return []byte("n/" + project) }

func buildKey(project string, number int) []byte {
	return fmt.Appendf(nil, "b/%s/%010d", project, number)
}

func buildPrefix(project string) []byte {
	if project == "" {
		return []byte("b/")
	}
	return []byte("b/" + project + "/")
}

func logPrefix(project string, number int) []byte {
	return fmt.Appendf(nil, "l/%s/%010d/", project, number)
}

func chunkKey(project string, number int, offset int64) []byte {
	return fmt.Appendf(logPrefix(project, number), "%020d", offset)
}

// chunkOffset reads the offset field of a chunk key that starts with prefix.
func chunkOffset(key, prefix []byte) (int64, error) {
	off, err := strconv.ParseInt(string(key[len(prefix):]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("log chunk key %q: %w", key, err)
	}
	return off, nil
}

func releaseKey(project string, number int) []byte {
	return fmt.Appendf(nil, "r/%s/%010d", project, number)
}

func releasePrefix(project string) []byte { return []byte("r/" + project + "/") }

func lastReleaseKey(project string) []byte { return []byte("rn/" + project) }

// buildName names a build in messages: "api#7".
func buildName(project string, number int) string {
	return fmt.Sprintf("%s#%d", project, number)
}

// checkBuild checks a project name and build number given by a caller. A number outside 1..maxNumber
// names no build.
func checkBuild(project string, number int) error {
	if err := baleen.ValidateProjectName(project); err != nil {
		return err
	}
	if number < 1 || number > maxNumber {
		return fmt.Errorf("build %s: %w", buildName(project, number), baleen.ErrNotFound)
	}
	return nil
}

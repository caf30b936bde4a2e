package store

import "github.com/baleen-ci/baleen"

// EncodedRunSize is the size of run as kept, with its names numbered up to lastID.
func EncodedRunSize(run baleen.TestRun, lastID int) int {
	ids := make([]uint64, len(run.Cases))
	for i := range ids {
		ids[i] = uint64(lastID - i)
	}
	return len(encodeRun(run, ids))
}

package store

import (
	"fmt"
	"syscall"

	"github.com/baleen-ci/baleen"
)

// DefaultMinFree is the free space, in bytes, that the data directory's file system must keep for a push
// to be taken: a push stores a pack, a build writes its log, records and artifacts.
const DefaultMinFree = 1 << 30

// CheckSpace refuses a push when the file system holding dir has less than minFree bytes free for an
// unprivileged process, rather than letting the push fill it. The error wraps baleen.ErrUnavailable and
// is worded for the pusher: how much is free and how much a push needs. A minFree of 0 disables the check.
func CheckSpace(dir string, minFree uint64) error {
	if minFree == 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("check free space of %s: %w", dir, err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < minFree {
		return fmt.Errorf("the server's disk is nearly full (%s free, a push needs %s): ask its operator to free space: %w",
			bytesText(free), bytesText(minFree), baleen.ErrUnavailable)
	}
	return nil
}

// bytesText writes n in the largest binary unit that keeps it at least 1.
func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

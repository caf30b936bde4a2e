package pipeline

import "github.com/baleen-ci/baleen/pipeline/retention"

// Holds returns the holds the scheduler's builds take on their dependencies' images, for a
// retention.Collector to spare them.
func (s *Scheduler) Holds() *retention.Holds { return s.holds }

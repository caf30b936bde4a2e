package main

import (
	"log/slog"

	"github.com/baleen-ci/baleen/receive"
)

// refMoveFaultEnv, when set in the server's environment, holds every push between its verdicts and its ref
// moves. Only the end-to-end tests set it, to stop the server at that moment.
const refMoveFaultEnv = "BALEEN_TEST_HOLD_REF_MOVE"

// withRefMoveFault makes r hold each push forever, after logging "holding before the ref move", once its
// builds have their verdicts, when refMoveFaultEnv is set; otherwise r is unchanged.
func withRefMoveFault(getenv func(string) string, log *slog.Logger, r *receive.Rules) *receive.Rules {
	if getenv(refMoveFaultEnv) == "" {
		return r
	}
	r.BeforeRefMove = func() {
		log.Warn("holding before the ref move", "fault", refMoveFaultEnv)
		select {}
	}
	return r
}

package commands

// The exit codes of `baleen` and of the ssh commands alike: the one place they are defined.
const (
	// ExitOK: done, or the build passed.
	ExitOK = 0
	// ExitFailed: the pipeline failed (a build, a dependency, the tests, a release), the project or build
	// asked for does not exist, the caller lacks the role the command needs, or the server lacks the part
	// it needs (no web side, no deploy targets...).
	ExitFailed = 1
	// ExitUsage: an unknown command, a missing, extra or wrong argument (a build number that is not one),
	// an unknown flag, or a configuration that is not valid.
	ExitUsage = 2
	// ExitInfra: infrastructure could not be used: the Docker engine, a deploy host, a git host.
	ExitInfra = 3
	// ExitInternal: anything else that went wrong inside Baleen.
	ExitInternal = 4
)

// ExitCodes is the exit codes in words, for usage texts.
const ExitCodes = `Exit codes: 0 done (or passed), 1 failed (or not found, or refused), 2 usage, 3 infrastructure unreachable, 4 internal error.
`

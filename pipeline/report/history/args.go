package history

import (
	"errors"
	"fmt"
	"strings"
)

// TestsUsage is the usage line of the tests command.
const TestsUsage = "tests <project> [--branch B] [--failing|--flaky|--slowest] [--json]"

// ParseTestsArgs reads the arguments of the tests command (after its name): one project and the options,
// in any order. An error says what is wrong, for a usage message.
func ParseTestsArgs(args []string) (project string, o TestsOptions, err error) {
	var projects []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			projects = append(projects, a)
			continue
		}
		switch name {
		case "branch":
			if !hasValue {
				if i+1 == len(args) {
					return "", TestsOptions{}, errors.New("--branch needs a branch name")
				}
				i++
				value = args[i]
			}
			o.Branch = value
		case "failing", "flaky", "slowest":
			if o.Filter != All && o.Filter != Filter(name) {
				return "", TestsOptions{}, fmt.Errorf("--%s and --%s: give at most one", o.Filter, name)
			}
			o.Filter = Filter(name)
		case "json":
			o.JSON = true
		default:
			return "", TestsOptions{}, fmt.Errorf("unknown flag %s", a)
		}
	}
	if len(projects) != 1 {
		return "", TestsOptions{}, fmt.Errorf("want one project, got %d", len(projects))
	}
	return projects[0], o, nil
}

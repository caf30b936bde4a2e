// Package commands answers the ssh commands that read and steer Baleen's records:
// `ssh -p PORT HOST builds api`. The SSH server (gitd) hands it every ssh command that is not git's own,
// as a baleen.Call (who, arguments, streams); it reads the stores and asks the scheduler (through the
// small Scheduler interface) to rebuild, follow or cancel builds and to deploy or roll back.
//
// It sits beside the flow push -> build -> test -> push image -> deploy, reading what each step recorded.
// Every command is one entry of one table (its name, arguments, flags and help) and one handler: the
// usage text and flag parsing come from the table. Its exit codes (ExitOK ... ExitInternal) are those of
// the `baleen` binary too.
package commands

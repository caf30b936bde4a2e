// Package receive holds Baleen's rules for a git push, the step between gitd (which speaks SSH and git) and
// the pipeline (which builds): push -> receive -> build -> test -> push image -> deploy.
//
// Rules implements gitd.Receiver. A branch moves only when its build passes; a failed build rejects the
// ref with "build #N failed: <stage>" (the scheduler keeps the commit at refs/baleen/builds/N); tags and
// deletions are stored without a build; refs/baleen/ is reserved for Baleen's own records. Push options
// steer it: `-o ci.skip` stores branches without a build, as for a tag; unknown options are shown and
// otherwise ignored. After a green push, the projects that depend on the branch are rebuilt once it has
// moved.
package receive

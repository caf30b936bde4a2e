// Package receive holds Baleen's rules for a git push, the step between gitd (which speaks SSH and git) and
// the pipeline (which builds): push -> receive -> build -> test -> push image -> deploy.
//
// Rules implements gitd.Receiver. A branch moves only when its build passes; a failed build rejects the
// ref with "build #N failed: <stage>" (the scheduler keeps the commit at refs/baleen/builds/N); tags and
// deletions are stored without a build; refs/baleen/ is reserved for Baleen's own records. Push options
// steer it: `-o ci.skip` stores branches without a build, as for a tag; unknown options are shown and
// otherwise ignored. After a green push, the projects that depend on the branch are rebuilt once it has
// moved.
//
// A server stopped between a push's verdicts and its ref moves completes them at its next start
// (CompleteRefMoves: each green build's move, and an atomic push's moves all together or none), then queues
// the rebuilds of dependents those pushes owe (QueueRebuilds); both are recorded in the store before the
// refs move.
//
// Each build of a push carries the ref update's old value, which it checks just before it releases (a
// branch moved meanwhile gets no latest tag, push or deploy), and holds its images until PostReceive
// settles it, once the refs have moved: images are pruned only after the branch points where it should.
package receive

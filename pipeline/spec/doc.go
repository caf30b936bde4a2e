// Package spec parses and validates baleen.yml, the file in a repository's root that says what Baleen does
// with a push: which images to build, which dependency containers the tests need, how the tests run, what
// they leave behind, and (for later stages) where green images are pushed and deployed.
//
// It sits at the very start of the flow push -> build -> test -> push image -> deploy: when a push arrives,
// the pipeline reads baleen.yml from the pushed commit, calls ParseFile (or Parse) and then File.CheckTree
// against the commit's tree, and only then plans the build. `baleen validate` and `baleen build` call it the
// same way on a working copy.
//
// The parser is strict: unknown keys, wrong types, bad names, bad paths and bad durations are all errors,
// reported at once, each with its file, line and column (see Error and Errors). It walks the yaml.Node tree
// of go.yaml.in/yaml/v3 itself, so that every problem carries a position, and it never expands YAML aliases
// beyond a small budget, so that a "billion laughs" file is refused, not inflated.
//
// docs/baleen-yml.md documents the format and docs/baleen.schema.json describes it as a JSON Schema; the
// tests keep both in step with the parser.
package spec

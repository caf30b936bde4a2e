package pipeline_test

import (
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestPipelineDependsAfterOnDocker runs a migrate dependency that reads from db the moment it starts and
// dies if db is not serving yet: with after: [db] it starts only once db is ready, and the build passes.
func TestPipelineDependsAfterOnDocker(t *testing.T) {
	f := newFixture(t, map[string]string{
		"Dockerfile": appDockerfile,
		"db.sh":      slowDB,
		"test.sh":    reportingTest,
		"migrate.sh": "#!/bin/sh\nwget -q -O /tmp/got http://db/data || { echo 'migrate: db not serving'; exit 9; }\ntouch /tmp/ok\nexec sleep 600\n",
		"baleen.yml": `
build:
  pt-app: .
depends:
  migrate:
    image: pt-app
    command: ["/app/migrate.sh"]
    ready:
      command: test -f /tmp/ok
      timeout: 60s
    after: [db]
  db:
    image: pt-app
    command: ["/app/db.sh"]
    ready:
      command: wget -q -O /dev/null http://127.0.0.1/data
      timeout: 60s
test:
  command: ["/app/test.sh"]
`,
	})
	res := f.run(t.Context())
	wantStatus(t, res, baleen.StatusPassed, "")
	f.wantOutput("db: ready (ready command)", "migrate: ready (ready command)", "PASSED in")
}

module github.com/baleen-ci/baleen

go 1.26.8

#!/usr/bin/env bash
# Regenerates the reports in pipeline/report/testdata/real with the real tools, so that the readers are
# tested on what those tools write: pytest's --junitxml and coverage.py's `coverage xml` (Debian's
# python3-pytest and python3-coverage), gcovr over a C++ program built with g++ --coverage (Debian's gcovr,
# g++), and `go test -json` turned into JUnit by go-junit-report. Each tool's own figure is written next
# to its report (*.expected), for the tests to compare with.
#
#   apt-get install python3-pytest python3-coverage gcovr g++
#   scripts/report-samples.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/pipeline/report/testdata/real
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# pytest and coverage.py: passing, failing, erroring, skipped and parametrised tests, with branches.
mkdir -p "$work/py/calc" "$work/py/tests"
cat >"$work/py/calc/__init__.py" <<'PY'
def div(a, b):
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return a / b


def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


def unused(x):
    return x * 2
PY
cat >"$work/py/tests/test_calc.py" <<'PY'
import sys

import pytest

from calc import div, sign


def test_div():
    assert div(6, 3) == 2


@pytest.mark.parametrize("x,want", [(5, 1), (-5, -1), (0, 1)])
def test_sign(x, want):
    assert sign(x) == want


@pytest.mark.skipif(sys.platform != "win32", reason="windows only")
def test_windows():
    pass


@pytest.fixture
def db():
    raise RuntimeError("no database")


def test_query(db):
    pass
PY
(cd "$work/py" && $py -m coverage run --branch -m pytest -q --junitxml="$out/pytest.xml" -o junit_family=xunit2 tests >/dev/null || true)
(cd "$work/py" && $py -m coverage xml -q -o "$out/coverage-py.xml" --include='calc/*')
(cd "$work/py" && $py -m coverage report --include='calc/*' --format=total --precision=1) >"$out/coverage-py.expected" 2>/dev/null ||
	(cd "$work/py" && $py -m coverage report --include='calc/*' | awk '/^TOTAL/ {print $NF}') >"$out/coverage-py.expected"

# gcovr: a class whose destructor the compiler emits twice (complete and base object), only one called.
mkdir -p "$work/cc"
cat >"$work/cc/shape.cc" <<'CC'
#include <cstdio>

struct Shape {
  virtual ~Shape() {
    std::puts("bye");
  }
  virtual int area() const { return 0; }
};

struct Square : Shape {
  int side;
  explicit Square(int s) : side(s) {}
  int area() const override { return side * side; }
};

int unused(int x) {
  if (x > 2) {
    return x;
  }
  return -x;
}

int main() {
  Square sq(3);
  Shape* s = new Square(2);
  int a = s->area();
  delete s;
  return sq.area() + a == 13 ? 0 : 1;
}
CC
(cd "$work/cc" && g++ -O0 --coverage -o shape shape.cc && ./shape >/dev/null)
(cd "$work/cc" && gcovr --root . --xml "$out/gcovr.xml" >/dev/null)
(cd "$work/cc" && gcovr --root . | awk '/^TOTAL/ {print $NF}') >"$out/gcovr.expected"

# go test -json, converted by go-junit-report.
mkdir -p "$work/go"
cat >"$work/go/go.mod" <<'GO'
module example.com/calc

go 1.21
GO
cat >"$work/go/calc_test.go" <<'GO'
package calc

import "testing"

func TestAdd(t *testing.T) {
	if 1+1 != 2 {
		t.Fatal("math is broken")
	}
}

func TestDiv(t *testing.T) { t.Errorf("got 3, want 2") }

func TestSkip(t *testing.T) { t.Skip("later") }

func TestTable(t *testing.T) {
	for _, name := range []string{"one", "two"} {
		t.Run(name, func(t *testing.T) {})
	}
}
GO
(cd "$work/go" && go test -json ./... >go-test.json || true)
(cd "$work/go" && go run github.com/jstemmer/go-junit-report/v2@v2.1.0 -parser gojson -in go-test.json -out "$out/go-junit-report.xml")

# Timestamps, host names and this machine's paths change at each run; they mean nothing to the tests.
sed -i -E 's/ timestamp="[^"]*"//; s/ hostname="[^"]*"//' "$out"/pytest.xml "$out"/go-junit-report.xml "$out"/coverage-py.xml "$out"/gcovr.xml
sed -i -E "s#$work#/src#g" "$out"/*.xml
echo "wrote $(ls "$out" | wc -l) files to $out"

#!/bin/sh
# The hello example's tests: start the service, check it and its database, write a JUnit report and a
# Cobertura coverage report. Exits non-zero when a test fails.
set -u
mkdir -p /app/reports
httpd -p 127.0.0.1:8000 -h /app/www
passed=0 failed=0 cases=""

check() { # name, command...
  name=$1; shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); cases="$cases<testcase classname=\"hello\" name=\"$name\"/>"
    echo "ok   $name"
  else
    failed=$((failed + 1))
    cases="$cases<testcase classname=\"hello\" name=\"$name\"><failure message=\"$name failed\">$out</failure></testcase>"
    echo "FAIL $name: $out"
  fi
}

check index_served    sh -c 'wget -q -O- http://127.0.0.1:8000/ | grep -q "hello from baleen"'
check health_ok       sh -c 'test "$(wget -q -O- http://127.0.0.1:8000/health)" = ok'
check db_reachable    sh -c 'wget -q -O- "$DB_URL/users.json" | grep -q ada'

cat > /app/reports/junit.xml <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="hello" tests="$((passed + failed))" failures="$failed">$cases</testsuite>
XML
cat > /app/coverage.xml <<XML
<?xml version="1.0" ?>
<coverage line-rate="0.75" lines-covered="3" lines-valid="4" version="1">
  <packages><package name="www"><classes><class name="index" filename="www/index.html">
    <lines><line number="1" hits="3"/><line number="2" hits="1"/><line number="3" hits="1"/><line number="4" hits="0"/></lines>
  </class></classes></package></packages>
</coverage>
XML
[ "$failed" -eq 0 ]

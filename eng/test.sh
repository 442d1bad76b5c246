#!/usr/bin/env bash
# Runs every test of the repository on a fresh machine: installs and starts what the tests need (Debian's
# PostgreSQL, Redis and Chromium, on 127.0.0.1 only), builds, runs all test projects, stops the services, and ends with
# one line "N passed, N failed, N skipped". Exits non-zero on any failure. Needs no standard input.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PLAYWRIGHT_BROWSERS_PATH=0
results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

cleanup() {
  if [ -x eng/postgres.sh ] && [ -n "${AUTOSIGNOUT_TEST_POSTGRES:-}" ]; then
    eng/postgres.sh stop >/dev/null 2>&1 || true
  fi
  if [ -x eng/redis.sh ] && [ -n "${AUTOSIGNOUT_TEST_REDIS:-}" ]; then
    eng/redis.sh stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "== services"
if [ -x eng/postgres.sh ]; then
  if pg_env=$(eng/postgres.sh start); then
    eval "$pg_env"
    echo "PostgreSQL: started on 127.0.0.1"
  else
    echo "PostgreSQL: could not be started; PostgreSQL tests will report inconclusive" >&2
  fi
fi
if [ -x eng/redis.sh ]; then
  if redis_env=$(eng/redis.sh start); then
    eval "$redis_env"
    echo "Redis: started on 127.0.0.1"
  else
    echo "Redis: could not be started; Redis tests will report inconclusive" >&2
  fi
fi
if [ -x eng/chromium.sh ]; then
  eng/chromium.sh || echo "Chromium: could not be installed; browser tests will report inconclusive" >&2
fi

echo "== Duende.IdentityServer"
# The Duende binding and its tests (AutoSignOut.Duende.slnx) need the Duende.IdentityServer package, which not
# every NuGet source serves. Built and tested where it restores; otherwise skipped, with the reason on one line.
duende=0
if dotnet restore src/IdentityServer.AutoSignOut.Duende/AutoSignOut.IdentityServer.Duende.csproj >"$results/duende-restore.log" 2>&1; then
  duende=1
  echo "Duende.IdentityServer restores: the Duende binding and its tests are built, packed and tested (AutoSignOut.Duende.slnx)"
else
  why=$(grep -o -m 1 -E 'NU1[0-9]{3}[^[]*' "$results/duende-restore.log" | head -n 1 | sed 's/[[:space:]]*$//')
  echo "Duende binding skipped: Duende.IdentityServer does not restore from this machine's NuGet sources (${why:-see artifacts/test-results/duende-restore.log}); add a feed that serves it (README, \"Duende IdentityServer\")"
fi

echo "== build"
dotnet build AutoSignOut.slnx -c Release >"$results/build.log" 2>&1
build_status=$?
grep -E 'error|Warn|Elapsed' "$results/build.log" | sort -u | tail -n 30
if [ "$build_status" -eq 0 ] && [ "$duende" -eq 1 ]; then
  dotnet build AutoSignOut.Duende.slnx -c Release >"$results/build-duende.log" 2>&1
  build_status=$?
  grep -E 'error|Warn|Elapsed' "$results/build-duende.log" | sort -u | tail -n 30
fi
if [ "$build_status" -ne 0 ]; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== pack"
# Every package of src/, once, as it would ship: a package that does not pack, or lacks its README, XML docs or
# symbols package, fails the run.
packages="$root/artifacts/packages"
rm -rf "$packages"
pack_failed=0
for project in src/*/*.csproj; do
  case "$project" in src/IdentityServer.AutoSignOut.Duende/* | src/IdentityServer.AutoSignOut.Duende.*/*) [ "$duende" -eq 1 ] || continue ;; esac
  if ! dotnet pack "$project" -c Release --no-build -o "$packages" >>"$results/pack.log" 2>&1; then
    echo "pack failed: $project (see artifacts/test-results/pack.log)"
    pack_failed=1
  fi
done
for nupkg in "$packages"/*.nupkg; do
  [ -e "$nupkg" ] || { echo "no package was made"; pack_failed=1; break; }
  contents=$(unzip -l "$nupkg")
  name=$(basename "$nupkg" .nupkg)
  for required in README.md '\.dll$' '\.xml$'; do
    echo "$contents" | grep -q "$required" || { echo "$name: no $required in the package"; pack_failed=1; }
  done
  [ -e "${nupkg%.nupkg}.snupkg" ] || { echo "$name: no symbols package"; pack_failed=1; }
done
[ "$pack_failed" -eq 0 ] && echo "$(ls "$packages"/*.nupkg | wc -l) packages, each with README, XML docs and symbols"

echo "== test"
dotnet test AutoSignOut.slnx -c Release --no-build -m:1 --blame-hang-timeout 5m --blame-hang-dump-type none \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" 2>&1 \
  | grep -v -E '^\s+Passed ' | tail -n 400
status=${PIPESTATUS[0]}
if [ "$duende" -eq 1 ]; then
  dotnet test AutoSignOut.Duende.slnx -c Release --no-build -m:1 --blame-hang-timeout 5m --blame-hang-dump-type none \
    --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" 2>&1 \
    | grep -v -E '^\s+Passed ' | tail -n 200
  duende_status=${PIPESTATUS[0]}
  [ "$duende_status" -eq 0 ] || status=$duende_status
fi

passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  # Inconclusive tests (a service that could not be had) are reported as not executed: total - executed.
  skipped=$((skipped + $(get total) - $(get executed) + $(get inconclusive)))
done
failed=$((failed + pack_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The runner failed without a failed test (a crashed test host, a build error): count it as a failure.
  failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Runs the runtime package's tests as an unprivileged user (default:
# fencetest), the way CI does after running them as root:
#
#   runtime/testdata/run-as-user.sh [USER] [go test flags…]
#
# Must be started as root from the repository root. The test binary stands
# in for the fence binary (TestMain dispatches `__init`, `__socks-connect`
# and `__run`), so it is built once and copied where USER can read and run
# it; the tests create their fixtures under USER's own temp dirs. Nothing
# here needs a path that only root can read.
set -euo pipefail
user=${1:-fencetest}
shift || true
if [[ $(id -u) -ne 0 ]]; then
  echo "run-as-user.sh: run as root (it switches to $user with su)" >&2
  exit 2
fi
id "$user" >/dev/null 2>&1 || { echo "run-as-user.sh: no user $user (useradd -m $user)" >&2; exit 2; }
dir=$(mktemp -d /tmp/fence-rt.XXXXXX)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/rt.test" ./runtime
chmod 755 "$dir" "$dir/rt.test"
args=(-test.v)
for a in "$@"; do args+=("$(printf '%q' "$a")"); done
# A TMPDIR inherited from root could be a directory USER cannot write.
su "$user" -s /bin/sh -c "cd /tmp && TMPDIR=/tmp $dir/rt.test ${args[*]}"

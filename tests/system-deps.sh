#!/bin/sh
# The programs some tests drive for real (shells whose completion scripts are checked;
# chromium for the web dashboard's browser tests), installed from the distribution's
# packages when they are missing and this runs as root with apt-get; otherwise it only
# says what is missing, and those tests skip (or fail under CI=true). Run by
# `make test`; usage: system-deps.sh CMD=PKG...
set -eu
missing=""
for spec in "$@"; do
    cmd=${spec%%=*}
    pkg=${spec#*=}
    command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing for the tests:$missing"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "not installed (the tests that need them will skip):$missing" >&2
fi

#!/bin/sh
# Find what heapdoc, its tests and its fixtures need; install what is missing
# from Debian's packages when run as root, otherwise print the exact command.
set -u

missing=""
need() {            # need PACKAGE TEST...
	pkg=$1; shift
	"$@" >/dev/null 2>&1 || missing="$missing $pkg"
}
have_pc() { command -v pkg-config >/dev/null && pkg-config --exists "$1"; }
have_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need pkg-config              command -v pkg-config
need libelf-dev              have_pc libelf
need libdw-dev               have_pc libdw
need libunwind-dev           have_pc libunwind-ptrace
need check                   have_pc check
need zlib1g-dev              have_pc zlib              # leaks --pprof: gzip
need libc6-dbg               have_deb libc6-dbg
need libjemalloc-dev         have_pc jemalloc
need libgoogle-perftools-dev have_pc libtcmalloc
need redis-server            command -v redis-server
need clang                   command -v clang
need g++                     command -v g++           # the C++ fixture (leaks' census by class)
need golang-go               command -v go            # go tool pprof reads heapdoc's profiles
need prometheus              command -v promtool      # promtool checks metrics and rules
need python3-yaml            python3 -c 'import yaml' # deploy/'s YAML (scripts/check-deploy.py)
need libmimalloc2.0          have_deb libmimalloc2.0  # the mimalloc fixtures
need libclang-rt-14-dev      have_deb libclang-rt-14-dev  # scudo standalone (audit), libFuzzer (make fuzz)
need libxml2-utils           command -v xmllint       # plot: the SVG is well-formed XML
need librsvg2-bin            command -v rsvg-convert  # plot: the SVG renders (tests)

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "heapdoc: missing packages:$missing" >&2
	echo "heapdoc: as root, run: apt-get update && $cmd" >&2
	exit 1
fi
echo "heapdoc: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && $cmd >/dev/null || {
	echo "heapdoc: '$cmd' failed" >&2
	exit 1
}

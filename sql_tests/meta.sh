#!/bin/sh
# The release metadata agree: META.json is valid JSON with the keys of the
# PGXN meta spec 1.0.0 that this project fills in; its version (SemVer:
# 1.2.0 for extension version 1.2) matches default_version in
# codes.control, EXTVERSION in the Makefile, the newest full install
# script extension/codes--X.Y.sql, the top of debian/changelog and a
# heading of CHANGELOG.md; and that install script is what
# scripts/install_script.sh generates now, so nobody forgets to generate it
# again after changing an update script; and debian/control is what
# "pg_buildext updatecontrol" makes from debian/control.in on this machine
# (dpkg-buildpackage refuses to build otherwise: "debian/control needs
# updating from debian/control.in").  Needs no cluster; prints a
# pg_regress-style result line.
set -u
cd "$(dirname "$0")/.."

out=$(mktemp)
trap 'rm -rf "$out" "$out.sql" "$out.diff" "$out.deb"' EXIT

check() {
	/usr/bin/python3 - <<'PY' || return 1
import json, re, glob, sys

def fail(msg):
    print("META.json: " + msg)
    sys.exit(1)

try:
    with open("META.json", encoding="utf-8") as f:
        meta = json.load(f)
except (OSError, ValueError) as e:
    fail("not valid JSON: %s" % e)

for key in ("name", "abstract", "version", "maintainer", "license",
            "provides", "prereqs", "resources", "meta-spec"):
    if key not in meta:
        fail("no key %r" % key)
if meta["name"] != "codes":
    fail("name is %r" % meta["name"])
if meta["license"] != "postgresql":
    fail("license is %r, not 'postgresql'" % meta["license"])
spec = meta["meta-spec"]
if spec.get("version") != "1.0.0" or spec.get("url") != "https://pgxn.org/meta/spec.txt":
    fail("meta-spec is not 1.0.0 with its url: %r" % spec)

semver = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
version = meta["version"]
if not semver.match(version):
    fail("version %r is not a SemVer X.Y.Z" % version)
ext = meta["provides"].get("codes")
if not isinstance(ext, dict):
    fail("provides has no extension codes")
for key in ("file", "version", "abstract"):
    if key not in ext:
        fail("provides.codes has no %r" % key)
if ext["version"] != version:
    fail("provides.codes.version %r is not version %r" % (ext["version"], version))
pg = meta["prereqs"].get("runtime", {}).get("requires", {}).get("PostgreSQL")
if not pg or not semver.match(pg):
    fail("prereqs.runtime.requires.PostgreSQL is %r" % pg)
if "repository" not in meta["resources"]:
    fail("resources has no repository")

# X.Y.0 in META.json is extension version X.Y
major, minor, patch = version.split(".")
if patch != "0":
    fail("version %s: the extension's versions are X.Y, so META.json's are X.Y.0" % version)
xy = major + "." + minor

def one(pattern, path):
    with open(path, encoding="utf-8") as f:
        found = re.findall(pattern, f.read(), re.M)
    if len(found) != 1:
        fail("%s: %d matches of %s" % (path, len(found), pattern))
    return found[0]

control = one(r"^\s*default_version\s*=\s*'([^']*)'", "codes.control")
makefile = one(r"^EXTVERSION\s*=\s*(\S+)\s*$", "Makefile")

def vkey(v):
    return [int(p) for p in v.split(".")]
full = [m.group(1) for m in
        (re.match(r"^extension/codes--([0-9.]+)\.sql$", p)
         for p in glob.glob("extension/codes--*.sql")) if m]
newest = max(full, key=vkey) if full else None
debian = re.match(r"^postgresql-codes \(([0-9.]+)[-~+]", open("debian/changelog").readline())
debian = debian.group(1) if debian else None
changelog = "## " + xy + " " in open("CHANGELOG.md", encoding="utf-8").read()

for what, value in (("default_version in codes.control", control),
                    ("EXTVERSION in the Makefile", makefile),
                    ("the newest full install script", newest),
                    ("the upstream version in debian/changelog", debian)):
    if value != xy:
        fail("version %s, but %s is %s" % (version, what, value))
if ext["file"] != "extension/codes--%s.sql" % xy:
    fail("provides.codes.file is %r" % ext["file"])
if not changelog:
    fail("CHANGELOG.md has no heading for %s" % xy)
PY
	sh scripts/install_script.sh --stdout >"$out.sql" || return 1
	version=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" codes.control)
	if ! diff -u "extension/codes--$version.sql" "$out.sql" >"$out.diff"; then
		head -n 40 "$out.diff"
		echo "extension/codes--$version.sql is not what scripts/install_script.sh generates: run it, and commit the result"
		return 1
	fi
	# debian/control against what debian/control.in makes, in a copy
	mkdir "$out.deb" && cp -R debian "$out.deb/" || return 1
	(cd "$out.deb" && pg_buildext updatecontrol) >"$out.diff" 2>&1 || {
		cat "$out.diff"
		return 1
	}
	if ! diff -u debian/control "$out.deb/debian/control" >"$out.diff"; then
		head -n 40 "$out.diff"
		echo "debian/control is not what debian/control.in makes for the PostgreSQL versions this machine supports (pg_buildext supported-versions: $(pg_buildext supported-versions | tr '\n' ' ')): change debian/control.in, run pg_buildext updatecontrol, and commit both"
		return 1
	fi
}

if check >"$out" 2>&1; then
	echo "test meta                          ... ok"
else
	cat "$out"
	echo "test meta                          ... FAILED"
fi

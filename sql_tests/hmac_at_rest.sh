#!/bin/sh
# Codes hashed at rest are nowhere at rest: generate plain and hashed
# batches, and add chosen codes to plain and hashed ones, then search every file of the database (tables, indexes, TOAST)
# and a pg_dump of it for each code, in its text forms and, for UUIDs, its
# 16 raw bytes.  The plain codes must be found (or the search proves
# nothing); the hashed ones never.  Run inside a cluster as root, with
# sql_tests/make_keys.sh run and codes.key_file set in the server's
# configuration, as scripts/test.sh does (so this also shows that codes.*
# settings reach a preloaded library); prints a pg_regress-style result
# line.
set -u

db=codes_at_rest
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists $db 2>/dev/null' EXIT

run() {
	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	psql -X -q -v ON_ERROR_STOP=1 -At -d $db >"$work/codes" <<'SQL' || return 1
\o /dev/null
CREATE EXTENSION codes;
CREATE TEMP TABLE out (kind text, code text);
INSERT INTO out SELECT 'hashed', code FROM codes.code_gen(200, NULL, NULL, store => 'hmac') AS code;
INSERT INTO out SELECT 'hashed', code FROM codes.code_gen(200, NULL, NULL, pattern => 'GIFT-####-####-###^', store => 'hmac') AS code;
INSERT INTO out SELECT 'plain', code FROM codes.code_gen(20, NULL, NULL) AS code;
INSERT INTO out SELECT 'plain', code FROM codes.code_gen(20, NULL, NULL, pattern => 'GIFT-####-####-###^') AS code;
-- codes chosen or imported (code_add), some with uses so far
SELECT codes.batch_create('chosen hashed', NULL, NULL, store => 'hmac');
SELECT codes.batch_create('chosen plain', NULL, NULL);
CREATE TEMP TABLE given (kind text, code text);
INSERT INTO given SELECT 'hashed', 'vip-' || md5(random()::text) FROM generate_series(1, 50);
INSERT INTO given SELECT 'hashed', gen_random_uuid()::text FROM generate_series(1, 50);
INSERT INTO given SELECT 'plain', 'vip-' || md5(random()::text) FROM generate_series(1, 10);
INSERT INTO given SELECT 'plain', gen_random_uuid()::text FROM generate_series(1, 10);
SELECT codes.code_add('chosen ' || kind, array_agg(code),
					  array_agg(CASE WHEN random() < 0.3 THEN 1 ELSE 0 END))
FROM given GROUP BY kind;
INSERT INTO out SELECT kind, code FROM given;
-- use some, so that history and updated rows are written too
SELECT count(codes.code_use(code, 'r')) FROM out WHERE random() < 0.5;
CHECKPOINT;
\o
SELECT kind, code FROM out;
SQL
	psql -X -At -d $db -c "
		SELECT pg_catalog.current_setting('data_directory') || '/' || pg_catalog.pg_relation_filepath(c.oid)
		FROM pg_catalog.pg_class c
		WHERE c.relnamespace = 'codes'::regnamespace AND c.relkind IN ('r', 'i', 't')
		   OR c.oid IN (SELECT reltoastrelid FROM pg_catalog.pg_class WHERE relnamespace = 'codes'::regnamespace)" \
		>"$work/files" || return 1
	pg_dump -d $db -f "$work/dump.sql" || return 1

	/usr/bin/python3 - "$work/codes" "$work/files" "$work/dump.sql" <<'PY'
import glob, re, sys
codes = [l.rstrip("\n").split("|", 1) for l in open(sys.argv[1]) if "|" in l]
blobs = []
for f in open(sys.argv[2]).read().split():
    for seg in glob.glob(f) + glob.glob(f + ".[0-9]*"):
        blobs.append(open(seg, "rb").read())
blobs.append(open(sys.argv[3], "rb").read())
data = b"\0".join(blobs)

def forms(code):
    flat = code.replace("-", "")
    out = {code, code.upper(), code.lower(), flat, flat.upper(), flat.lower()}
    out = [s.encode() for s in out]
    if re.fullmatch(r"[0-9a-fA-F]{32}", flat):
        out.append(bytes.fromhex(flat))
    return out

found = {"hashed": 0, "plain": 0}
count = {"hashed": 0, "plain": 0}
for kind, code in codes:
    count[kind] += 1
    if any(f in data for f in forms(code)):
        found[kind] += 1
print("hashed codes found: %d of %d; plain codes found: %d of %d"
      % (found["hashed"], count["hashed"], found["plain"], count["plain"]))
sys.exit(0 if found["hashed"] == 0 and count["hashed"] == 500
         and found["plain"] == count["plain"] == 60 else 1)
PY
}

if run >"$work/log" 2>&1; then
	echo "test hmac_at_rest                 ... ok"
else
	cat "$work/log"
	echo "test hmac_at_rest                 ... FAILED"
fi

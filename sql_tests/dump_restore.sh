#!/bin/sh
# pg_dump keeps the codes: dump a database that has batches, used, unused
# and deleted codes, restore it into a fresh database, and compare every
# code's batch, uses, redeemer and status.  Run inside a cluster (for
# example under pg_virtualenv); prints a pg_regress-style result line.
set -u

src=codes_dump_src
dst=codes_dump_dst
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists $src 2>/dev/null; dropdb --if-exists $dst 2>/dev/null' EXIT

psql_q() {
	psql -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# Everything a user relies on, one line per code, in a stable order.
snapshot() {
	psql_q -d "$1" -c "
		SELECT b.id, b.name, b.created_at, b.valid_from, b.valid_until,
			   b.max_uses, c.code, c.uses, c.used_at, c.used_by,
			   codes.code_query(c.code::text)
		FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
		ORDER BY c.code"
}

run() {
	dropdb --if-exists $src 2>/dev/null
	dropdb --if-exists $dst 2>/dev/null
	createdb $src && createdb $dst || return 1
	psql_q -d $src <<'SQL' || return 1
CREATE EXTENSION codes;
SELECT count(*) FROM codes.code_gen(500, now() - interval '1 day', now() + interval '1 day', batch => 'current');
SELECT count(*) FROM codes.code_gen(20, now() - interval '2 days', now() - interval '1 day', batch => 'expired');
SELECT count(*) FROM codes.code_gen(30, NULL, NULL);
SELECT count(codes.code_use(code::text, 'player-' || n))
FROM (SELECT code, row_number() OVER (ORDER BY code) AS n FROM codes.codes) s WHERE n % 3 = 0;
SELECT count(codes.code_del(code::text))
FROM (SELECT code FROM codes.codes ORDER BY code LIMIT 10) s;
SQL
	snapshot $src >"$work/before" || return 1
	[ "$(wc -l <"$work/before")" -eq 540 ] || { echo "expected 540 codes before the dump"; return 1; }

	pg_dump -Fc -f "$work/dump" $src || return 1
	pg_restore -d $dst --exit-on-error "$work/dump" || return 1
	snapshot $dst >"$work/after" || return 1
	diff "$work/before" "$work/after" || return 1

	# the batch id sequence came along: a new unnamed batch does not clash
	psql_q -d $dst -c "SELECT count(*) FROM codes.code_gen(5, NULL, NULL)" >/dev/null || return 1
	# restored codes still work, once
	code=$(psql_q -d $dst -c "SELECT code FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
							  WHERE b.name = 'current' AND uses = 0 LIMIT 1")
	[ "$(psql_q -d $dst -c "SELECT codes.code_use('$code')")" = SUCCEED ] || return 1
	[ "$(psql_q -d $dst -c "SELECT codes.code_use('$code')")" = FAILED ] || return 1
}

if run >"$work/log" 2>&1; then
	echo "test dump_restore                  ... ok"
else
	cat "$work/log"
	echo "test dump_restore                  ... FAILED"
fi

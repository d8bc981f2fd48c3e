#!/bin/sh
# pg_dump keeps the codes: dump a database that has batches, used, unused
# and deleted codes, generated and chosen, restore it into a fresh database, and compare every
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

# Everything a user relies on, one line per code and per history entry,
# in a stable order.
snapshot() {
	psql_q -d "$1" -c "
		SELECT b.id, b.name, b.created_at, b.valid_from, b.valid_until,
			   b.max_uses, b.max_uses_per_redeemer, b.revoked_at,
			   c.code, c.uses, c.used_at, c.used_by,
			   codes.code_query(c.code::text)
		FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
		ORDER BY c.code" &&
	psql_q -d "$1" -c "
		SELECT * FROM codes.redemptions ORDER BY code, used_at, redeemer, undone_at" &&
	psql_q -d "$1" -c "SELECT * FROM codes.batches ORDER BY name"
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
SELECT count(*) FROM codes.code_gen(10, NULL, NULL, max_uses => 3, max_uses_per_redeemer => 2, batch => 'multi');
SELECT count(codes.code_use(c.code::text, 'r' || n))
FROM codes.codes c JOIN codes.batch b ON b.id = c.batch, generate_series(1, 3) n
WHERE b.name = 'multi';
SELECT count(codes.code_undo(c.code::text, 'r1'))
FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE b.name = 'multi';
SELECT codes.batch_revoke('expired');
SELECT count(*) FROM codes.code_gen(40, NULL, NULL, pattern => 'GIFT-####-####-###^', batch => 'gift');
SELECT count(codes.code_use(code, 'gifted'))
FROM (SELECT code FROM codes.batch_codes('gift') ORDER BY code LIMIT 5) s;
SELECT codes.batch_create('chosen', NULL, NULL, max_uses => 3);
SELECT codes.code_add('chosen', ARRAY['SUMMER-20', 'Black Friday', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'],
					  ARRAY[1, 0, 3]);
SELECT codes.code_use('summer 20', 'chooser');
SQL
	snapshot $src >"$work/before" || return 1
	[ "$(psql_q -d $src -c "SELECT count(*) FROM codes.codes")" -eq 593 ] &&
	[ "$(psql_q -d $src -c "SELECT count(*) FROM codes.redemptions WHERE undone_at IS NOT NULL")" -eq 10 ] ||
		{ echo "the source database is not as expected"; return 1; }

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
	# and so do patterned codes, in any input form
	code=$(psql_q -d $dst -c "SELECT code FROM codes.batch_codes('gift') WHERE uses = 0 LIMIT 1")
	[ "$(psql_q -d $dst -c "SELECT codes.code_use(lower('$code'))")" = SUCCEED ] || return 1
	[ "$(psql_q -d $dst -c "SELECT codes.code_query('$code')")" = ACTIVED ] || return 1
	# and chosen ones, looked up as any text may be once restored, with
	# their uses so far; a restored batch takes more of them
	[ "$(psql_q -d $dst -c "SELECT codes.code_use('black friday')")" = SUCCEED ] || return 1
	[ "$(psql_q -d $dst -c "SELECT codes.code_query('Summer20')")" = UNACTIVED ] || return 1
	[ "$(psql_q -d $dst -c "SELECT codes.code_query('6BA7B810 9DAD 11D1 80B4 00C04FD430C8')")" = ACTIVED ] || return 1
	[ "$(psql_q -d $dst -c "SELECT codes.code_add('chosen', ARRAY['NEW-20'])")" = 1 ] || return 1
	psql_q -d $dst -c "SELECT codes.code_add('chosen', ARRAY['summer20'])" 2>&1 |
		grep -q '1 code clashes' || return 1
}

if run >"$work/log" 2>&1; then
	echo "test dump_restore                  ... ok"
else
	cat "$work/log"
	echo "test dump_restore                  ... FAILED"
fi

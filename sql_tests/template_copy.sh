#!/bin/sh
# A database copied from one that has codes (CREATE DATABASE ... TEMPLATE)
# must not share that database's roles: in database codes_copy_a an admin
# role is granted to a login role; codes_copy_b is made from it; there
# every call of codes that touches the tables, and every admin view, is
# refused (55000) until a superuser runs codes.set_privileges(), which gives the copy roles of its
# own; then a's admin can no longer export b's codes (42501), and b's codes
# answer as before.  Run inside a cluster (as scripts/test.sh does);
# prints a pg_regress-style result line.
set -u

work=$(mktemp -d)
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
trap 'rm -rf "$work"; dropdb --if-exists codes_copy_b 2>/dev/null; dropdb --if-exists codes_copy_a 2>/dev/null; psql -X -q -d postgres -c "DROP ROLE IF EXISTS copy_admin_a" 2>/dev/null' EXIT

run() {
	dropdb --if-exists codes_copy_b 2>/dev/null
	dropdb --if-exists codes_copy_a 2>/dev/null
	createdb codes_copy_a || return 1
	psql -X -q -v ON_ERROR_STOP=1 -v pw="$password" -d codes_copy_a <<'SQL' || return 1
CREATE EXTENSION codes;
SELECT count(*) FROM codes.code_gen(3, NULL, NULL, batch => 'secret');
SELECT codes.code_use(code, 'alice') FROM codes.code_gen(1, NULL, NULL, batch => 'used') AS code;
DROP ROLE IF EXISTS copy_admin_a;
CREATE ROLE copy_admin_a LOGIN PASSWORD :'pw';
SELECT format('GRANT %s TO copy_admin_a', role) FROM codes.roles WHERE kind = 'admin' \gexec
SQL
	createdb -T codes_copy_a codes_copy_b || return 1
	# in the copy, a call is refused until it has roles of its own
	psql -X -q -At -d codes_copy_b -c "SELECT codes.code_query('x')" >"$work/refused" 2>&1
	grep -q 'still has the roles of the database it was copied from' "$work/refused" ||
		{ echo "the copy's call was not refused:"; cat "$work/refused"; return 1; }
	PGPASSWORD=$password psql -X -q -At -d codes_copy_b -U copy_admin_a \
		-c "SELECT count(*) FROM codes.batch_codes('secret')" >"$work/export" 2>&1
	grep -q 'still has the roles' "$work/export" ||
		{ echo "a's admin read b's codes before the fix:"; cat "$work/export"; return 1; }
	for view in redemptions holds batches; do
		PGPASSWORD=$password psql -X -q -At -d codes_copy_b -U copy_admin_a \
			-c "SELECT count(*) FROM codes.$view" >"$work/view" 2>&1
		grep -q 'still has the roles' "$work/view" ||
			{ echo "a's admin read b's codes.$view before the fix:"; cat "$work/view"; return 1; }
	done
	psql -X -q -At -v ON_ERROR_STOP=1 -d codes_copy_b \
		-c "SELECT codes.set_privileges()" >"$work/fix" 2>&1 ||
		{ cat "$work/fix"; return 1; }
	# its own roles now; a's admin is refused, the codes are there
	own=$(psql -X -q -At -d codes_copy_b -c "SELECT count(*) FROM codes.roles r JOIN pg_database d ON d.oid = r.database WHERE d.datname = current_database() AND r.role::text LIKE '%codes_copy_b'")
	[ "$own" = 2 ] || { echo "the copy's roles: $own"; psql -X -d codes_copy_b -c "TABLE codes.roles"; return 1; }
	PGPASSWORD=$password psql -X -q -At -d codes_copy_b -U copy_admin_a \
		-c "SELECT count(*) FROM codes.batch_codes('secret')" >"$work/denied" 2>&1
	grep -q 'permission denied' "$work/denied" ||
		{ echo "a's admin after the fix:"; cat "$work/denied"; return 1; }
	n=$(psql -X -q -At -d codes_copy_b -c "SELECT count(*) FROM codes.batch_codes('secret') WHERE codes.code_query(code) = 'UNACTIVED'")
	[ "$n" = 3 ] || { echo "the copy's codes: $n"; return 1; }
	# and the first database is untouched
	n=$(PGPASSWORD=$password psql -X -q -At -d codes_copy_a -U copy_admin_a -c "SELECT count(*) FROM codes.batch_codes('secret')")
	[ "$n" = 3 ] || { echo "a's admin in a: $n"; return 1; }
}

start=$(date +%s)
if run >"$work/log" 2>&1; then
	printf 'test %-30s ... ok %8s ms\n' template_copy "$((($(date +%s) - start) * 1000))"
else
	cat "$work/log"
	printf 'test %-30s ... FAILED\n' template_copy
fi

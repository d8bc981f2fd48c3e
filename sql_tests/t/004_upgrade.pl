#
# Upgrades.  For every version that has a full install script in extension/
# (codes--VERSION.sql), install that version, fill it (batches inside,
# before and after their periods, used, unused and deleted codes), run
# ALTER EXTENSION codes UPDATE, and check that:
#
# - the extension is at default_version of codes.control;
# - every row of every table the old version had is intact, column by
#   column, and every code answers code_query as before;
# - the four functions still work on old and new codes;
# - the updated extension is the same as a fresh install of the latest
#   version: same member objects, columns, constraints, indexes, function
#   definitions, privileges, comments and configuration tables.
#
# With a single version the update is a no-op and the test still runs; each
# new release's codes--A--B.sql is tested from every older version without
# changing this file.  A TAP test rather than a pg_regress one, because it
# reads the list of versions from the tree and needs a database per
# version.
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Versions with full install scripts, oldest first, and the latest version.
my @versions;
foreach my $file (glob('extension/codes--*.sql'))
{
	push @versions, $1 if $file =~ m{^extension/codes--([^-]+)\.sql$};
}
@versions = sort { version_cmp($a, $b) } @versions;

my $latest;
open my $control, '<', 'codes.control' or die "could not open codes.control: $!";
while (<$control>)
{
	$latest = $1 if /^\s*default_version\s*=\s*'([^']+)'/;
}
close $control;

# Compare "1.10" and "1.9" as numbers, part by part.
sub version_cmp
{
	my @a = split /\./, $_[0];
	my @b = split /\./, $_[1];

	while (@a || @b)
	{
		my $c = (shift(@a) // 0) <=> (shift(@b) // 0);
		return $c if $c;
	}
	return 0;
}

ok(@versions >= 1, 'found install scripts: ' . join(', ', @versions));
ok(defined $latest, "codes.control names the latest version, $latest");

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

# CREATE EXTENSION without a version installs this tree's.  (Not read from
# pg_available_extensions, which does not look in extension_destdir, where
# scripts/test.sh stages the build.)
$node->safe_psql('postgres', "CREATE DATABASE latest");
$node->safe_psql('latest', "CREATE EXTENSION codes");
is($node->safe_psql('latest', "SELECT extversion FROM pg_extension WHERE extname = 'codes'"),
	$latest, 'the server offers the version of this tree');

# Everything the extension consists of, as text, to compare an updated
# installation with a fresh one.  Columns are listed by name: an upgrade
# can only add columns at the end.
my $describe_sql = q{
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS member,
	   obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)) AS comment
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname = 'codes' AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
ORDER BY 1;
SELECT nspname, nspacl FROM pg_namespace WHERE nspname = 'codes';
SELECT c.relname, c.relkind, c.relacl, c.reloptions,
	   (SELECT string_agg(format('%s %s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
								 CASE WHEN a.attnotnull THEN ' not null' END,
								 ' default ' || pg_get_expr(ad.adbin, ad.adrelid),
								 ' ' || col_description(c.oid, a.attnum)),
					  ', ' ORDER BY a.attname)
		FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
		WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
FROM pg_class c WHERE c.relnamespace = 'codes'::regnamespace ORDER BY 1;
SELECT conrelid::regclass, conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'codes'::regnamespace ORDER BY 1, 2;
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relnamespace = 'codes'::regnamespace ORDER BY indexrelid::regclass::text;
SELECT tgname, t.tgenabled, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'codes'::regnamespace AND NOT t.tgisinternal ORDER BY 1;
SELECT p.oid::regprocedure, p.proacl, pg_get_functiondef(p.oid)
FROM pg_proc p WHERE p.pronamespace = 'codes'::regnamespace AND p.prokind <> 'a'
ORDER BY p.oid::regprocedure::text;
SELECT seqrelid::regclass, seqtypid::regtype, seqstart, seqincrement, seqmax, seqmin, seqcycle
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
WHERE c.relnamespace = 'codes'::regnamespace ORDER BY seqrelid::regclass::text;
SELECT (SELECT string_agg(t::regclass::text, ', ' ORDER BY t::regclass::text) FROM unnest(extconfig) t),
	   extrelocatable, extnamespace::regnamespace
FROM pg_extension WHERE extname = 'codes';};

$node->safe_psql('postgres', "CREATE DATABASE fresh");
$node->safe_psql('fresh', "CREATE EXTENSION codes VERSION '$latest'");
my $fresh = $node->safe_psql('fresh', $describe_sql);

# Fill a database of an older version: named batches inside, before and
# after their periods, used codes with and without a redeemer, deleted
# codes.  This tree's library serves only the latest version's SQL (an
# installation runs ALTER EXTENSION UPDATE right after installing the new
# files), so the rows are written as every version since 1.0 writes them:
# batch rows, codes as random UUIDs, a use as uses, used_at and used_by.
# Table probe (not the extension's) keeps every code, deleted ones too.
my $fill_sql = q{
INSERT INTO codes.batch (name, valid_from, valid_until) VALUES
	('current', now() - interval '1 day', now() + interval '10 years'),
	('expired', '2000-01-01', '2000-12-31'),
	('future', '2100-01-01', NULL),
	('open', NULL, NULL);
INSERT INTO codes.codes (batch, code)
SELECT b.id, gen_random_uuid()
FROM codes.batch b, generate_series(1, CASE b.name WHEN 'current' THEN 300 ELSE 20 END);
CREATE TABLE probe AS
SELECT row_number() OVER (ORDER BY c.batch, c.code) AS n, c.code::text AS code
FROM codes.codes c;
UPDATE codes.codes c SET uses = 1, used_at = now(), used_by = 'player-' || p.n
FROM probe p, codes.batch b
WHERE c.code = p.code::uuid AND b.id = c.batch AND p.n % 3 = 0
  AND (b.valid_from IS NULL OR b.valid_from <= now())
  AND (b.valid_until IS NULL OR b.valid_until >= now());
UPDATE codes.codes c SET uses = 1, used_at = now()
FROM probe p, codes.batch b
WHERE c.code = p.code::uuid AND b.id = c.batch AND p.n % 7 = 0 AND c.uses = 0
  AND (b.valid_from IS NULL OR b.valid_from <= now())
  AND (b.valid_until IS NULL OR b.valid_until >= now());
DELETE FROM codes.codes c USING probe p WHERE c.code = p.code::uuid AND p.n % 10 = 1;
};

# Every code's status: before the update from the tables, as code_query
# defines it; after it, from code_query itself.
my $statuses_before_sql = q{
SELECT string_agg(n || ':' || COALESCE(
	(SELECT CASE WHEN b.valid_from > now() OR b.valid_until < now() THEN 'TIMEINVALID'
				 WHEN c.uses < b.max_uses THEN 'UNACTIVED' ELSE 'ACTIVED' END
	 FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
	 WHERE c.code = probe.code::uuid), 'NO EXISTED'), ',' ORDER BY n)
FROM probe};
my $statuses_sql = q{
SELECT string_agg(n || ':' || codes.code_query(code), ',' ORDER BY n) FROM probe};

foreach my $from (@versions)
{
	my $db = "from_$from";
	$db =~ s/\W/_/g;

	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION codes VERSION '$from'");
	$node->safe_psql($db, $fill_sql);

	# Every table of the old version, every column it had, in a fixed order.
	my @tables = split /\n/, $node->safe_psql(
		$db, q{
SELECT format('SELECT %1$s FROM %2$s ORDER BY %1$s',
			  string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
			  c.oid::regclass)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'codes'::regnamespace AND c.relkind = 'r'
GROUP BY c.oid ORDER BY c.oid::regclass::text});
	my $rows_sql = join(";\n", @tables) . ";\n";
	my $rows = $node->safe_psql($db, $rows_sql);
	my $statuses = $node->safe_psql($db, $statuses_before_sql);

	like($statuses, qr/UNACTIVED.*ACTIVED.*NO EXISTED.*TIMEINVALID/s,
		"$from: filled with used, unused, deleted and out-of-period codes");

	$node->safe_psql($db, 'ALTER EXTENSION codes UPDATE');

	is($node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'codes'"),
		$latest, "$from: updated to $latest");
	is($node->safe_psql($db, $rows_sql),
		$rows, "$from: every row of " . scalar(@tables) . " tables intact");
	is($node->safe_psql($db, $statuses_sql),
		$statuses, "$from: every code answers as before");
	is($node->safe_psql($db, $describe_sql),
		$fresh, "$from: the updated extension is a fresh install of $latest");

	is( $node->safe_psql(
			$db, q{
SELECT codes.code_use(code, 'after') FROM probe WHERE n = 2;
SELECT codes.code_use(code, 'after') FROM probe WHERE n = 2;
SELECT codes.code_use(code) FROM probe WHERE n = 3;
SELECT codes.code_query(code) FROM probe WHERE n = 2;
SELECT codes.code_del(code) FROM probe WHERE n = 4;
SELECT codes.code_query(code) FROM probe WHERE n = 4;
SELECT count(*) FROM codes.code_gen(10, NULL, NULL);
SELECT count(*) FROM codes.code_gen(10, NULL, NULL, batch => 'after the update');
SELECT string_agg(codes.code_use(code), ',') FROM codes.code_gen(3, NULL, NULL) AS code;
}),
		"SUCCEED\nFAILED\nFAILED\nACTIVED\nSUCCEED\nNO EXISTED\n10\n10\nSUCCEED,SUCCEED,SUCCEED",
		"$from: the functions work on old and new codes");
}

$node->stop;
done_testing();

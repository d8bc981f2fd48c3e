#
# A major upgrade keeps everything: pg_upgrade from an older PostgreSQL
# (15) to this one (17 or 18), with codes installed for both, keeps every batch,
# every code with its uses, time and redeemer, every status, the history
# of uses and undone uses, and codes hashed at rest (with the same key
# file); used codes still cannot be used, unused ones still can.
#
# Needs the older installation, which scripts/test.sh names when it runs
# the TAP tests on 17 and 18: CODES_UPGRADE_FROM is its directory (bin/ holds
# initdb, pg_ctl, postgres), and CODES_UPGRADE_FROM_CONF a file of settings
# for the old cluster (extension_destdir, where test.sh staged the build
# for 15).  Without them, or on the older version itself, it is skipped.
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old_path = $ENV{CODES_UPGRADE_FROM};
plan skip_all => 'CODES_UPGRADE_FROM names no older PostgreSQL'
  unless $old_path && -x "$old_path/bin/initdb";

my $old = PostgreSQL::Test::Cluster->new('old', install_path => $old_path);
my $new = PostgreSQL::Test::Cluster->new('new');
plan skip_all => 'CODES_UPGRADE_FROM is not older than this PostgreSQL'
  unless $old->pg_version < $new->pg_version;

my $key_conf = "codes.key_file = '/tmp/codes_regress_key_a'\n";

$old->init;
$old->append_conf('postgresql.conf', slurp_file($ENV{CODES_UPGRADE_FROM_CONF}))
  if $ENV{CODES_UPGRADE_FROM_CONF};
$old->append_conf('postgresql.conf', $key_conf);
$old->start;

$old->safe_psql(
	'postgres', q{
CREATE EXTENSION codes;
SELECT count(*) FROM codes.code_gen(200, now() - interval '1 day', now() + interval '1 day', batch => 'current');
SELECT count(*) FROM codes.code_gen(10, '2000-01-01', '2000-12-31', batch => 'expired');
SELECT count(*) FROM codes.code_gen(10, '2100-01-01', NULL, batch => 'future');
SELECT count(*) FROM codes.code_gen(10, NULL, NULL, max_uses => 3, batch => 'multi');
SELECT count(*) FROM codes.code_gen(20, NULL, NULL, pattern => 'GIFT-####-####-###^', batch => 'gift');

CREATE TABLE probe AS
SELECT row_number() OVER (ORDER BY c.batch, c.code) AS n, c.code::text AS code
FROM codes.codes c;
SELECT count(codes.code_use(code, 'player-' || n)) FROM probe WHERE n % 3 = 0;
SELECT count(codes.code_use(p.code, 'r' || i))
FROM probe p JOIN codes.codes c ON c.code::text = p.code JOIN codes.batch b ON b.id = c.batch,
	 generate_series(1, 2) i
WHERE b.name = 'multi';
SELECT count(codes.code_undo(p.code, 'r1'))
FROM probe p JOIN codes.codes c ON c.code::text = p.code JOIN codes.batch b ON b.id = c.batch
WHERE b.name = 'multi';
SELECT count(codes.code_del(code)) FROM probe WHERE n % 10 = 1;

-- codes hashed at rest: the code as handed out is only in this table
CREATE TABLE hashed AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(30, NULL, NULL, store => 'hmac', batch => 'hashed') AS code;
SELECT count(codes.code_use(code, 'h')) FROM hashed WHERE n % 2 = 0;
});

# Everything a user relies on, as text.
my $state_sql = q{
SELECT string_agg(n || ':' || codes.code_query(code), ',' ORDER BY n) FROM probe;
SELECT string_agg(n || ':' || codes.code_query(code), ',' ORDER BY n) FROM hashed;
SELECT b.name, c.code, c.uses, c.used_at, c.used_by
FROM codes.codes c JOIN codes.batch b ON b.id = c.batch ORDER BY c.code;
SELECT * FROM codes.redemptions ORDER BY code, used_at, redeemer, undone_at;
SELECT * FROM codes.batches ORDER BY name;
SELECT extversion FROM pg_extension WHERE extname = 'codes';
};
my $before = $old->safe_psql('postgres', $state_sql);
like($before, qr/UNACTIVED.*ACTIVED.*NO EXISTED.*TIMEINVALID/s,
	'old cluster: used, unused, deleted and out-of-period codes');
like($before, qr/^1:UNACTIVED,2:ACTIVED,/m, 'old cluster: hashed codes, used and unused');

# The PostgreSQL 15 of this machine (Debian's 15.20-0+deb12u1 here) stores
# an attribute option pg_attver on every column it creates, which 18's
# server rejects when pg_upgrade restores the schema ("unrecognized
# parameter"), for any table, the extension's or not.  Drop it from the
# columns of the database's own objects first, as a user would have to.
$old->safe_psql(
	'postgres', q{
UPDATE pg_catalog.pg_attribute
SET attoptions = (SELECT array_agg(o) FROM unnest(attoptions) o WHERE o NOT LIKE 'pg_attver=%')
WHERE attrelid >= 16384 AND attoptions::text LIKE '%pg_attver=%';
});
$old->stop;

# 18's initdb turns data checksums on, which pg_upgrade wants the same on
# both sides; the old cluster has none.  (17's initdb has no such option.)
$new->init(extra => $new->pg_version >= 18 ? ['--no-data-checksums'] : []);
$new->append_conf('postgresql.conf', $key_conf);

my $bindir_old = $old->config_data('--bindir');
my $bindir_new = $new->config_data('--bindir');
command_ok(
	[
		'pg_upgrade', '--no-sync',
		'--old-datadir' => $old->data_dir,
		'--new-datadir' => $new->data_dir,
		'--old-bindir' => $bindir_old,
		'--new-bindir' => $bindir_new,
		'--socketdir' => $new->host,
		'--old-port' => $old->port,
		'--new-port' => $new->port,
		'--copy',
	],
	'pg_upgrade from ' . $old->pg_version . ' to ' . $new->pg_version);

$new->start;
is($new->safe_psql('postgres', $state_sql), $before,
	'every code, status, use, undone use and batch survives, hashed codes too');

is( $new->safe_psql(
		'postgres', q{
SELECT codes.code_use(code, 'after') FROM probe WHERE n = 2;
SELECT codes.code_use(code, 'after') FROM probe WHERE n = 2;
SELECT codes.code_use(code, 'again') FROM probe WHERE n = 3;
SELECT codes.code_use(code, 'h') FROM hashed WHERE n = 1;
SELECT codes.code_use(code, 'h') FROM hashed WHERE n = 2;
SELECT count(*) FROM codes.code_gen(5, NULL, NULL, store => 'hmac');
}),
	"SUCCEED\nFAILED\nFAILED\nSUCCEED\nFAILED\n5",
	'after the upgrade, unused codes can be used once, used ones not');

$new->stop;
done_testing();

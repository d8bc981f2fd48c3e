#
# Clean restarts keep everything: every batch, every code with its uses,
# time and redeemer, every status, and deleted codes stay deleted.  Used
# codes still cannot be used, unused ones still can.
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION codes;
SELECT count(*) FROM codes.code_gen(200, now() - interval '1 day', now() + interval '1 day', batch => 'current');
SELECT count(*) FROM codes.code_gen(10, '2000-01-01', '2000-12-31', batch => 'expired');
SELECT count(*) FROM codes.code_gen(10, '2100-01-01', NULL, batch => 'future');
SELECT count(*) FROM codes.code_gen(10, NULL, NULL);

CREATE TABLE probe AS
SELECT row_number() OVER (ORDER BY c.batch, c.code) AS n, c.code::text AS code
FROM codes.codes c;
SELECT count(codes.code_use(code, 'player-' || n)) FROM probe WHERE n % 3 = 0;
SELECT count(codes.code_del(code)) FROM probe WHERE n % 10 = 1;
});

my $snapshot_sql = q{
SELECT b.id, b.name, b.created_at, b.valid_from, b.valid_until, b.max_uses,
	   c.code, c.uses, c.used_at, c.used_by
FROM codes.batch b LEFT JOIN codes.codes c ON c.batch = b.id
ORDER BY b.id, c.code;
SELECT string_agg(n || ':' || codes.code_query(code), ',' ORDER BY n) FROM probe;
SELECT codes.code_query(code), count(*) FROM probe GROUP BY 1 ORDER BY 1;};

my $before = $node->safe_psql('postgres', $snapshot_sql);
# 230 codes: 23 deleted (n = 1, 11, ...); 18 left outside their period; of
# the 189 others, the 63 whose n is a multiple of 3 are used
like(
	$before,
	qr/\nACTIVED\|63\nNO EXISTED\|23\nTIMEINVALID\|18\nUNACTIVED\|126$/,
	'statuses before the restarts');

$node->restart;
is($node->safe_psql('postgres', $snapshot_sql),
	$before, 'everything survives a fast restart');

$node->stop('smart');
$node->start;
is($node->safe_psql('postgres', $snapshot_sql),
	$before, 'everything survives a smart shutdown and a start');

is( $node->safe_psql(
		'postgres',
		q{SELECT codes.code_use(code) FROM probe WHERE n = 3;
		  SELECT codes.code_use(code) FROM probe WHERE n = 2;
		  SELECT codes.code_use(code) FROM probe WHERE n = 11;}),
	"FAILED\nSUCCEED\nFAILED",
	'after the restarts: used stays used, unused is usable, deleted stays deleted'
);

$node->stop;
done_testing();

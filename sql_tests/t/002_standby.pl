#
# A hot standby fed by streaming replication answers code_query exactly as
# its primary does (used, unused, deleted, expired, not yet valid, unknown
# and malformed codes), sees new batches and uses once they are replayed,
# never sees a use that has not committed, and refuses code_gen, code_use
# and code_del with PostgreSQL's read-only error (SQLSTATE 25006).
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;

# Batches inside, after and before their periods; 30 codes of "current"
# used, 10 deleted (5 of them used).  Table probe holds what is asked: every
# code, every code in upper case, deleted codes, and text that is no code.
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION codes;
SELECT count(*) FROM codes.code_gen(100, now() - interval '1 day', now() + interval '1 day', batch => 'current');
SELECT count(*) FROM codes.code_gen(10, '2000-01-01', '2000-12-31', batch => 'expired');
SELECT count(*) FROM codes.code_gen(10, '2100-01-01', NULL, batch => 'future');

CREATE TABLE probe (n serial PRIMARY KEY, input text NOT NULL);
INSERT INTO probe (input)
SELECT c.code::text FROM codes.codes c ORDER BY c.batch, c.code;
INSERT INTO probe (input)
SELECT upper(input) FROM probe ORDER BY n;
INSERT INTO probe (input) VALUES
	('00000000-0000-4000-8000-000000000000'), ('not a code'), (''), (repeat('f', 33));

CREATE TABLE current_codes AS
SELECT row_number() OVER (ORDER BY c.code) AS n, c.code::text AS code
FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE b.name = 'current';
SELECT count(codes.code_use(code, 'primary')) FROM current_codes WHERE n <= 30;
SELECT count(codes.code_del(code)) FROM current_codes WHERE n BETWEEN 26 AND 35;
});

# n:status for every probe, in order
my $answers_sql = q{
SELECT string_agg(n || ':' || codes.code_query(input), ',' ORDER BY n) FROM probe};
my $counts_sql = q{
SELECT codes.code_query(input), count(*) FROM probe GROUP BY 1 ORDER BY 1};

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'the standby is in recovery');
is( $standby->safe_psql(
		'postgres',
		"SELECT codes.code_valid('gift k3fe 79sj g8ex', 'GIFT-####-####-###^'), "
		  . "codes.code_valid('GIFT-K3FE-79JS-G8EX', 'GIFT-####-####-###^')"),
	't|f',
	'code_valid works on the standby');

is( $standby->safe_psql('postgres', $answers_sql),
	$primary->safe_psql('postgres', $answers_sql),
	'code_query: the standby answers as the primary, probe by probe');
# 100 current codes, twice (as given and upper case): 25 used, 65 unused, 10
# deleted; 20 outside their period, twice; 4 inputs that are no code
is( $standby->safe_psql('postgres', $counts_sql),
	"ACTIVED|50\nNO EXISTED|24\nTIMEINVALID|40\nUNACTIVED|130",
	'code_query: the standby gives each status as often as expected');

# A new batch on the primary, partly used, and a use that has not committed
$primary->safe_psql(
	'postgres', q{
CREATE TABLE late AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(20, NULL, NULL, batch => 'after the backup') AS code;
SELECT count(codes.code_use(code, 'primary')) FROM late WHERE n <= 5;
INSERT INTO probe (input) SELECT code FROM late ORDER BY n;
});
my $open = $primary->background_psql('postgres');
is($open->query_safe('BEGIN; SELECT codes.code_use(code) FROM late WHERE n = 6'),
	'SUCCEED', 'primary: a use, not yet committed');
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT name FROM codes.batch ORDER BY id'),
	"current\nexpired\nfuture\nafter the backup",
	'the standby sees the new batch');
is( $standby->safe_psql('postgres', $answers_sql),
	$primary->safe_psql('postgres', $answers_sql),
	'code_query: the standby still answers as the primary');
is( $standby->safe_psql(
		'postgres',
		'SELECT string_agg(codes.code_query(code), \',\' ORDER BY n) FROM late WHERE n BETWEEN 4 AND 7'),
	'ACTIVED,ACTIVED,UNACTIVED,UNACTIVED',
	'code_query: the standby sees committed uses of the new batch, not the open one');

$open->query_safe('COMMIT');
$open->quit;
$primary->wait_for_catchup($standby);
is( $standby->safe_psql('postgres',
		'SELECT codes.code_query(code) FROM late WHERE n = 6'),
	'ACTIVED', 'code_query: the standby sees the use once committed');

# The standby refuses every change with 25006.
my $unused = $primary->safe_psql('postgres',
	'SELECT code FROM current_codes WHERE n = 50');
my $used = $primary->safe_psql('postgres',
	'SELECT code FROM current_codes WHERE n = 1');
my $unknown = '00000000-0000-4000-8000-000000000000';

# SQLSTATE of the error sql raises on the standby, or its output if none
sub standby_sqlstate
{
	my ($sql) = @_;
	my ($ret, $stdout, $stderr) =
	  $standby->psql('postgres', "\\set VERBOSITY sqlstate\n$sql");

	return $stderr =~ /^(?:psql:[^ ]* )?ERROR:  ([0-9A-Z]{5})$/m ? $1 : "no error: $stdout";
}

my @refused = (
	[ 'code_gen', 'SELECT count(*) FROM codes.code_gen(5, NULL, NULL)' ],
	[
		'code_gen with a name',
		"SELECT count(*) FROM codes.code_gen(5, NULL, NULL, batch => 'standby')"
	],
	[ 'code_use of an unused code', "SELECT codes.code_use('$unused')" ],
	[ 'code_use of a used code',    "SELECT codes.code_use('$used', 'x')" ],
	[ 'code_use of an unknown code', "SELECT codes.code_use('$unknown')" ],
	[ 'code_del of a code',          "SELECT codes.code_del('$unused')" ],
	[ 'code_del of an unknown code', "SELECT codes.code_del('$unknown')" ]);
foreach my $case (@refused)
{
	is(standby_sqlstate($case->[1]), '25006', "standby refuses $case->[0]");
}

is(standby_sqlstate("SELECT codes.code_use('not a code')"),
	'25006', 'standby refuses code_use of text that is no code');
is(standby_sqlstate("SELECT codes.code_del('not a code')"),
	'25006', 'standby refuses code_del of text that is no code');
is(standby_sqlstate("SELECT codes.code_undo('$used')"),
	'25006', 'standby refuses code_undo');

is( $standby->safe_psql('postgres', $answers_sql),
	$primary->safe_psql('postgres', $answers_sql),
	'code_query: nothing changed by the refused calls');
is($primary->safe_psql('postgres', "SELECT codes.code_use('$unused')"),
	'SUCCEED', 'the primary still uses codes');

$standby->stop;
$primary->stop;
done_testing();

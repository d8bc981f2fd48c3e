#
# What a backend remembers of codes.batch (extension/batch.c) never
# outlives a change to it, however the change is made.  A session that stays
# open, and so keeps what it read, must see at once:
#
# - on a logical replication subscriber, the changes the apply worker
#   writes: a batch revoked (code_query TIMEINVALID, code_use FAILED),
#   extended again (UNACTIVED), a new batch of a new pattern (its codes are
#   found, not NO EXISTED), codes chosen by code_add (found too), a TRUNCATE that restarts the batch ids (a new
#   batch under an old id is not taken for the old one), and batch_del;
# - in an ordinary database, changes made under session_replication_role =
#   replica, changes made while the triggers of codes.batch are disabled,
#   and, after a data-only restore made with pg_dump --disable-triggers
#   (which leaves the triggers enabled ON ORIGIN), a change made under
#   session_replication_role = replica.
#
# The apply worker fires only row triggers, and only those enabled ALWAYS
# or REPLICA; before 1.2 the invalidation trigger was a statement trigger
# enabled ON ORIGIN, and the open session answered from a stale cache.  A
# TAP test rather than a pg_regress one, because it needs two clusters and
# a session that stays open while another node changes the data.
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->start;

my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->start;

$sub->safe_psql('postgres', 'CREATE EXTENSION codes');
$pub->safe_psql(
	'postgres', q{
CREATE EXTENSION codes;
ALTER TABLE codes.codes REPLICA IDENTITY FULL;
CREATE PUBLICATION codes_pub FOR TABLE codes.batch, codes.codes, codes.redemption_log,
	codes.use_stripes;
});

# Ten codes of batch b1, valid from yesterday to tomorrow.
my @b1 = split /\n/, $pub->safe_psql('postgres',
	q{SELECT code FROM codes.code_gen(10, now() - interval '1 day', now() + interval '1 day', batch => 'b1') AS code ORDER BY 1});
is(scalar(@b1), 10, 'publisher: batch b1 made');

my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION codes_sub CONNECTION '$connstr' PUBLICATION codes_pub WITH (copy_data = true)"
);
$sub->wait_for_subscription_sync($pub, 'codes_sub');

is($sub->safe_psql('postgres', 'SELECT count(*) FROM codes.codes'),
	'10', 'subscriber: the initial sync copied the codes');

# The open session on the subscriber: it reads batch b1 and the shapes of
# codes in use, and keeps them.
my $open = $sub->background_psql('postgres');
is($open->query_safe("SELECT codes.code_query('$b1[0]')"),
	'UNACTIVED', 'subscriber, open session: a code of b1 is unused');
is($open->query_safe("SELECT codes.code_query('NEW-22222-22222')"),
	'NO EXISTED', 'subscriber, open session: no code of pattern NEW yet');

# Revoked on the publisher.
$pub->safe_psql('postgres', "SELECT codes.batch_revoke('b1')");
$pub->wait_for_catchup('codes_sub');
is($open->query_safe("SELECT codes.code_query('$b1[0]')"),
	'TIMEINVALID', 'subscriber, open session: code_query sees the revocation');
is($open->query_safe("SELECT codes.code_use('$b1[1]')"),
	'FAILED', 'subscriber, open session: code_use of a revoked code fails');

# Extended on the publisher: the revocation stands.
$pub->safe_psql('postgres',
	"SELECT codes.batch_extend('b1', now() + interval '2 days')");
$pub->wait_for_catchup('codes_sub');
is($open->query_safe("SELECT codes.code_query('$b1[0]')"),
	'TIMEINVALID', 'subscriber, open session: an extension keeps the revocation');

# The revocation lifted on the publisher.
$pub->safe_psql('postgres', "SELECT codes.batch_unrevoke('b1')");
$pub->wait_for_catchup('codes_sub');
is($open->query_safe("SELECT codes.code_query('$b1[0]')"),
	'UNACTIVED', 'subscriber, open session: code_query sees the revocation lifted');
is($open->query_safe("SELECT codes.code_use('$b1[1]')"),
	'SUCCEED', 'subscriber, open session: code_use of a code no longer revoked succeeds');

# A batch of a pattern the open session has not seen in use.
my @new = split /\n/, $pub->safe_psql('postgres',
	q{SELECT code FROM codes.code_gen(10, NULL, NULL, pattern => 'NEW-#####-#####', batch => 'new') AS code ORDER BY 1});
$pub->wait_for_catchup('codes_sub');
is($open->query_safe("SELECT codes.code_query('$new[0]')"),
	'UNACTIVED', 'subscriber, open session: finds a code of the new pattern');
is($open->query_safe("SELECT codes.code_query('$b1[0]')"),
	'UNACTIVED', 'subscriber, open session: b1 unchanged by the new batch');

# Codes chosen on the publisher: before, text of no batch's shape, which
# the open session answers without a look-up; after, a code.
is($open->query_safe("SELECT codes.code_query('summer 20')"),
	'NO EXISTED', 'subscriber, open session: no chosen code yet');
$pub->safe_psql('postgres', q{
SELECT codes.batch_create('chosen', NULL, NULL);
SELECT codes.code_add('chosen', ARRAY['SUMMER-20', 'Black Friday'], ARRAY[0, 1]);
});
$pub->wait_for_catchup('codes_sub');
is($open->query_safe("SELECT codes.code_query('summer 20')"),
	'UNACTIVED', 'subscriber, open session: finds a chosen code');
is($open->query_safe("SELECT codes.code_query('BLACKFRIDAY')"),
	'ACTIVED', 'subscriber, open session: with its uses so far');

# TRUNCATE with RESTART IDENTITY, then a batch out of its period that gets
# b1's id again: it must not be taken for b1, which the session read.
my $b1_id = $sub->safe_psql('postgres', "SELECT id FROM codes.batch WHERE name = 'b1'");
$pub->safe_psql('postgres',
	'TRUNCATE codes.batch, codes.codes, codes.redemption_log RESTART IDENTITY');
$pub->wait_for_catchup('codes_sub');
is($open->query_safe("SELECT codes.code_query('$b1[0]')"),
	'NO EXISTED', 'subscriber, open session: sees the TRUNCATE');
my @old = split /\n/, $pub->safe_psql('postgres',
	q{SELECT code FROM codes.code_gen(3, '2000-01-01', '2000-12-31', batch => 'old') AS code ORDER BY 1});
$pub->wait_for_catchup('codes_sub');
is( $sub->safe_psql('postgres',
		"SELECT id FROM codes.batch WHERE name = 'old'"),
	$b1_id, "subscriber: the new batch has b1's id, $b1_id");
is($open->query_safe("SELECT codes.code_query('$old[0]')"),
	'TIMEINVALID',
	'subscriber, open session: a new batch under an old id is not the old batch');
is($open->query_safe("SELECT codes.code_use('$old[1]')"),
	'FAILED', 'subscriber, open session: its codes cannot be used');

# batch_del on the publisher.
$pub->safe_psql('postgres', "SELECT codes.batch_del('old')");
$pub->wait_for_catchup('codes_sub');
is($open->query_safe("SELECT codes.code_query('$old[0]')"),
	'NO EXISTED', 'subscriber, open session: sees batch_del');

# A code of many uses: its uses are counted on its stripes
# (codes.use_stripes), which the publication carries too.
my $promo = $pub->safe_psql('postgres',
	q{SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 3, batch => 'promo') AS code});
$pub->safe_psql('postgres',
	"SELECT codes.code_use('$promo', 'r' || i) FROM generate_series(1, 3) AS i");
$pub->wait_for_catchup('codes_sub');
is($open->query_safe("SELECT codes.code_query('$promo')"),
	'ACTIVED', 'subscriber, open session: a code of many uses used up');
is( $sub->safe_psql(
		'postgres', "SELECT uses || '/' || uses_left FROM codes.batches WHERE name = 'promo'"),
	'3/0', 'subscriber: its uses and uses left');
$open->quit;

#
# Changes that fire no ON ORIGIN trigger, in an ordinary database.
#
$pub->safe_psql('postgres', 'CREATE DATABASE plain');
$pub->safe_psql('plain', 'CREATE EXTENSION codes');
my @p = split /\n/, $pub->safe_psql('plain',
	q{SELECT code FROM codes.code_gen(5, now() - interval '1 day', now() + interval '1 day', batch => 'b1') AS code ORDER BY 1});
$open = $pub->background_psql('plain');

my $revoke = "UPDATE codes.batch SET revoked_at = now() WHERE name = 'b1'";
my $unrevoke = "UPDATE codes.batch SET revoked_at = NULL WHERE name = 'b1'";

is($open->query_safe("SELECT codes.code_query('$p[0]')"),
	'UNACTIVED', 'open session: a code of b1 is unused');
$pub->safe_psql('plain', "SET session_replication_role = replica; $revoke");
is($open->query_safe("SELECT codes.code_query('$p[0]')"),
	'TIMEINVALID',
	'open session: sees a revocation made under session_replication_role = replica');
$pub->safe_psql('plain', "SET session_replication_role = replica; $unrevoke");
is($open->query_safe("SELECT codes.code_query('$p[0]')"),
	'UNACTIVED',
	'open session: sees it lifted under session_replication_role = replica');

# Triggers disabled, as a restore with --disable-triggers does: the open
# session reads b1 while they are, and must see the change made then.
$pub->safe_psql('plain', 'ALTER TABLE codes.batch DISABLE TRIGGER ALL');
is($open->query_safe("SELECT codes.code_query('$p[0]')"),
	'UNACTIVED', 'open session: b1 read while the triggers are disabled');
$pub->safe_psql('plain', $revoke);
is($open->query_safe("SELECT codes.code_query('$p[0]')"),
	'TIMEINVALID', 'open session: sees a revocation made while the triggers are disabled');
is($open->query_safe("SELECT codes.code_use('$p[1]')"),
	'FAILED', 'open session: code_use fails after it');
$pub->safe_psql('plain', 'ALTER TABLE codes.batch ENABLE TRIGGER ALL');
$open->quit;

# A real data-only restore with --disable-triggers into the database an
# open session uses.  The session has seen the database empty; the restore
# brings batch b1; it leaves the triggers ON ORIGIN, so a revocation made
# afterwards under session_replication_role = replica fires none of them.
$pub->safe_psql('postgres', 'CREATE DATABASE restored');
$pub->safe_psql('restored', 'CREATE EXTENSION codes');
$pub->safe_psql('plain', $unrevoke);
$open = $pub->background_psql('restored');
is($open->query_safe("SELECT codes.code_query('$p[0]')"),
	'NO EXISTED', 'restored, open session: nothing before the restore');

my $dump = PostgreSQL::Test::Utils::tempdir() . '/plain.sql';
$pub->command_ok(
	[
		'pg_dump', '--data-only', '--disable-triggers', '--file', $dump,
		'--dbname', $pub->connstr('plain')
	],
	'pg_dump --data-only --disable-triggers');
$pub->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--file', $dump,
		'--dbname', $pub->connstr('restored')
	],
	'restored with psql');
is( $pub->safe_psql(
		'restored',
		q{SELECT string_agg(tgname || ':' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'codes.batch'::regclass AND NOT tgisinternal}
	),
	'batch_changed:O,batch_truncated:O',
	'restored: the restore left the triggers enabled ON ORIGIN');
is($open->query_safe("SELECT codes.code_query('$p[0]')"),
	'UNACTIVED', 'restored, open session: sees the restored batch');
$pub->safe_psql('restored', "SET session_replication_role = replica; $revoke");
is($open->query_safe("SELECT codes.code_query('$p[0]')"),
	'TIMEINVALID',
	'restored, open session: sees a revocation made under session_replication_role = replica');
$open->quit;

$sub->stop;
$pub->stop;
done_testing();

#
# Crashes.  The server dies while a large batch is being generated (once by
# an immediate shutdown after a checkpoint has written part of the batch to
# the data files, once by SIGKILL of the generating backend) and while a
# client streams uses, some committed, some rolled back, with another
# transaction holding uses open and a prepared transaction holding more.
# After recovery: no trace of the partial batch, every use the client saw
# commit is there, no use that did not commit is.
#
# CODES_HEAVY=1 makes the batch 5,000,000 codes and the stream longer.
#
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $heavy = $ENV{CODES_HEAVY} ? 1 : 0;

# Codes in the big batch, and how much of it (bytes of codes.codes) must be
# written before the server is killed.
my $batch_size = $heavy ? 5_000_000 : 2_000_000;
my $kill_at_bytes = ($heavy ? 120 : 20) * 1024 * 1024;

# Transactions in the stream of uses, and the one whose use must have
# committed when the server is killed (one in five transactions rolls back,
# so by then four fifths of those before it have committed).
my $stream_len = $heavy ? 100_000 : 20_000;
my $kill_at = $heavy ? 25_000 : 400;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# Small shared buffers, so the half-written batch reaches the data files.
$node->append_conf(
	'postgresql.conf', q{
restart_after_crash = on
wal_level = replica
shared_buffers = 16MB
max_prepared_transactions = 2
log_statement = ddl
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION codes; CREATE EXTENSION amcheck;');

# Everything a user relies on, one line per code, in a stable order.
my $snapshot_sql = q{
SELECT b.id, b.name, b.created_at, b.valid_from, b.valid_until, b.max_uses,
	   c.code, c.uses, c.used_at, c.used_by
FROM codes.batch b LEFT JOIN codes.codes c ON c.batch = b.id
ORDER BY b.id, c.code};

# Every index of the two tables checks out against its table (amcheck,
# heapallindexed), and every code belongs to a batch.
my $consistent_sql = q{
SELECT count(bt_index_check(i.indexrelid, true))
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam AND a.amname = 'btree'
WHERE i.indrelid IN ('codes.codes'::regclass, 'codes.batch'::regclass);
SELECT count(*) FROM codes.codes c
WHERE NOT EXISTS (SELECT FROM codes.batch b WHERE b.id = c.batch);};
my $n_indexes = $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam AND a.amname = 'btree'
WHERE i.indrelid IN ('codes.codes'::regclass, 'codes.batch'::regclass)});

$node->safe_psql(
	'postgres', q{
SELECT count(*) FROM codes.code_gen(1000, NULL, NULL, batch => 'before');
SELECT count(codes.code_use(code::text, 'before'))
FROM (SELECT code FROM codes.codes ORDER BY code LIMIT 100) s;});

my $tempdir = PostgreSQL::Test::Utils::tempdir();

# Start a psql in the background, with its own application_name.  Its output
# goes to files, not pipes: nobody reads a pipe while we wait, and a full
# pipe would stop psql.  finish_psql waits for it to end and returns whether
# it succeeded and its output.
sub start_psql
{
	my ($appname, @args) = @_;

	return IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d',
			$node->connstr('postgres') . " application_name=$appname", @args
		],
		'>', "$tempdir/$appname.out", '2>', "$tempdir/$appname.err");
}

sub finish_psql
{
	my ($handle, $appname) = @_;
	my $ok = $handle->finish;

	return ($ok, PostgreSQL::Test::Utils::slurp_file("$tempdir/$appname.out"));
}

# Kill the server the way $how says, and wait until it accepts connections
# again after crash recovery.
sub crash
{
	my ($how, $appname) = @_;

	if ($how eq 'immediate')
	{
		$node->stop('immediate');
		$node->start;
		return;
	}

	my $pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE application_name = '$appname'");
	my $log_offset = -s $node->logfile;

	ok($pid =~ /^\d+$/, "$how: found the backend of $appname");
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/,
		$log_offset);
	$node->poll_query_until('postgres', 'SELECT 1', '1')
	  or die "server did not come back after the crash";
}

#
# A large batch, killed halfway.
#
foreach my $how ('immediate', 'sigkill')
{
	my $name = "big-$how";
	my $before = $node->safe_psql('postgres', $snapshot_sql);
	my $size0 = $node->safe_psql('postgres',
		"SELECT pg_relation_size('codes.codes')");
	my $gen = start_psql('big_batch', '-c',
		"SELECT count(*) FROM codes.code_gen($batch_size, NULL, NULL, batch => '$name')"
	);

	ok( $node->poll_query_until(
			'postgres',
			"SELECT pg_relation_size('codes.codes') - $size0 > $kill_at_bytes"),
		"$how: the batch is being written");
	# A checkpoint puts the uncommitted half-batch into the data files, so
	# recovery cannot just lose it: the rows are there and must stay dead.
	$node->safe_psql('postgres', 'CHECKPOINT') if $how eq 'immediate';
	is( $node->safe_psql(
			'postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'big_batch' AND state = 'active'"
		),
		'1',
		"$how: the batch is still being generated when the server dies");

	crash($how, 'big_batch');

	my ($ok, $out) = finish_psql($gen, 'big_batch');
	ok(!$ok, "$how: the generating client saw its call fail");
	is($out, '', "$how: the generating client got no codes");

	is($node->safe_psql('postgres', "SELECT count(*) FROM codes.batch WHERE name = '$name'"),
		'0', "$how: no batch row after recovery");
	is($node->safe_psql('postgres', $snapshot_sql),
		$before, "$how: batches and codes are exactly as before the batch");
	is($node->safe_psql('postgres', $consistent_sql),
		"$n_indexes\n0", "$how: indexes check out, no code without a batch");
	is( $node->safe_psql(
			'postgres',
			"SELECT count(*) FROM codes.code_gen(10, NULL, NULL, batch => '$name')"),
		'10',
		"$how: the batch name is free again");
}

#
# A stream of uses, killed halfway.
#
$node->safe_psql(
	'postgres', qq{
SELECT count(*) FROM codes.code_gen($stream_len, NULL, NULL, batch => 'stream');
SELECT count(*) FROM codes.code_gen(50, NULL, NULL, batch => 'open');
SELECT count(*) FROM codes.code_gen(10, NULL, NULL, batch => 'prepared');});

# codes of a batch, in a stable order
sub batch_codes
{
	my ($batch) = @_;

	return split /\n/,
	  $node->safe_psql('postgres',
		"SELECT c.code FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE b.name = '$batch' ORDER BY c.code"
	  );
}

# uses and redeemer of each code, as "uses|used_by"
sub batch_uses
{
	my ($batch) = @_;
	my %uses;

	foreach my $row (
		split /\n/,
		$node->safe_psql(
			'postgres',
			"SELECT c.code, c.uses, c.used_by FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE b.name = '$batch'"
		))
	{
		my ($code, $n, $by) = split /\|/, $row, 3;
		$uses{$code} = "$n|$by";
	}
	return \%uses;
}

# Use every code of a batch, with the batch name as redeemer; count the
# successes.  The codes are picked first (MATERIALIZED), so that code_use is
# not pushed down to every row of codes.codes.
sub use_batch_sql
{
	my ($batch) = @_;

	return qq{WITH c AS MATERIALIZED (
			SELECT c.code FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
			WHERE b.name = '$batch')
		SELECT count(*) FROM c WHERE codes.code_use(c.code::text, '$batch') = 'SUCCEED'};
}

my @stream = batch_codes('stream');

# Every fifth transaction rolls back; the client prints a line only once
# COMMIT or ROLLBACK has returned.
my $script = "$tempdir/stream.sql";
open my $fh, '>', $script or die "could not write $script: $!";
for my $i (0 .. $#stream)
{
	my $end = $i % 5 == 4 ? 'ROLLBACK' : 'COMMIT';
	my $done = $i % 5 == 4 ? 'rolledback' : 'committed';

	print $fh "BEGIN;\n";
	print $fh "SELECT 'use $i ' || codes.code_use('$stream[$i]', 'stream');\n";
	print $fh "$end;\n\\echo $done $i\n";
}
close $fh;

# a transaction that uses 50 codes and is still open at the crash
my $open = $node->background_psql('postgres');
is( $open->query_safe(
		'BEGIN; ' . use_batch_sql('open')),
	'50',
	'open transaction: 50 uses, not committed');

# a prepared transaction that uses 10 codes
$node->safe_psql(
	'postgres', q{
BEGIN;
} . use_batch_sql('prepared') . q{;
PREPARE TRANSACTION 'coupons';});

# Poll one code, not the whole table: after two aborted batches it holds
# millions of dead rows.
my $uses = start_psql('use_stream', '-f', $script);
ok( $node->poll_query_until(
		'postgres', "SELECT codes.code_query('$stream[$kill_at]')", 'ACTIVED'),
	'stream: uses are being committed');

crash('sigkill', 'use_stream');

my (undef, $stream_out) = finish_psql($uses, 'use_stream');
eval { $open->quit; };

my (%committed, %rolledback);
my $last_done = -1;
my $all_succeeded = 1;
foreach my $line (split /\n/, $stream_out)
{
	if ($line =~ /^use (\d+) (\w+)$/)
	{
		$all_succeeded = 0 if $2 ne 'SUCCEED';
	}
	elsif ($line =~ /^(committed|rolledback) (\d+)$/)
	{
		$committed{$2} = 1 if $1 eq 'committed';
		$rolledback{$2} = 1 if $1 eq 'rolledback';
		$last_done = $2;
	}
}
my $in_flight = $last_done + 1;

ok($all_succeeded, 'stream: every use answered SUCCEED');
cmp_ok(scalar(keys %committed), '>=', $kill_at * 4 / 5,
	'stream: the client saw enough commits');
cmp_ok($in_flight, '<', scalar(@stream),
	'stream: the server died before the stream ended');
note "stream: "
  . scalar(keys %committed)
  . " uses committed, "
  . scalar(keys %rolledback)
  . " rolled back, transaction $in_flight in flight";

my $after = batch_uses('stream');
my ($lost, $phantom) = (0, 0);
for my $i (0 .. $#stream)
{
	my $state = $after->{ $stream[$i] };

	if ($committed{$i})
	{
		$lost++ if $state ne '1|stream';
	}
	elsif ($i == $in_flight && $i % 5 != 4)
	{
		# its COMMIT may or may not have happened; either way, whole
		if ($state ne '1|stream' && $state ne '0|')
		{
			$phantom++;
		}
		note "stream: the use in flight is " . ($state eq '0|' ? 'gone' : 'there');
	}
	else
	{
		$phantom++ if $state ne '0|';
	}
}
is($lost, 0, 'stream: every use the client saw commit survived');
is($phantom, 0, 'stream: no use that did not commit survived');

my $open_after = batch_uses('open');
is(scalar(grep { $_ ne '0|' } values %$open_after),
	0, 'open transaction: none of its uses survived');

is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(DISTINCT codes.code_query(c.code::text), ',')
		  FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE b.name = 'prepared'}),
	'UNACTIVED',
	'prepared transaction: survived, its uses not yet visible');
$node->safe_psql('postgres', "COMMIT PREPARED 'coupons'");
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(DISTINCT codes.code_query(c.code::text) || '/' || c.used_by, ',')
		  FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE b.name = 'prepared'}),
	'ACTIVED/prepared',
	'prepared transaction: its uses count once committed');

is($node->safe_psql('postgres', $consistent_sql),
	"$n_indexes\n0", 'stream: indexes check out after recovery');
is($node->safe_psql('postgres', "SELECT codes.code_use('$stream[-1]')"),
	'SUCCEED', 'stream: a code the stream never reached is still usable');
is($node->safe_psql('postgres', "SELECT codes.code_use('$stream[0]')"),
	'FAILED', 'stream: a code it used cannot be used again');

$node->stop;
done_testing();

#
# No code reaches the server log.  The extension puts no code into a
# message, but with the default log_min_error_statement = error the server
# logs the statement of every failed query, and with it any code written
# into it as a literal.  Errors raised inside the extension's functions must
# therefore hide their statement.  Four of them, with the code a literal
# of the statement, and a note of the extension's own:
#
# (a) 22004: code_use without a redeemer of a code whose batch limits uses
#     per redeemer;
# (b) 40001: code_use at REPEATABLE READ of a code used and committed after
#     the transaction's snapshot;
# (c) code_query of a code of a hashed batch once codes.key_file names no
#     key: no error, the code is not found, and the server log names the
#     key (a LOG line, once per backend);
# (d) 55P03: an error of PostgreSQL's own inside the call, the lock timeout
#     of a code_use waiting for another session's use of the same code;
# (e) 40P01: a deadlock of two sessions using two codes in opposite order,
#     whose report PostgreSQL logs with the statement of each process;
# (f) 40P01: a deadlock found by an application's UPDATE, of a session
#     whose other session waits inside code_use;
# (g) 23505: code_add of chosen codes, one of which exists already (the
#     refusal names positions in the array, never codes);
# (h) 40P01: a deadlock of two sessions holding two codes (code_hold) in
#     opposite order.
#
# The log must hold each error, and none of the codes, in any text form.
# So that the test cannot pass because nothing is logged, a failing
# statement of no extension function must have its statement logged.  A
# TAP test rather than a pg_regress one, because it reads the server log
# and needs a key file and sessions of its own.
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# A key file for hashed codes, outside the data directory, readable by the
# server's user alone.
my $key_file = PostgreSQL::Test::Utils::tempdir() . '/codes_key';
open my $fh, '>', $key_file or die "could not write $key_file: $!";
print $fh 'a key for the server log test, 32 bytes or more of it';
close $fh;
chmod 0600, $key_file or die "could not chmod $key_file: $!";

my $node = PostgreSQL::Test::Cluster->new('server_log');
$node->init;
# Cluster.pm logs every statement; the test needs PostgreSQL's defaults.
$node->append_conf(
	'postgresql.conf', qq{
log_statement = none
log_min_error_statement = error
deadlock_timeout = '100ms'
codes.key_file = '$key_file'
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION codes');

# Codes of a batch, one a line.
sub codes_of
{
	my ($args) = @_;
	return split /\n/,
	  $node->safe_psql('postgres',
		"SELECT code FROM codes.code_gen($args) AS code ORDER BY 1");
}

my @per_redeemer =
  codes_of("2, NULL, NULL, max_uses => 2, max_uses_per_redeemer => 1, batch => 'per redeemer'");
my @plain = codes_of("8, NULL, NULL, batch => 'plain'");
my @hashed =
  codes_of("2, NULL, NULL, pattern => 'H-#####-#####', store => 'hmac', batch => 'hashed'");
my %asked;    # code => case, every code written into a failing statement

# SQLSTATE and message of the error that sql raises, or its output if none
sub error_of
{
	my ($sql) = @_;
	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");

	return $stderr =~ /ERROR:  ([0-9A-Z]{5}): ([^\n]*)/ ? "$1: $2" : "no error: $stdout";
}

# (a) 22004
$asked{ $per_redeemer[0] } = '(a) 22004';
is( error_of("SELECT codes.code_use('$per_redeemer[0]')"),
	'22004: redeemer must not be null for this code',
	'(a) code_use without a redeemer: 22004');

# (b) 40001
$asked{ $plain[0] } = '(b) 40001';
my $rr = $node->background_psql('postgres', on_error_stop => 0);
$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1');
is($node->safe_psql('postgres', "SELECT codes.code_use('$plain[0]')"),
	'SUCCEED', '(b) another session uses the code and commits');
my ($out, $failed) = $rr->query("SELECT codes.code_use('$plain[0]')");
like($rr->{stderr}, qr/could not serialize access due to concurrent update/,
	'(b) code_use at REPEATABLE READ: serialization failure');
$rr->query('ROLLBACK');
$rr->quit;

# (c) a hashed code without its key
$asked{ $hashed[0] } = '(c) no key';
is( $node->safe_psql(
		'postgres', "SET codes.key_file = ''; SELECT codes.code_query('$hashed[0]')"),
	'NO EXISTED',
	'(c) code_query of a hashed code without its key: not found');

# (d) 55P03
$asked{ $plain[1] } = '(d) 55P03';
my $holder = $node->background_psql('postgres');
is($holder->query_safe("BEGIN; SELECT codes.code_use('$plain[1]')"),
	'SUCCEED', '(d) another session holds a use of the code, not committed');
is( error_of(
		"SET lock_timeout = '100ms'; SELECT codes.code_use('$plain[1]')"),
	'55P03: canceling statement due to lock timeout',
	'(d) code_use waiting for it: lock timeout');
$holder->query_safe('ROLLBACK');
$holder->quit;

# (e) 40P01: each session holds one code and waits for the other's.  The
# one that waited first finds the deadlock after deadlock_timeout, inside
# its code_use, and its transaction ends; the other's use then goes on.
$asked{ $plain[2] } = '(e) 40P01';
$asked{ $plain[3] } = '(e) 40P01';
my $first = $node->background_psql('postgres', on_error_stop => 0);
my $second = $node->background_psql('postgres', on_error_stop => 0);
is($first->query_safe("BEGIN; SELECT codes.code_use('$plain[2]')"),
	'SUCCEED', '(e) the first session uses one code');
is($second->query_safe("BEGIN; SELECT codes.code_use('$plain[3]')"),
	'SUCCEED', '(e) the second session uses the other');
$first->{stdin} .= "SELECT codes.code_use('$plain[3]');\n";
$first->{run}->pump_nb();
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted")
  or die 'the first session does not wait';
$second->query("SELECT codes.code_use('$plain[2]')");
my $second_err = $second->{stderr};
$second->query('ROLLBACK');
$first->query('ROLLBACK');
like($first->{stderr} . $second_err, qr/deadlock detected/,
	'(e) one of them ends in a deadlock');
$first->quit;
$second->quit;

# (f) 40P01: the first session uses a code and then updates a row of the
# application's, which the second holds; the second then uses the code.
# The first waited first, so it finds the deadlock, in its UPDATE.
$asked{ $plain[4] } = '(f) 40P01';
$node->safe_psql('postgres', 'CREATE TABLE shop (id int PRIMARY KEY, n int); INSERT INTO shop VALUES (1, 0)');
$first = $node->background_psql('postgres', on_error_stop => 0);
$second = $node->background_psql('postgres', on_error_stop => 0);
is($first->query_safe("BEGIN; SELECT codes.code_use('$plain[4]')"),
	'SUCCEED', '(f) the first session uses a code');
$second->query_safe('BEGIN; UPDATE shop SET n = n + 1 WHERE id = 1');
$first->{stdin} .= "UPDATE shop SET n = n + 1 WHERE id = 1;\n";
$first->{run}->pump_nb();
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted")
  or die 'the first session does not wait';
$second->query("SELECT codes.code_use('$plain[4]')");
$second_err = $second->{stderr};
$second->query('ROLLBACK');
$first->query('ROLLBACK');
like($first->{stderr} . $second_err, qr/deadlock detected/,
	'(f) one of them ends in a deadlock');
$first->quit;
$second->quit;

# (g) 23505
$node->safe_psql('postgres', "SELECT codes.batch_create('chosen', NULL, NULL)");
$node->safe_psql('postgres', "SELECT codes.code_add('chosen', ARRAY['VIP-SECRET-4711'])");
$asked{'VIP-SECRET-4711'} = '(g) 23505';
$asked{'NEW-SECRET-0815'} = '(g) 23505';
like(
	error_of(
		"SELECT codes.code_add('chosen', ARRAY['NEW-SECRET-0815', 'vip secret 4711'])"),
	qr/^23505: 1 code clashes/,
	'(g) code_add of a code that exists: 23505');

# (h) 40P01: as (e), with code_hold, whose hiding is entry.c's as well.
$asked{ $plain[6] } = '(h) 40P01';
$asked{ $plain[7] } = '(h) 40P01';
$first = $node->background_psql('postgres', on_error_stop => 0);
$second = $node->background_psql('postgres', on_error_stop => 0);
is($first->query_safe("BEGIN; SELECT (codes.code_hold('$plain[6]', 'r1', '10 minutes')).ok"),
	't', '(h) the first session holds one code');
is($second->query_safe("BEGIN; SELECT (codes.code_hold('$plain[7]', 'r2', '10 minutes')).ok"),
	't', '(h) the second session holds the other');
$first->{stdin} .= "SELECT (codes.code_hold('$plain[7]', 'r1', '10 minutes')).ok;\n";
$first->{run}->pump_nb();
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted")
  or die 'the first session does not wait';
$second->query("SELECT (codes.code_hold('$plain[6]', 'r2', '10 minutes')).ok");
$second_err = $second->{stderr};
$second->query('ROLLBACK');
$first->query('ROLLBACK');
like($first->{stderr} . $second_err, qr/deadlock detected/,
	'(h) one of them ends in a deadlock');
$first->quit;
$second->quit;

# The control: a failing statement outside the extension is logged.
like(error_of("SELECT 'marker-1234'::int"),
	qr/^22P02: /, 'control: a failing statement of no extension function');

my $log = slurp_file($node->logfile);

like($log, qr/STATEMENT:  SELECT 'marker-1234'::int/,
	'control: the server logs the statement of a failed query');
like($log, qr/ERROR:  redeemer must not be null for this code/,
	'(a) the error is logged');
like($log, qr/ERROR:  could not serialize access due to concurrent update/,
	'(b) the error is logged');
like($log, qr/LOG:  key [0-9a-f]+ of hashed codes is not configured/,
	'(c) the missing key is logged');
like($log, qr/ERROR:  canceling statement due to lock timeout/,
	'(d) the error is logged');
like($log, qr/ERROR:  deadlock detected\n.*DETAIL:  Process \d+ waits for ShareLock on transaction/,
	'(e) the deadlock is logged, with the processes and locks in it');
is(scalar(() = $log =~ /ERROR:  deadlock detected/g), 3,
	'(f) and (h): their deadlocks are logged too');
like($log, qr/ERROR:  1 code clashes with an existing code/,
	'(g) the error is logged');

# Each code as it was written, and in its canonical form (upper case, no
# hyphens), in any case.
foreach my $code (sort { $asked{$a} cmp $asked{$b} } keys %asked)
{
	(my $canonical = $code) =~ s/[- ]//g;
	ok( $log !~ /\Q$code\E/i && $log !~ /\Q$canonical\E/i,
		"$asked{$code}: the code is nowhere in the server log")
	  or diag(grep { /\Q$code\E|\Q$canonical\E/i } split /^/m, $log);
}

$node->stop;
done_testing();

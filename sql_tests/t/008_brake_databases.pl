#
# The brake on guessing is shared by every database of a server (its
# counts live in shared memory), and a flood of junk redeemers in one
# database must neither lift the brake of a bot in another nor hide
# another's bot from it.  With codes.max_redeemers at its least, 100:
#
# (a) a bot in database b is braked after codes.max_failures guesses;
# (b) then database a floods the table with junk redeemers, each braked
#     (the flood of issue 24: with 1.2 a new redeemer then went uncounted,
#     and the bot of another database answered not_found forever);
# (c) the bot of b stays braked, a new bot of b is counted and braked
#     after its own guesses, and a's entries shrink to its share;
# (d) within a itself, a flood of braked junk still hides a new bot: the
#     README says so, and the warning tells;
# (e) and a third database gets its share too.
#
# A TAP test rather than a pg_regress one, because it needs a server of
# its own with codes preloaded and the least codes.max_redeemers.
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The library to preload: the one CREATE EXTENSION loads.  Where the build
# is staged, not installed (scripts/test.sh on 15: TEMP_CONFIG names its
# extension_destdir), the staged file by its path, as the installed one
# would be loaded first otherwise.
my $preload = 'codes';
if (defined $ENV{TEMP_CONFIG} && open my $conf, '<', $ENV{TEMP_CONFIG})
{
	while (<$conf>)
	{
		next unless /^\s*extension_destdir\s*=\s*'([^']*)'/;
		my $destdir = $1;
		my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
		chomp(my $pkglibdir = `$pg_config --pkglibdir`);
		$preload = "$destdir$pkglibdir/codes";
	}
	close $conf;
}

my $node = PostgreSQL::Test::Cluster->new('brake');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = '$preload'
codes.max_redeemers = 100
});
$node->start;

foreach my $db (qw(a b c))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION codes');
}

# n guesses by a redeemer: how many answers of each reason, as
# "reason:count ..."
sub guesses
{
	my ($db, $redeemer, $n, $settings) = @_;
	return $node->safe_psql(
		$db, ($settings // '') . qq{
SELECT string_agg(reason || ':' || n, ' ' ORDER BY reason)
FROM (SELECT (codes.code_redeem('no such code ' || i, '$redeemer')).reason, count(*) AS n
	  FROM generate_series(1, $n) AS i GROUP BY 1) AS r;});
}

# a flood of junk redeemers from one database, each braked at once
sub flood
{
	my ($db, $prefix, $n) = @_;
	$node->safe_psql(
		$db, qq{
SET codes.max_failures = 1;
SET client_min_messages = error;
SELECT count(codes.code_use('no such code', '$prefix-' || i)) FROM generate_series(1, $n) AS i;});
}

sub entries
{
	my ($db) = @_;
	return $node->safe_psql($db, 'SELECT count(*) FROM codes.throttled');
}

# (a)
is(guesses('b', 'bot', 30), 'braked:20 not_found:10',
	'(a) a bot of b: 10 guesses answered, then braked');

# (b)
flood('a', 'junk', 500);
is(entries('a') + entries('b'), 100, '(b) a flood of a fills the table');

# (c)
is(guesses('b', 'bot', 5), 'braked:5', '(c) the bot of b is still braked');
is(guesses('b', 'bot-2', 30), 'braked:20 not_found:10',
	'(c) a new bot of b is counted and braked');
flood('a', 'more-junk', 500);
is(guesses('b', 'bot', 5) . ' / ' . guesses('b', 'bot-2', 5),
	'braked:5 / braked:5', '(c) a second flood of a lifts neither brake');
ok(entries('a') >= 50, '(c) a keeps its share: ' . entries('a') . ' entries');

# (d)
my ($ret, $stdout, $stderr) = $node->psql('a', qq{
SELECT (codes.code_redeem('no such code', 'bot-of-a')).reason
FROM generate_series(1, 12);});
like($stderr, qr/could not count a failed use/,
	'(d) a bot of a, among its own braked junk, goes uncounted with a warning');

# (e)
is(guesses('c', 'bot', 12), 'braked:2 not_found:10',
	'(e) a bot of a third database is counted and braked');
is(guesses('b', 'bot', 1) . ' / ' . guesses('b', 'bot-2', 1),
	'braked:1 / braked:1', '(e) and those of b stay braked');
cmp_ok(entries('a') + entries('b') + entries('c'), '<=', 100,
	'(e) within codes.max_redeemers');

$node->stop;
done_testing();

# SIGKILL of the daemon loses nothing that was answered 200: with Redis up,
# and with Redis down (the spool survives the crash and drains after the
# restart). Nothing is queued twice.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use WRPayload qw(tautulli_pause);
use Time::HiRes qw(sleep);

my $t = WRTest->new;
$t->start_redis(aof => 1);
$t->start_daemon(limits => { redis_timeout_ms => 500 });
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

my $path = $t->hook_path('tautulli');
my %answered;
my $seq = 0;

# A child posts as fast as it can and reports each answered id; the parent
# kills the daemon part-way through.
sub burst {
    my ($n, $kill_after) = @_;
    pipe(my $rd, my $wr) or die;
    my $pid = fork // die;
    if ($pid == 0) {
        close $rd;
        $wr->autoflush(1);
        my $h = HTTP::Tiny->new(timeout => 5);
        for my $i (1 .. $n) {
            my $s = $seq + $i;
            my $r = $h->request('POST', $t->url($path),
                { headers => { 'Content-Type' => 'application/json' }, content => tautulli_pause($s) });
            if ($r->{status} == 200 && $r->{content} =~ /"ids":\["([0-9a-f]{32})"\]/) {
                print $wr "$1\n";
            }
        }
        POSIX::_exit(0);
    }
    close $wr;
    my $got = 0;
    while (my $l = <$rd>) {
        chomp $l;
        $answered{$l}++;
        if (++$got == $kill_after) {
            $t->stop_daemon('KILL');
        }
    }
    waitpid($pid, 0);
    $seq += $n;
}

burst(300, 120);
cmp_ok(scalar keys %answered, '>=', 120, 'at least 120 answered before the kill');
$t->start_daemon(limits => { redis_timeout_ms => 500 });
$t->wait_ready;
my @ids = map { $_->{id} } $t->stream_events;
my %in;
$in{$_}++ for @ids;
is(scalar(grep { !$in{$_} } keys %answered), 0, 'every answered event survived SIGKILL');
is(scalar(grep { $in{$_} > 1 } keys %in), 0, 'none is in the stream twice');

# Redis down, then SIGKILL: the spool must carry the events over the crash.
$t->stop_redis;
ok($t->wait_for(sub { $t->get('/readyz')->{status} == 503 }, 10), 'redis down');
my %before = %answered;
burst(60, 40);
my @spooled = grep { !$before{$_} } keys %answered;
cmp_ok(scalar @spooled, '>=', 40, 'answered 200 while Redis was down');
$t->start_redis(aof => 1);
$t->start_daemon(limits => { redis_timeout_ms => 500 });
ok($t->wait_for(sub { $t->get('/readyz')->{status} == 200 && ($t->metric('watchrelay_spool_depth') // 1) == 0 }, 20),
    'restarted daemon drained the spool');
@ids = map { $_->{id} } $t->stream_events;
%in = ();
$in{$_}++ for @ids;
is(scalar(grep { !$in{$_} } keys %answered), 0, 'every event answered while Redis was down is in the stream');
is(scalar(grep { $in{$_} > 1 } keys %in), 0, 'and none twice');

done_testing;

# Redis stops mid-run: webhooks still get 200 (the spool takes them), and
# once Redis is back every answered event is in the stream exactly once and
# in the order it was answered.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use WRPayload qw(tautulli_pause);

my $t = WRTest->new;
$t->start_redis(aof => 1);
$t->start_daemon(limits => { redis_timeout_ms => 500 });
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

my $path = $t->hook_path('tautulli');
my @answered;
my $seq = 0;
my $send = sub {
    my $n = $seq++;
    my $r = $t->post($path, tautulli_pause($n), 'Content-Type' => 'application/json');
    my $b = eval { $t->decode($r->{content}) } || {};
    push @answered, [ $n, $b->{ids}[0] ] if $r->{status} == 200 && $b->{events} == 1;
    return $r;
};

$send->() for 1 .. 20;
is(scalar @answered, 20, 'before the outage: 20 answered');
is($t->stream_len, 20, 'before the outage: 20 in the stream');

$t->stop_redis;
ok($t->wait_for(sub { $t->get('/readyz')->{status} == 503 }, 10), 'readyz says 503 while Redis is down');
like($t->get('/readyz')->{content}, qr/redis/i, 'readyz names the reason');

my $ok = 0;
for (1 .. 30) {
    my $r = $send->();
    $ok++ if $r->{status} == 200;
}
is($ok, 30, 'during the outage: every webhook still gets 200');
my $b = $t->decode($t->post($path, tautulli_pause($seq++), 'Content-Type' => 'application/json')->{content});
push @answered, [ $seq - 1, $b->{ids}[0] ];
is($b->{spooled}, 1, 'the reply says the event was spooled');
cmp_ok($t->metric('watchrelay_spool_depth'), '>=', 31, 'spool depth grew');
is($t->get('/healthz')->{status}, 200, 'healthz stays 200');

$t->start_redis(aof => 1);
ok($t->wait_for(sub { ($t->metric('watchrelay_spool_depth') // 1) == 0 }, 20),
    'the spool drains once Redis is back') or diag $t->daemon_log;
is($t->get('/readyz')->{status}, 200, 'ready again');

$send->() for 1 .. 5;
my @ev = $t->stream_events;
my @ids = map { $_->{id} } @ev;
is(scalar @ev, scalar @answered, 'every answered event is in the stream');
my %count;
$count{$_}++ for @ids;
is(scalar(grep { $count{$_} > 1 } keys %count), 0, 'no event twice');
is_deeply(\@ids, [ map { $_->[1] } @answered ], 'in the order they were answered');
is_deeply([ map { $_->{position_ms} } @ev ], [ map { 1000 + $_->[0] } @answered ],
    'positions prove the order');

done_testing;

# Operations: health, readiness, metrics, status, the CLI (check-config,
# events tail), generated tokens, the embedded Redis, graceful stop.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use WRPayload qw(tautulli_pause);

my $bin = WRTest::bin();

# check-config: valid is 0, invalid is 2 with each problem's JSON path.
{
    my $t = WRTest->new;
    my $good = $t->write_config({ listen => '127.0.0.1:8787' });
    my $out = `$bin -c $good check-config 2>&1`;
    is($? >> 8, 0, 'check-config: valid config exits 0') or diag $out;
    my $bad = $t->write_config({ listen => 'nope', colour => 'blue',
                                 sources => { plex => { token => 5 } } });
    $out = `$bin -c $bad check-config 2>&1`;
    is($? >> 8, 2, 'check-config: invalid config exits 2');
    like($out, qr/colour/, 'names the unknown key');
    like($out, qr/sources\.plex\.token/, 'names the mistyped key by its JSON path');
    like($out, qr/listen/, 'names the bad listen address');
    $out = `$bin -c /nonexistent/x.json check-config 2>&1`;
    is($? >> 8, 2, 'missing config file exits 2');
    like($out, qr{/nonexistent/x\.json}, 'and names the file');
    $out = `$bin frobnicate 2>&1`;
    is($? >> 8, 2, 'unknown command exits 2');
    my $ex = WRTest::root() . '/config/watchrelay.example.json';
    $out = `$bin -c $ex check-config 2>&1`;
    is($? >> 8, 0, 'the example config is valid') or diag $out;
}

my $t = WRTest->new;
$t->start_redis;
$t->start_daemon;
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

is($t->get('/healthz')->{status}, 200, 'healthz 200');
my $ready = $t->get('/readyz');
is($ready->{status}, 200, 'readyz 200 with Redis up');

my $path = $t->hook_path('tautulli');
for my $i (1 .. 3) {
    my $r = $t->post($path, tautulli_pause($i), 'Content-Type' => 'application/json');
    is($r->{status}, 200, "event $i accepted");
}
$t->post($path, tautulli_pause(3), 'Content-Type' => 'application/json');

my $m = $t->get('/metrics');
is($m->{status}, 200, 'metrics 200');
like($m->{headers}{'content-type'}, qr{text/plain}, 'metrics are Prometheus text');
like($m->{content}, qr/^watchrelay_events_queued_total\{source="tautulli"\} 3$/m, 'queued counter');
like($m->{content}, qr/^watchrelay_events_duplicate_total\{source="tautulli"\} 1$/m, 'duplicate counter');
like($m->{content}, qr/^watchrelay_requests_total\{source="tautulli",outcome="ok"\} 3$/m, 'requests by outcome');
like($m->{content}, qr/^watchrelay_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m, 'latency histogram');
like($m->{content}, qr/^watchrelay_spool_depth 0$/m, 'spool depth gauge');
like($m->{content}, qr/^watchrelay_redis_up 1$/m, 'redis up gauge');
unlike($m->{content}, qr/^(?!#)(?!watchrelay_)\S/m, 'every metric is named watchrelay_*');

my $st = $t->get('/api/status');
is($st->{status}, 200, 'api/status 200');
my $s = $t->decode($st->{content});
is($s->{redis}{state}, 'up', 'status: redis up');
is($s->{spool}{depth}, 0, 'status: spool empty');
is($s->{events}{queued}, 3, 'status: 3 queued');
unlike($st->{content}, qr/\Q${\ $t->token('plex')}\E/, 'status does not reveal tokens');

# events tail reads the stream.
my $cfg = "$t->{dir}/watchrelay.json";
my @lines = `$bin -c $cfg events tail -n 2`;
is($? >> 8, 0, 'events tail exits 0');
is(scalar @lines, 2, 'events tail -n 2 prints two lines');
my $last = $t->decode($lines[-1]);
is($last->{position_ms}, 1003, 'the last line is the newest event');
is($last->{v}, 1, 'schema version 1');

my $out = `$bin -c $cfg status 2>&1`;
is($? >> 8, 0, 'status exits 0 while the daemon runs') or diag $out;
like($out, qr/"queued"\s*:\s*3/, 'status prints the counts');

# SIGTERM: graceful stop, exit status 0.
my $rc = $t->stop_daemon('TERM');
is($rc >> 8, 0, 'SIGTERM stops the daemon with status 0');
like($t->daemon_log, qr/msg=stopped/, 'and it says so');

# Empty tokens: generated once, saved 0600, printed as URLs, reused.
{
    my $e = WRTest->new;
    $e->start_redis;
    $e->{port} = WRTest::free_port();
    my %src = map { $_ => { token => '' } } qw(plex jellyfin emby tautulli);
    $e->start_daemon(sources => \%src);
    my $stdout;
    $e->wait_for(sub { ($stdout = $e->daemon_stdout) =~ /tautulli/ }, 5);
    my %urls = $stdout =~ m{(\w+)\s+webhook URL: (http://\S+)}g;
    is(scalar keys %urls, 4, 'four webhook URLs printed') or diag $stdout;
    my $tok = "$e->{dir}/state/tokens.json";
    ok(-f $tok, 'tokens saved in the state dir');
    is((stat $tok)[2] & 0777, 0600, 'tokens file is mode 0600');
    my ($ptoken) = $urls{plex} =~ m{/hooks/plex/([0-9a-f]+)$};
    ok(length($ptoken // '') >= 32, 'a long random token');
    my $r = $e->post("/hooks/tautulli/" . ($urls{tautulli} =~ m{/([0-9a-f]+)$})[0],
        tautulli_pause(1), 'Content-Type' => 'application/json');
    is($r->{status}, 200, 'the printed URL works');
    $e->stop_daemon;
    $e->start_daemon(sources => \%src);
    $e->wait_for(sub { ($stdout = $e->daemon_stdout) =~ /tautulli.*\n(?:.|\n)*tautulli/ }, 5);
    my @plex = $stdout =~ m{/hooks/plex/([0-9a-f]+)}g;
    is($plex[-1], $ptoken, 'the saved token is reused after a restart');
}

# The embedded Redis: started with the daemon, AOF on, stopped with it.
{
    my $e = WRTest->new;
    $e->{port} = WRTest::free_port();
    $e->start_daemon(redis => 'embedded');
    ok($e->wait_ready(15), 'ready with the embedded Redis') or diag $e->daemon_log;
    my $r = $e->post($e->hook_path('tautulli'), tautulli_pause(7), 'Content-Type' => 'application/json');
    is($r->{status}, 200, 'event accepted');
    my $sock = "$e->{dir}/state/redis/redis.sock";
    ok(-S $sock, 'embedded Redis listens on a unix socket in the state dir');
    my $cfgp = "$e->{dir}/watchrelay.json";
    my @l = `$bin -c $cfgp events tail`;
    is(scalar @l, 1, 'events tail reads the embedded Redis');
    ok(-d "$e->{dir}/state/redis/appendonlydir" || -f "$e->{dir}/state/redis/appendonly.aof",
        'AOF is on');
    is($e->stop_daemon('TERM') >> 8, 0, 'stops cleanly');
    ok(!IO::Socket::UNIX->new(Peer => $sock), 'the embedded Redis stopped with it');
    # Data persists across restarts.
    $e->start_daemon(redis => 'embedded');
    $e->wait_ready(15);
    @l = `$bin -c $cfgp events tail`;
    is(scalar @l, 1, 'the event is still there after a restart');
    $e->stop_daemon('TERM');
}

done_testing;

# Bad requests get the right status and a clear message, and queue nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use IO::Socket::INET;

my $t = WRTest->new;
$t->start_redis;
$t->start_daemon(limits => { max_body_bytes => 65536, timeout_s => 1 });
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

my $json = '{"event":"media.play"}';
my @cases = (
    [ 'unknown source', 'POST', '/hooks/kodi/x', 404 ],
    [ 'unknown path', 'GET', '/nope', 404 ],
    [ 'GET on a hook', 'GET', $t->hook_path('plex'), 405 ],
    [ 'PUT on a hook', 'PUT', $t->hook_path('jellyfin'), 405 ],
    [ 'DELETE on a hook', 'DELETE', $t->hook_path('emby'), 405 ],
    [ 'missing token', 'POST', '/hooks/plex', 401 ],
    [ 'empty query token', 'POST', '/hooks/plex?token=', 401 ],
    [ 'wrong token', 'POST', '/hooks/plex/wrongtoken', 401 ],
    [ 'wrong token in query', 'POST', '/hooks/jellyfin?token=nope', 401 ],
    [ 'another source token', 'POST', '/hooks/emby/' . $t->token('plex'), 401 ],
    [ 'token prefix', 'POST', '/hooks/tautulli/' . substr($t->token('tautulli'), 0, 5), 401 ],
);
for my $c (@cases) {
    my ($what, $method, $path, $status) = @$c;
    my $r = $t->{http}->request($method, $t->url($path),
        { headers => { 'Content-Type' => 'application/json' }, content => $json });
    is($r->{status}, $status, "$what: $status");
    if ($status != 405 || $method ne 'HEAD') {
        my $b = eval { $t->decode($r->{content}) };
        ok($b && $b->{ok} == 0 && length($b->{error} // ''), "$what: JSON error body")
            or diag $r->{content};
    }
}

# Malformed bodies for every source: 400, nothing queued.
my @bad = (
    [ 'plex', 'not multipart', 'application/json', $json ],
    [ 'plex', 'no payload part', 'multipart/form-data; boundary=XyZ',
      "--XyZ\r\nContent-Disposition: form-data; name=\"thumb\"; filename=\"t.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\r\n--XyZ--\r\n" ],
    [ 'plex', 'bad JSON in payload', 'multipart/form-data; boundary=XyZ',
      "--XyZ\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{\"event\":\r\n--XyZ--\r\n" ],
    [ 'plex', 'boundary never found', 'multipart/form-data; boundary=XyZ', "garbage" ],
    [ 'jellyfin', 'bad JSON', 'text/plain; charset=utf-8', '{"NotificationType":' ],
    [ 'jellyfin', 'not an object', 'text/plain', '[1,2]' ],
    [ 'emby', 'bad JSON', 'application/json', '{oops}' ],
    [ 'tautulli', 'bad JSON', 'application/json', '{"action":"play",,}' ],
);
for my $c (@bad) {
    my ($src, $what, $ct, $body) = @$c;
    my $r = $t->post($t->hook_path($src), $body, 'Content-Type' => $ct);
    is($r->{status}, 400, "$src $what: 400") or diag $r->{content};
    my $b = eval { $t->decode($r->{content}) } || {};
    like($b->{error} // '', qr/\w/, "$src $what: says what is wrong");
}

# Oversized bodies: 413, and the client sees the reply.
{
    my $big = 'x' x (65536 + 10);
    my $r = $t->post($t->hook_path('jellyfin'), $big, 'Content-Type' => 'text/plain');
    is($r->{status}, 413, 'oversized body: 413');
    my $r2 = $t->post($t->hook_path('jellyfin'), 'x' x (1024 * 1024),
        'Content-Type' => 'text/plain');
    is($r2->{status}, 413, 'much larger body: 413');
}

# A slow client cannot hold a connection: it is closed after timeout_s.
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{port}, Proto => 'tcp')
        or die "connect: $!";
    print $s "POST " . $t->hook_path('plex') . " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    my $start = time;
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    my $closed = 0;
    while (time - $start < 6) {
        my $rout = $rin;
        last unless select($rout, undef, undef, 0.2) >= 0;
        if (vec($rout, fileno($s), 1)) {
            my $n = sysread($s, my $buf, 4096);
            if (!$n) { $closed = 1; last }
        }
    }
    ok($closed, 'a stalled upload is cut off by the read timeout');
    cmp_ok(time - $start, '<', 5, 'within a few seconds');
}

is($t->stream_len, 0, 'nothing was queued by any bad request');

# The daemon is still healthy after all of that.
is($t->get('/healthz')->{status}, 200, 'healthz still 200');
my $m = $t->get('/metrics')->{content};
like($m, qr/watchrelay_requests_total\{source="plex",outcome="unauthorized"\} [1-9]/,
    'metrics count unauthorized requests');
like($m, qr/watchrelay_requests_total\{source="jellyfin",outcome="bad_request"\} [1-9]/,
    'metrics count bad requests');
unlike($t->daemon_log, qr/\Q${\ $t->token('plex')}\E/, 'tokens never appear in the log');

done_testing;

# Delivery benchmarks (run by tests/bench/delivery.sh from `make bench`).
#
# 1. Latency: after 20 warmup plays are delivered, Plex media.play webhooks
#    for distinct movies at 200 events/s for 10 s; each becomes a /scrobble/start at the fake Trakt (its rate
#    limit off, and watchrelay's pacing for it off). Latency = the fake's
#    arrival time minus the webhook's send time, both wall clock on this
#    machine. Prints p50/p99 (target p99 < 20 ms).
# 2. Backlog drain: 10,000 mark-played webhooks for distinct movies queued
#    by an ingest-only daemon, then a dispatch daemon drains them to the fake
#    Trakt at its real limit (1 write/s). Prints the drain time (target
#    < 120 s), events/s, the ratio to the best possible (1 request/s x batch
#    of 100 = 100 events/s), and the shortest gap between two writes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../integration/lib";
use WRTest;
use HTTP::Tiny;
use POSIX qw(floor);
use Time::HiRes qw(sleep time);

$| = 1;
my $N_LAT = $ENV{BENCH_LAT_EVENTS} // 2000;
my $RATE = $ENV{BENCH_LAT_RATE} // 200;
my $N_DRAIN = $ENV{BENCH_DRAIN_EVENTS} // 10000;

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return 0 unless @v;
    my $i = floor($p / 100 * $#v + 0.5);
    return $v[$i];
}

# A keep-alive HTTP/1.1 client that writes each request in one write with
# TCP_NODELAY (HTTP::Tiny writes headers and body apart, and Nagle plus
# delayed ACKs would add 40 ms to every request).
package RawClient {
    use IO::Socket::INET;
    use Socket qw(IPPROTO_TCP TCP_NODELAY);

    sub new {
        my ($class, $port) = @_;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
            or die "connect: $!";
        setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
        return bless { s => $s, port => $port }, $class;
    }

    sub post {
        my ($self, $path, $ct, $body) = @_;
        my $req = "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: $ct\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
        syswrite($self->{s}, $req) == length($req) or die "write: $!";
        my $buf = '';
        while ($buf !~ /\r\n\r\n/) {
            sysread($self->{s}, $buf, 65536, length $buf) or die "read: $!";
        }
        my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
        my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
        my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
        $len //= 0;
        while (length($rest) < $len) {
            sysread($self->{s}, $rest, 65536, length $rest) or die "read: $!";
        }
        return $status;
    }
}

sub plex_play {
    my ($i) = @_;
    my $b = '------------------------d74496d66958873e';
    my $json = sprintf('{"event":"media.play","user":true,"owner":true,'
        . '"Account":{"id":48213377,"title":"dana"},'
        . '"Server":{"title":"nas","uuid":"9b2e6f3c1d0a47e88c5b7a21f4d39e6c0b8a1f72"},'
        . '"Player":{"local":true,"title":"TV","uuid":"player-1"},'
        . '"Metadata":{"librarySectionType":"movie","ratingKey":"%d","type":"movie",'
        . '"title":"Movie %d","year":2016,"viewOffset":60000,"duration":6960000,'
        . '"Guid":[{"id":"tmdb://%d"}]}}', 500000 + $i, $i, 10000000 + $i);
    return ("multipart/form-data; boundary=$b",
        "--$b\r\nContent-Disposition: form-data; name=\"payload\"\r\n"
        . "Content-Type: application/json\r\n\r\n$json\r\n--$b--\r\n");
}

sub markplayed {
    my ($i) = @_;
    my $tmdb = 10000000 + $i;
    return sprintf('{"Title":"x","Date":"2025-03-02T21:06:00.0000000Z","Event":"item.markplayed",'
        . '"User":{"Name":"dana","Id":"e6a9dd89fd954d689870e7e0e3e72947"},'
        . '"Item":{"Name":"Movie %d","Id":"%d","Type":"Movie","ProductionYear":2016,'
        . '"ProviderIds":{"Tmdb":"%d"}},'
        . '"Server":{"Name":"emby-nas","Id":"f40a5bd0c6b64051bdbed00580fa1118","Version":"4.8.10.0"}}',
        $i, $tmdb, $tmdb);
}

# ---- 1. latency ----------------------------------------------------------
{
    my $t = WRTest->new;
    $t->start_redis(aof => 1);
    $t->start_fake('--no-rate-limit');
    $t->fake('POST', '/_fake/catalog', { generate => { movies => $N_LAT + 30, tmdb_start => 10000000 } });
    my $trakt = $t->trakt_provider;
    $trakt->{write_interval_ms} = 0;
    $t->start_daemon(log_level => 'warn', providers => { trakt => $trakt },
        routes => [ { from => ['plex'], to => ['trakt'], kinds => ['scrobble'] } ]);
    $t->wait_ready or die "daemon not ready\n" . $t->daemon_log;
    my $h = RawClient->new($t->{port});
    # Warm up: a few plays (not measured) until they are delivered, so the
    # figures are the steady state, not the consumers' first connections.
    for my $i ($N_LAT + 1 .. $N_LAT + 20) {
        my ($ct, $body) = plex_play($i);
        $h->post($t->hook_path('plex'), $ct, $body) == 200 or die "warmup webhook\n";
    }
    $t->wait_delivered(30) or die "warmup not delivered\n" . $t->daemon_log;
    my %sent;
    my $t0 = time;
    for my $i (1 .. $N_LAT) {
        my $due = $t0 + ($i - 1) / $RATE;
        my $now = time;
        sleep($due - $now) if $due > $now;
        my ($ct, $body) = plex_play($i);
        $sent{ 10000000 + $i } = time * 1000;
        my $st = $h->post($t->hook_path('plex'), $ct, $body);
        die "webhook $i: $st\n" unless $st == 200;
    }
    my $elapsed = time - $t0;
    $t->wait_delivered(60);
    my @lat;
    for my $q (@{ $t->fake('GET', '/_fake/requests?provider=trakt') }) {
        next unless $q->{path} =~ m{/scrobble/start$} && $q->{status} == 201;
        my ($id) = ($q->{body_raw} // '') =~ /"tmdb":(\d+)/ or next;
        push @lat, $q->{wall_ms} - $sent{$id} if $sent{$id};
    }
    printf "delivery.latency events=%d delivered=%d rate=%.0f/s p50_ms=%.2f p99_ms=%.2f max_ms=%.2f (target p99 < 20)\n",
        $N_LAT, scalar @lat, $N_LAT / $elapsed, pct(50, @lat), pct(99, @lat), pct(100, @lat);
    $t->stop_daemon;
    $t->cleanup;
}

# ---- 2. backlog drain ----------------------------------------------------
{
    my $t = WRTest->new;
    $t->start_redis(aof => 1);
    $t->start_fake;
    $t->fake('POST', '/_fake/catalog', { generate => { movies => $N_DRAIN + 10, tmdb_start => 10000000 } });
    my %cfg = (log_level => 'warn', providers => { trakt => $t->trakt_provider },
        routes => [ { from => ['emby'], to => ['trakt'], kinds => ['history'] } ]);
    $t->{serve_args} = [ '--roles', 'ingest' ];
    $t->start_daemon(%cfg);
    $t->wait_ready or die "daemon not ready\n";
    my $h = RawClient->new($t->{port});
    for my $i (1 .. $N_DRAIN) {
        my $st = $h->post($t->hook_path('emby'), 'application/json', markplayed($i));
        die "webhook $i: $st\n" unless $st == 200;
    }
    $t->stop_daemon;
    $t->fake('POST', '/_fake/requests/clear', {});
    $t->{serve_args} = [];
    my $t0 = time;
    $t->start_daemon(%cfg);
    $t->wait_delivered(600) or die "backlog not drained\n" . $t->daemon_log;
    my $secs = time - $t0;
    my @w = grep { $_->{write} } @{ $t->fake('GET', '/_fake/requests?provider=trakt&bodies=0') };
    my $min = 1e9;
    for my $i (1 .. $#w) {
        my $d = $w[$i]{t_ms} - $w[ $i - 1 ]{t_ms};
        $min = $d if $d < $min;
    }
    my %plays;
    $plays{ $_->{movie}{ids}{tmdb} // 0 }++ for @{ $t->fake('GET', '/_fake/state')->{trakt}{history} };
    my $delivered = grep { $plays{ 10000000 + $_ } } 1 .. $N_DRAIN;
    my $best = 100;    # 1 request/s x 100 items per request
    printf "delivery.drain events=%d delivered=%d seconds=%.1f events_per_s=%.1f ratio_to_best=%.2f requests=%d min_gap_ms=%d 429s=%d (target < 120 s, gap >= 1000)\n",
        $N_DRAIN, $delivered, $secs, $N_DRAIN / $secs, ($N_DRAIN / $secs) / $best, scalar @w,
        $min, scalar(grep { $_->{status} == 429 } @w);
    $t->stop_daemon;
}

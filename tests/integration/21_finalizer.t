# SYNC.md 3.4: a play that reached the threshold but never sent a usable
# stop is completed by the finalizer once its session has been idle long
# enough (here 2 s), at the time it reached its highest progress; one
# below the threshold is closed silently.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use Time::HiRes qw(sleep time);

my $t = WRTest->new;
$t->start_redis;
$t->start_daemon(
    providers => { local => { dir => "$t->{dir}/state/local" } },
    routes => [ { from => ['plex'], to => ['local'], kinds => ['scrobble'] } ],
    scrobble => { finalize_idle_s => 2 },
);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

sub plex {
    my ($event, $tmdb, $offset, $player) = @_;
    my $b = '------------------------d74496d66958873e';
    my $json = sprintf('{"event":"%s","user":true,"owner":true,'
        . '"Account":{"id":48213377,"title":"dana"},'
        . '"Server":{"title":"nas","uuid":"9b2e6f3c1d0a47e88c5b7a21f4d39e6c0b8a1f72"},'
        . '"Player":{"local":true,"title":"TV","uuid":"%s"},'
        . '"Metadata":{"librarySectionType":"movie","ratingKey":"%d","type":"movie",'
        . '"title":"Movie %d","year":2016,"viewOffset":%d,"duration":6000000,'
        . '"Guid":[{"id":"tmdb://%d"}]}}', $event, $player, $tmdb, $tmdb, $offset, $tmdb);
    my $r = $t->post($t->hook_path('plex'),
        "--$b\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n$json\r\n--$b--\r\n",
        'Content-Type' => "multipart/form-data; boundary=$b");
    return $r->{status};
}

sub plays { my ($tmdb) = @_; grep { $_->{key} eq "movie:tmdb:$tmdb" } $t->local_items('history') }

# Played to 95 %, paused, and never stopped (the client died).
is(plex('media.play', 111, 3000000, 'p1'), 200, 'play');
is(plex('media.pause', 111, 5700000, 'p1'), 200, 'pause at 95 %');
my $paused_at = time;
# Played to 40 % and abandoned.
is(plex('media.play', 222, 600000, 'p2'), 200, 'play');
is(plex('media.pause', 222, 2400000, 'p2'), 200, 'pause at 40 %');

ok($t->wait_for(sub { scalar plays(111) == 1 }, 15), 'the play that reached 95 % was completed')
    or diag $t->daemon_full_log;
my ($p) = plays(111);
my ($y, $mo, $d, $h, $mi, $s) = $p->{watched_at} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/;
my $w = POSIX::mktime($s, $mi, $h, $d, $mo - 1, $y - 1900) - (POSIX::mktime(gmtime 0));
cmp_ok(abs($w - $paused_at), '<=', 2, 'at the time it reached its highest progress');
sleep 3;
ok($t->wait_delivered(10), 'settled');
is(scalar plays(222), 0, 'the abandoned play at 40 % was not counted');
is(scalar plays(111), 1, 'and the finalized one only once');
is($t->redis('ZCARD', 'wr:sessions'), 0, 'both sessions were closed');
done_testing;

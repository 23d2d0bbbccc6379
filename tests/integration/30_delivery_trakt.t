# Delivery to Trakt through the fake provider server: one watch per real
# watch, pauses keep their progress, ratings, mark-played, 429 and 5xx
# handling, dead letters and replay, token refresh, the 1 write/s limit.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use Time::HiRes qw(sleep time);

my $t = WRTest->new;
$t->start_redis;
$t->start_fake;
$t->start_daemon(
    providers => { trakt => $t->trakt_provider },
    routes => [ { from => [qw(plex jellyfin emby tautulli)], to => ['trakt'],
                  kinds => [qw(scrobble history rating watchlist)] } ],
);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

sub state { $t->fake('GET', '/_fake/state')->{trakt} }

sub plays_of {
    my ($kind, $idname, $id) = @_;
    return grep { ($_->{$kind}{ids}{$idname} // '') eq $id } @{ state()->{history} };
}

sub writes {
    return grep { $_->{write} && $_->{provider} eq 'trakt' }
        @{ $t->fake('GET', '/_fake/requests?provider=trakt&bodies=0') };
}

# 1. A Plex session makes exactly one watch and keeps the pause's progress.
for my $f (qw(episode_play episode_pause episode_resume episode_scrobble_a1_1 episode_stop_no_viewoffset)) {
    is($t->send_fixture('plex', $f)->{status}, 200, "plex $f");
}
ok($t->wait_delivered(30), 'session delivered') or diag $t->daemon_log;
my @p = plays_of('episode', 'tmdb', 1960512);
is(scalar @p, 1, 'one watch for the Plex session');
my @sc = @{ state()->{scrobbles} };
my ($pause) = grep { $_->{endpoint} =~ /pause/ } @sc;
ok($pause, 'the pause reached Trakt as /scrobble/pause') or diag explain \@sc;
cmp_ok(abs(($pause->{progress} // 0) - 1520000 / 3378000 * 100), '<', 0.5,
    'with the progress the pause had') if $pause;
is(scalar(grep { $_->{endpoint} =~ /stop/ } @sc), 1, 'one /scrobble/stop');

# 2. Emby mark-played becomes a history add with Emby's date.
is($t->send_fixture('emby', 'episode_markplayed_multipart_a3_2')->{status}, 200, 'emby markplayed');
ok($t->wait_delivered(30), 'delivered');
my @e = plays_of('episode', 'tvdb', 8603573);
is(scalar @e, 2, 'the mark-played is a second play of that episode');
ok((grep { $_->{watched_at} =~ /^2025-03-02T21:06:00/ } @e), 'at the date Emby gave');

# 3. A Plex rating becomes a Trakt rating (7.5 stars -> 8).
is($t->send_fixture('plex', 'movie_rate_half_star')->{status}, 200, 'plex rate');
ok($t->wait_delivered(30), 'delivered');
my $ratings = state()->{ratings};
my @r = values %$ratings;
is(scalar @r, 1, 'one rating on Trakt') or diag explain $ratings;
like($r[0]{rating} // '', qr/^\d+$/, 'an integer rating');

# 4. Writes never exceed 1/s.
{
    my @w = writes();
    my $min = 1e9;
    for my $i (1 .. $#w) {
        my $d = $w[$i]{t_ms} - $w[ $i - 1 ]{t_ms};
        $min = $d if $d < $min;
    }
    cmp_ok(scalar @w, '>=', 3, 'several writes were made');
    cmp_ok($min, '>=', 1000, 'never two writes within a second');
    is(scalar(grep { $_->{status} == 429 } @w), 0, 'and so never a 429');
}

sub markplayed {
    my ($tmdb, $title) = @_;
    return sprintf('{"Title":"x","Date":"2025-03-02T21:06:00.0000000Z","Event":"item.markplayed",'
        . '"User":{"Name":"dana","Id":"e6a9dd89fd954d689870e7e0e3e72947"},'
        . '"Item":{"Name":"%s","Id":"%d","Type":"Movie","ProductionYear":2016,'
        . '"ProviderIds":{"Tmdb":"%d"}},'
        . '"Server":{"Name":"emby-nas","Id":"f40a5bd0c6b64051bdbed00580fa1118","Version":"4.8.10.0"}}',
        $title, $tmdb, $tmdb);
}

# 5. A 429 with Retry-After is honoured; a 5xx is retried.
{
    $t->fake('POST', '/_fake/requests/clear', {});
    $t->fake('POST', '/_fake/faults',
        [ { provider => 'trakt', method => 'POST', path => '/sync/history', status => 429,
            retry_after => 3, count => 1 },
          { provider => 'trakt', method => 'POST', path => '/sync/history', status => 503,
            count => 1 } ]);
    is($t->post($t->hook_path('emby'), markplayed(329865, 'Arrival'),
        'Content-Type' => 'application/json')->{status}, 200, 'mark-played accepted');
    ok($t->wait_for(sub { scalar plays_of('movie', 'tmdb', 329865) >= 1 }, 40),
        'applied after a 429 and a 503') or diag $t->daemon_log;
    my @w = grep { $_->{path} =~ m{/sync/history$} && $_->{method} eq 'POST' }
        @{ $t->fake('GET', '/_fake/requests?provider=trakt&bodies=0') };
    is($w[0]{status}, 429, 'first try: 429');
    cmp_ok($w[1]{t_ms} - $w[0]{t_ms}, '>=', 3000, 'the next try waited for Retry-After');
    is($w[1]{status}, 503, 'second try: 503');
    is($w[-1]{status}, 201, 'then it went through');
    ok($t->wait_delivered(10), 'settled');
    is(scalar plays_of('movie', 'tmdb', 329865), 1, 'exactly one play despite the retries');
}

# 6. An item Trakt does not know is dead-lettered; `dlq replay` resends it
#    once the fake knows it.
{
    my $unknown = 987654321;
    is($t->post($t->hook_path('emby'), markplayed($unknown, 'Obscure Film'),
        'Content-Type' => 'application/json')->{status}, 200, 'unknown item accepted');
    ok($t->wait_for(sub { $t->redis('XLEN', 'wr:dead') >= 1 }, 20), 'dead-lettered')
        or diag $t->daemon_log;
    my $cfg = "$t->{dir}/watchrelay.json";
    my $bin = WRTest::bin();
    my $list = `$bin -c $cfg dlq list 2>&1`;
    like($list, qr/not_found/, 'dlq list shows the reason');
    like($list, qr/movie:tmdb:$unknown/, 'and the item');
    my ($id) = $list =~ /^(\d+-\d+)/m;
    my $show = `$bin -c $cfg dlq show $id 2>&1`;
    like($show, qr/attempts/, 'dlq show prints the dead letter');
    $t->fake('POST', '/_fake/catalog',
        { movies => [ { title => 'Obscure Film', year => 2016, ids => { tmdb => $unknown } } ] });
    my $out = `$bin -c $cfg dlq replay $id 2>&1`;
    is($? >> 8, 0, 'dlq replay exits 0') or diag $out;
    ok($t->wait_for(sub { scalar plays_of('movie', 'tmdb', $unknown) == 1 }, 20),
        'the replayed operation reached Trakt');
    is($t->redis('XLEN', 'wr:dead'), 0, 'and left the dead letters');
}

# 7. An expired token is refreshed (once, stored durably) and the write goes
#    through.
{
    $t->fake('POST', '/_fake/expire-token', { provider => 'trakt' });
    is($t->post($t->hook_path('emby'), markplayed(603, 'The Matrix'),
        'Content-Type' => 'application/json')->{status}, 200, 'accepted');
    ok($t->wait_for(sub { scalar plays_of('movie', 'tmdb', 603) == 1 }, 30),
        'applied after a token refresh') or diag $t->daemon_log;
    my $tok = state()->{tokens};
    isnt($tok->{refresh_token}, 'fake-trakt-refresh-token', 'the refresh token was rotated');
    my $saved = "$t->{dir}/state/auth/trakt.json";
    ok(-f $saved, 'new tokens saved in the state dir');
    is((stat $saved)[2] & 0777, 0600, 'mode 0600');
    open my $fh, '<', $saved;
    local $/;
    my $j = $t->decode(<$fh>);
    is($j->{refresh_token}, $tok->{refresh_token}, 'the saved refresh token is the current one');
    unlike($t->daemon_log, qr/\Q$tok->{access_token}\E/, 'tokens never logged');
}

# 8. Per-item order survives a retry: a rating that fails and waits for its
#    retry holds the item, and a later rating of the same movie waits
#    behind it, so the newer value is the one that stays.
sub plex_rate {
    my ($rating, $at) = @_;
    my $b = '------------------------d74496d66958873e';
    my $json = sprintf('{"rating":%s,"event":"media.rate","user":true,"owner":true,'
        . '"Account":{"id":48213377,"title":"dana"},'
        . '"Server":{"title":"nas","uuid":"9b2e6f3c1d0a47e88c5b7a21f4d39e6c0b8a1f72"},'
        . '"Player":{"local":true,"title":"TV","uuid":"p1"},'
        . '"Metadata":{"librarySectionType":"movie","ratingKey":"777","type":"movie",'
        . '"title":"The Matrix","year":1999,"userRating":%s,"lastRatedAt":%d,'
        . '"Guid":[{"id":"tmdb://603"}]}}', $rating, $rating, $at);
    return $t->post($t->hook_path('plex'),
        "--$b\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n$json\r\n--$b--\r\n",
        'Content-Type' => "multipart/form-data; boundary=$b");
}
{
    $t->fake('POST', '/_fake/faults',
        { provider => 'trakt', method => 'POST', path => '/sync/ratings', status => 503, count => 1 });
    is(plex_rate(6, time - 5)->{status}, 200, 'first rating (6) accepted');
    ok($t->wait_for(sub { ($t->redis('ZCARD', 'wr:retry:trakt') // 0) == 1 }, 20),
        'it failed once and waits for its retry');
    is(plex_rate(10, time)->{status}, 200, 'second rating (10) accepted');
    ok($t->wait_delivered(40), 'both settled') or diag $t->daemon_log;
    my ($r) = grep { ($_->{movie}{ids}{tmdb} // 0) == 603 } values %{ state()->{ratings} };
    is($r->{rating}, 10, 'the later rating is the one Trakt keeps') or diag explain state()->{ratings};
    cmp_ok($t->status->{targets}{trakt}{waited}, '>=', 1, 'the later one waited behind the retry');
}

my $s = $t->status;
is($s->{targets}{trakt}{health}, 'ok', 'status: trakt healthy');
is($t->stop_daemon('TERM') >> 8, 0, 'stops cleanly');

done_testing;

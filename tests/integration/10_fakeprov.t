# The fake provider server (tests/fakes/fakeprov): required headers, Trakt
# scrobble semantics (201/409/422/404), history add and read-back with
# pagination, single-use refresh tokens, the device and PIN flows, the write
# rate limits, fault injection (status, drop, delay, accepted-but-lost
# writes) and catalog extension. Other tests and the benchmarks rely on
# these behaviours, so each is pinned here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Select;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use WRTest;

my $build = $ENV{WR_BUILD} || 'build';
my $bin = WRTest::root() . "/$build/tests/fakes/fakeprov";
BAIL_OUT("no fake provider at $bin (run make)") unless -x $bin;

my $J = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0,
                           agent => 'watchrelay-test/1.0');
my @FAKES;

END {
    my $rc = $?;
    for my $f (@FAKES) {
        kill 'TERM', $f->{pid};
        my $deadline = time + 5;
        while (time < $deadline) {
            last if waitpid($f->{pid}, WNOHANG) == $f->{pid};
            sleep 0.02;
        }
        kill 'KILL', $f->{pid};
        waitpid($f->{pid}, 0);
    }
    $? = $rc;
}

sub start_fake {
    my (@args) = @_;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $rd;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $wr or POSIX::_exit(126);
        exec $bin, '--port', '0', @args or POSIX::_exit(127);
    }
    close $wr;
    my $f = { pid => $pid };
    push @FAKES, $f;
    my $sel = IO::Select->new($rd);
    BAIL_OUT('fakeprov did not start') unless $sel->can_read(10);
    my $line = <$rd> // '';
    BAIL_OUT("fakeprov said '$line'") unless $line =~ /^ready port=(\d+)$/;
    $f->{port} = $1;
    $f->{out} = $rd;
    return $f;
}

sub req {
    my ($f, $method, $path, %o) = @_;
    my %h = map { defined $o{headers}{$_} ? ($_ => $o{headers}{$_}) : () }
        keys %{ $o{headers} // {} };
    my $body = ref $o{body} ? $J->encode($o{body}) : $o{body};
    my $client = $o{client} // $http;
    my $res = $client->request($method, "http://127.0.0.1:$f->{port}$path",
        { headers => \%h, defined $body ? (content => $body) : () });
    if (length($res->{content} // '') && ($res->{headers}{'content-type'} // '') =~ m{json}) {
        $res->{json} = eval { $J->decode($res->{content}) };
    }
    return $res;
}

my %TH = ('Content-Type' => 'application/json', 'trakt-api-version' => '2',
          'trakt-api-key' => 'fake-client-id',
          'Authorization' => 'Bearer fake-trakt-access-token');
my %SH = ('Content-Type' => 'application/json', 'simkl-api-key' => 'fake-client-id',
          'Authorization' => 'Bearer fake-simkl-token');

sub trakt {
    my ($f, $method, $path, $body, %hx) = @_;
    return req($f, $method, "/trakt$path", headers => { %TH, %hx }, body => $body);
}

sub simkl {
    my ($f, $method, $path, $body, %hx) = @_;
    return req($f, $method, "/simkl$path", headers => { %SH, %hx }, body => $body);
}

sub ctl {
    my ($f, $method, $what, $body) = @_;
    my $r = req($f, $method, "/_fake/$what", body => $body,
                headers => { 'Content-Type' => 'application/json' });
    die "control $what: $r->{status} $r->{content}" unless $r->{status} == 200;
    return $r->{json};
}

my $arrival = { ids => { tmdb => 329865 } };
my $inception = { ids => { imdb => 'tt1375666' } };
my $unknown = { ids => { imdb => 'tt0000001' } };

my $f = start_fake('--no-rate-limit', '--device-interval-s', '1',
                   '--pin-interval-s', '1');

# --- required headers -----------------------------------------------------
{
    my $r = trakt($f, 'GET', '/sync/last_activities');
    is($r->{status}, 200, 'all headers: 200');
    ok($r->{json}{movies}{watched_at}, 'last_activities has movies.watched_at');
    like($r->{json}{all}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'Trakt times carry ms + Z');

    is(trakt($f, 'GET', '/sync/last_activities', undef, 'Content-Type' => undef)->{status},
       412, 'no Content-Type: 412');
    is(trakt($f, 'POST', '/sync/history', { movies => [$arrival] },
             'Content-Type' => 'text/plain')->{status}, 412, 'text/plain body: 412');
    is(trakt($f, 'GET', '/sync/last_activities', undef,
             'trakt-api-key' => 'someone-else')->{status}, 403, 'wrong trakt-api-key: 403');
    is(trakt($f, 'GET', '/sync/last_activities', undef,
             'trakt-api-version' => undef)->{status}, 403, 'no trakt-api-version: 403');
    my $no_ua = HTTP::Tiny->new(timeout => 10, keep_alive => 0, agent => '');
    $r = req($f, 'GET', '/trakt/sync/last_activities', headers => {%TH}, client => $no_ua);
    is($r->{status}, 403, 'no User-Agent: 403 (Cloudflare)');
    $r = trakt($f, 'GET', '/sync/last_activities', undef, Authorization => undef);
    is($r->{status}, 401, 'no token: 401');
    $r = trakt($f, 'GET', '/sync/last_activities', undef, Authorization => 'Bearer nope');
    is($r->{status}, 401, 'wrong token: 401');
    like($r->{headers}{'www-authenticate'} // '', qr/invalid_token/, '401 says invalid_token');
    is(trakt($f, 'POST', '/sync/history', '{"movies":[')->{status}, 400, 'broken JSON: 400');
    is(trakt($f, 'GET', '/sync/nothing')->{status}, 404, 'unknown path: 404');
    is(trakt($f, 'PUT', '/sync/history', {})->{status}, 405, 'wrong method: 405');

    $r = simkl($f, 'GET', '/sync/activities');
    is($r->{status}, 200, 'SIMKL with simkl-api-key: 200');
    like($r->{json}{all}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'SIMKL times have no ms');
    $r = req($f, 'GET', '/simkl/sync/activities?client_id=fake-client-id&app-name=wr&app-version=1',
             headers => { Authorization => 'Bearer fake-simkl-token' });
    is($r->{status}, 200, 'SIMKL with the client_id query parameter: 200');
    $r = simkl($f, 'GET', '/sync/activities', undef, 'simkl-api-key' => undef);
    is($r->{status}, 412, 'SIMKL without a client id: 412');
    is($r->{json}{error}, 'client_id_failed', '... client_id_failed');
    is(simkl($f, 'GET', '/sync/activities', undef, 'simkl-api-key' => 'x')->{status}, 412,
       'SIMKL wrong client id: 412');
    is(simkl($f, 'GET', '/sync/activities', undef, Authorization => 'Bearer x')->{status}, 401,
       'SIMKL wrong token: 401');
}

# --- Trakt scrobble -------------------------------------------------------
{
    my $r = trakt($f, 'POST', '/scrobble/start', { movie => $arrival, progress => 1.25 });
    is($r->{status}, 201, 'scrobble start: 201');
    is($r->{json}{action}, 'start', '... action start');
    is($r->{json}{movie}{ids}{trakt}, 203537, '... answers with the full movie');
    is($r->{json}{movie}{ids}{imdb}, 'tt2543164', '... including imdb');

    $r = trakt($f, 'POST', '/scrobble/pause', { movie => $arrival, progress => 40 });
    is($r->{json}{action}, 'pause', 'pause: action pause');
    $r = trakt($f, 'GET', '/sync/playback/movies');
    is($r->{status}, 200, 'playback read');
    is(scalar @{ $r->{json} }, 1, 'the pause is saved as playback');
    is($r->{json}[0]{progress}, 40, '... with its progress');

    $r = trakt($f, 'POST', '/scrobble/stop', { movie => $arrival, progress => 50 });
    is($r->{status}, 201, 'stop at 50 %: 201');
    is($r->{json}{action}, 'pause', '... but only a pause');
    is(trakt($f, 'POST', '/scrobble/stop', { movie => $arrival, progress => 0.5 })->{status},
       422, 'stop below 1 %: 422');
    is(trakt($f, 'POST', '/scrobble/stop', { movie => $arrival })->{status},
       422, 'stop without progress: 422');

    $r = trakt($f, 'POST', '/scrobble/stop', { movie => $arrival, progress => 90 });
    is($r->{status}, 201, 'stop at 90 %: 201');
    is($r->{json}{action}, 'scrobble', '... action scrobble');
    ok($r->{json}{id} > 0, '... with a history id');
    my $dup = trakt($f, 'POST', '/scrobble/stop', { movie => $arrival, progress => 95 });
    is($dup->{status}, 409, 'the same item again within the hour: 409');
    ok($dup->{json}{watched_at} && $dup->{json}{expires_at}, '409 has watched_at and expires_at');
    my ($w) = $dup->{json}{watched_at} =~ /T(\d\d):/;
    my ($e) = $dup->{json}{expires_at} =~ /T(\d\d):/;
    is(($w + 1) % 24, $e + 0, 'expires_at is an hour after watched_at');

    is(trakt($f, 'POST', '/scrobble/stop', { movie => $unknown, progress => 90 })->{status},
       404, 'unknown item: 404');
    is(trakt($f, 'POST', '/scrobble/stop', { movie => { ids => { tmdb => '329865' } },
                                              progress => 90 })->{status},
       422, 'a Trakt id of the wrong JSON type: 422');
    is(trakt($f, 'POST', '/scrobble/stop', { progress => 90 })->{status}, 422, 'no item: 422');

    $r = trakt($f, 'POST', '/scrobble/stop', { show => { ids => { tvdb => 371980 } },
                                               episode => { season => 1, number => 1 },
                                               progress => 97.3 });
    is($r->{status}, 201, 'show + episode scrobble: 201');
    is($r->{json}{episode}{ids}{tvdb}, 8603573, '... resolved to the episode');
    is($r->{json}{show}{ids}{tmdb}, 95396, '... with its show');
    $r = trakt($f, 'POST', '/scrobble/start', { episode => { ids => { trakt => 4216392 } },
                                                progress => 12 });
    is($r->{status}, 201, 'episode-by-ids scrobble: 201');
    is($r->{json}{episode}{number}, 2, '... S01E02');

    ctl($f, 'POST', 'clock', { advance_s => 3601 });
    $r = trakt($f, 'POST', '/scrobble/stop', { movie => $arrival, progress => 96 });
    is($r->{status}, 201, 'an hour later the item scrobbles again');

    my $st = ctl($f, 'GET', 'state');
    my @acts = map { "$_->{endpoint}:$_->{action}:$_->{status}" } @{ $st->{trakt}{scrobbles} };
    is($acts[0], 'start:start:201', 'state logs scrobbles with action and status');
    ok((grep { $_ eq 'stop:scrobble:409' } @acts), 'the 409 is logged too');
    my @plays = grep { $_->{action} eq 'scrobble' } @{ $st->{trakt}{history} };
    is(scalar @plays, 3, 'three completed scrobbles became plays');
    is($plays[0]{movie}{title}, 'Arrival', 'state history shows the movie');
    ok(!@{ $st->{trakt}{playback} } || !grep({ ($_->{movie}{title} // '') eq 'Arrival' }
                                             @{ $st->{trakt}{playback} }),
       'a completed scrobble clears the playback');
}

# --- history add / read back ----------------------------------------------
{
    ctl($f, 'POST', 'reset', {});
    ctl($f, 'POST', 'config', { rate_limit => JSON::PP::false });
    my $body = {
        movies => [ { %$inception, watched_at => '2025-03-02T20:47:10.000Z' }, $unknown ],
        shows  => [ { ids => { tvdb => 371980 },
                      seasons => [ { number => 1, episodes => [
                          { number => 1, watched_at => '2025-03-02T21:05:31.000Z' },
                          { number => 2, watched_at => '2025-03-03T21:05:31.000Z' } ] } ] } ],
    };
    my $r = trakt($f, 'POST', '/sync/history', $body);
    is($r->{status}, 201, 'history add: 201');
    is_deeply($r->{json}{added}, { movies => 1, episodes => 2 }, 'added counts movies and episodes');
    is_deeply($r->{json}{not_found}{movies}, [$unknown], 'the unknown movie is echoed in not_found');
    is_deeply([ sort keys %{ $r->{json}{not_found} } ],
              [qw(episodes ids movies seasons shows)], 'not_found has all five keys');
    $r = trakt($f, 'POST', '/sync/history', { movies => [ { %$inception,
                                                           watched_at => '2025-03-02T20:47:10.000Z' } ] });
    is($r->{json}{added}{movies}, 1, 'the same play again is added again (no dedupe)');

    $r = trakt($f, 'GET', '/sync/history/movies');
    is(scalar @{ $r->{json} }, 2, 'two plays of Inception read back');
    is($r->{json}[0]{watched_at}, '2025-03-02T20:47:10.000Z', 'watched_at kept');
    is($r->{json}[0]{movie}{ids}{tmdb}, 27205, 'the row carries the movie ids');
    is($r->{json}[0]{action}, 'watch', 'history adds are action "watch"');

    $r = trakt($f, 'GET', '/sync/history?limit=3&page=1');
    is($r->{headers}{'x-pagination-item-count'}, 4, 'X-Pagination-Item-Count');
    is($r->{headers}{'x-pagination-page-count'}, 2, 'X-Pagination-Page-Count');
    is($r->{headers}{'x-pagination-limit'}, 3, 'X-Pagination-Limit');
    is(scalar @{ $r->{json} }, 3, 'page 1 holds 3 rows');
    is($r->{json}[0]{episode}{number}, 2, 'newest first');
    $r = trakt($f, 'GET', '/sync/history');
    is($r->{headers}{'x-pagination-limit'}, 10, 'history is paginated by default (10)');
    $r = trakt($f, 'GET', '/sync/history/episodes?start_at=2025-03-03T00:00:00.000Z');
    is(scalar @{ $r->{json} }, 1, 'start_at filters by watched_at');
    is(trakt($f, 'GET', '/sync/history?start_at=yesterday')->{status}, 400, 'bad start_at: 400');

    my $id = $r->{json}[0]{id};
    $r = trakt($f, 'POST', '/sync/history/remove', { ids => [ $id, 42 ] });
    is($r->{status}, 200, 'remove by history ids: 200');
    is($r->{json}{deleted}{episodes}, 1, '... one episode play deleted');
    is_deeply($r->{json}{not_found}{ids}, [42], '... and the unknown id is not_found');
    $r = trakt($f, 'POST', '/sync/history/remove', { movies => [$inception] });
    is($r->{json}{deleted}{movies}, 2, 'removing a movie deletes all its plays');
    is(trakt($f, 'POST', '/sync/history', { movies => [ { %$inception, watched_at => 'soon' } ] })->{status},
       422, 'a bad watched_at: 422');
    is(scalar @{ trakt($f, 'GET', '/sync/history/movies')->{json} }, 0,
       'and a rejected request changes nothing');
}

# --- ratings and watchlist --------------------------------------------------
{
    is(trakt($f, 'POST', '/sync/ratings', { movies => [ { %$arrival, rating => 11 } ] })->{status},
       422, 'rating 11: 422');
    is(trakt($f, 'POST', '/sync/ratings', { movies => [ { %$arrival, rating => 7.5 } ] })->{status},
       422, 'rating 7.5: 422');
    my $r = trakt($f, 'POST', '/sync/ratings', { movies => [ { %$arrival, rating => 8 },
                                                             { %$unknown, rating => 6 } ] });
    is($r->{status}, 201, 'ratings add: 201');
    is($r->{json}{added}{movies}, 1, '... one added');
    is($r->{json}{not_found}{movies}[0]{rating}, 6, 'not_found echoes the rating');
    $r = trakt($f, 'GET', '/sync/ratings/movies/8');
    is(scalar @{ $r->{json} }, 1, 'GET /sync/ratings/movies/8 finds it');
    is($r->{json}[0]{rating}, 8, '... rating 8');
    is(scalar @{ trakt($f, 'GET', '/sync/ratings/movies/9')->{json} }, 0, 'filter by rating');

    $r = trakt($f, 'POST', '/sync/watchlist', { movies => [$arrival, $inception] });
    is($r->{status}, 201, 'watchlist add: 201');
    is($r->{json}{added}{movies}, 2, '... two added');
    is($r->{json}{list}{item_count}, 2, '... list item_count');
    $r = trakt($f, 'POST', '/sync/watchlist', { movies => [$arrival] });
    is($r->{json}{existing}{movies}, 1, 'adding again: existing');
    trakt($f, 'POST', '/sync/history', { movies => [$inception] });
    $r = trakt($f, 'GET', '/sync/watchlist');
    is(scalar @{ $r->{json} }, 1, 'a watched movie leaves the watchlist');
    ctl($f, 'POST', 'config', { trakt_watchlist_limit => 1 });
    $r = trakt($f, 'POST', '/sync/watchlist', { movies => [$inception] });
    is($r->{status}, 420, 'over the watchlist limit: 420');
    is($r->{headers}{'x-account-limit'}, 1, '... with X-Account-Limit');
}

# --- refresh tokens are single use -----------------------------------------
{
    ctl($f, 'POST', 'reset', {});
    my %creds = (client_id => 'fake-client-id', client_secret => 'fake-client-secret',
                 redirect_uri => 'urn:ietf:wg:oauth:2.0:oob', grant_type => 'refresh_token');
    my $r = trakt($f, 'POST', '/oauth/token', { %creds, refresh_token => 'fake-trakt-refresh-token' },
                  'trakt-api-key' => undef, Authorization => undef);
    is($r->{status}, 200, 'refresh: 200');
    my $t1 = $r->{json};
    ok($t1->{access_token} && $t1->{refresh_token}, '... new access and refresh tokens');
    is($t1->{expires_in}, 604800, '... valid 7 days');
    is($t1->{token_type}, 'bearer', '... bearer');
    isnt($t1->{refresh_token}, 'fake-trakt-refresh-token', '... the refresh token rotated');
    is(trakt($f, 'GET', '/sync/last_activities')->{status}, 401, 'the old access token stopped working');
    is(trakt($f, 'GET', '/sync/last_activities', undef,
             Authorization => "Bearer $t1->{access_token}")->{status}, 200, 'the new one works');
    $r = trakt($f, 'POST', '/oauth/token', { %creds, refresh_token => 'fake-trakt-refresh-token' });
    is($r->{status}, 400, 'reusing the old refresh token: 400');
    is($r->{json}{error}, 'invalid_grant', '... invalid_grant');
    $r = trakt($f, 'POST', '/oauth/token', { %creds, refresh_token => $t1->{refresh_token},
                                             client_secret => 'wrong' });
    is($r->{status}, 401, 'wrong client secret: 401 invalid_client');
    $r = trakt($f, 'POST', '/oauth/token', { %creds, refresh_token => $t1->{refresh_token} });
    is($r->{status}, 200, 'the new refresh token works once');
    my $t2 = $r->{json};

    ctl($f, 'POST', 'expire-token', { provider => 'trakt' });
    is(trakt($f, 'GET', '/sync/last_activities', undef,
             Authorization => "Bearer $t2->{access_token}")->{status}, 401,
       'an expired access token: 401');
    $r = trakt($f, 'POST', '/oauth/token', { %creds, refresh_token => $t2->{refresh_token} });
    is($r->{status}, 200, 'refreshing after expiry works');
    is(trakt($f, 'GET', '/sync/last_activities', undef,
             Authorization => "Bearer $r->{json}{access_token}")->{status}, 200,
       '... and the fresh token is accepted');
}

# --- device flow and PIN flow ----------------------------------------------
{
    ctl($f, 'POST', 'reset', {});
    my %c = (client_id => 'fake-client-id', client_secret => 'fake-client-secret');
    my $r = trakt($f, 'POST', '/oauth/device/code', { client_id => 'fake-client-id' });
    is($r->{status}, 200, 'device code: 200');
    my $d = $r->{json};
    like($d->{user_code}, qr/^[0-9A-F]{8}$/, '... an 8-character user code');
    is($d->{interval}, 1, '... the configured interval');
    is($d->{verification_url}, 'https://trakt.tv/activate', '... verification_url');
    is(trakt($f, 'POST', '/oauth/device/token', { code => $d->{device_code}, %c })->{status},
       400, 'pending: 400');
    is(trakt($f, 'POST', '/oauth/device/token', { code => $d->{device_code}, %c })->{status},
       429, 'polling faster than the interval: 429');
    is(trakt($f, 'POST', '/oauth/device/token', { code => 'nope', %c })->{status},
       404, 'unknown device code: 404');
    is(ctl($f, 'POST', 'approve', { provider => 'trakt' })->{approved}, 1, 'approved via control');
    sleep 1.1;
    $r = trakt($f, 'POST', '/oauth/device/token', { code => $d->{device_code}, %c });
    is($r->{status}, 200, 'approved: 200');
    ok($r->{json}{access_token} && $r->{json}{refresh_token}, '... with tokens');
    is(trakt($f, 'GET', '/sync/last_activities', undef,
             Authorization => "Bearer $r->{json}{access_token}")->{status}, 200,
       'the device-flow token works');
    sleep 1.1;
    is(trakt($f, 'POST', '/oauth/device/token', { code => $d->{device_code}, %c })->{status},
       409, 'a used code: 409');

    $r = trakt($f, 'POST', '/oauth/device/code', { client_id => 'fake-client-id' });
    ctl($f, 'POST', 'clock', { advance_s => 601 });
    is(trakt($f, 'POST', '/oauth/device/token', { code => $r->{json}{device_code}, %c })->{status},
       410, 'an expired code: 410');

    $r = req($f, 'GET', '/simkl/oauth/pin?client_id=fake-client-id');
    is($r->{status}, 200, 'SIMKL PIN: 200');
    is($r->{json}{result}, 'OK', '... result OK');
    my $pin = $r->{json}{user_code};
    $r = req($f, 'GET', "/simkl/oauth/pin/$pin?client_id=fake-client-id");
    is($r->{json}{result}, 'KO', 'PIN pending: KO');
    is($r->{json}{message}, 'Authorization pending', '... Authorization pending');
    $r = req($f, 'GET', "/simkl/oauth/pin/$pin?client_id=fake-client-id");
    is($r->{json}{message}, 'Slow down', 'polling too fast: Slow down');
    ctl($f, 'POST', 'approve', { provider => 'simkl', user_code => $pin });
    sleep 1.1;
    $r = req($f, 'GET', "/simkl/oauth/pin/$pin?client_id=fake-client-id");
    is($r->{json}{result}, 'OK', 'approved PIN: OK');
    ok($r->{json}{access_token}, '... with an access_token');
    is(simkl($f, 'GET', '/sync/activities', undef,
             Authorization => "Bearer $r->{json}{access_token}")->{status}, 200,
       'the PIN token works');
}

# --- faults ------------------------------------------------------------------
{
    ctl($f, 'POST', 'reset', {});
    ctl($f, 'POST', 'config', { rate_limit => JSON::PP::false });
    ctl($f, 'POST', 'faults', { provider => 'trakt', method => 'POST', path => '/sync/history',
                                status => 503, count => 2 });
    my @st = map { trakt($f, 'POST', '/sync/history', { movies => [$arrival] })->{status} } 1 .. 3;
    is_deeply(\@st, [503, 503, 201], '503 twice, then OK');
    is(scalar @{ trakt($f, 'GET', '/sync/history')->{json} }, 1, 'the failed writes left nothing');

    # (A POST: HTTP::Tiny silently retries an idempotent GET once.)
    ctl($f, 'POST', 'faults', { path => '/trakt/sync/history', method => 'POST',
                                drop => JSON::PP::true });
    my $r = trakt($f, 'POST', '/sync/history', { movies => [$inception] });
    is($r->{status}, 599, 'drop: the connection closes without a reply');
    is(scalar @{ trakt($f, 'GET', '/sync/history')->{json} }, 1, '... and nothing was written');
    is(trakt($f, 'POST', '/sync/history', { movies => [$arrival] })->{status}, 201,
       'count defaults to 1');

    ctl($f, 'POST', 'faults', { path => '/sync/history', method => 'POST',
                                accept_but_drop => JSON::PP::true });
    $r = trakt($f, 'POST', '/sync/history', { movies => [$inception] });
    is($r->{status}, 201, 'accept_but_drop: the write is answered 201');
    is($r->{json}{added}{movies}, 1, '... as if added');
    is(scalar @{ trakt($f, 'GET', '/sync/history')->{json} }, 2, '... but never shows');

    ctl($f, 'POST', 'faults', { path => '/sync/history', method => 'POST',
                                apply_then_drop => JSON::PP::true });
    $r = trakt($f, 'POST', '/sync/history', { movies => [$inception] });
    is($r->{status}, 599, 'apply_then_drop: no reply');
    is(scalar @{ trakt($f, 'GET', '/sync/history')->{json} }, 3, '... but the write happened');

    ctl($f, 'POST', 'faults', { provider => 'simkl', path => '/sync/activities', delay_ms => 400 });
    my $t0 = time;
    is(simkl($f, 'GET', '/sync/activities')->{status}, 200, 'delay: still answered');
    ok(time - $t0 >= 0.38, 'delay_ms holds the reply');

    ctl($f, 'POST', 'faults', { provider => 'trakt', status => 429, retry_after => 7, skip => 1,
                                headers => { 'X-Ratelimit' => '{"name":"AUTHED_API_POST_LIMIT"}' } });
    is(trakt($f, 'GET', '/sync/last_activities')->{status}, 200, 'skip lets the first through');
    $r = trakt($f, 'GET', '/sync/last_activities');
    is($r->{status}, 429, 'injected 429');
    is($r->{headers}{'retry-after'}, 7, '... with Retry-After');
    like($r->{headers}{'x-ratelimit'}, qr/AUTHED_API_POST_LIMIT/, '... and extra headers');

    $r = req($f, 'POST', '/_fake/faults', body => { status => 503, colour => 'red' },
             headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, 400, 'an unknown fault key is refused');
    $r = req($f, 'POST', '/_fake/faults', body => { path => '/x' },
             headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, 400, 'a rule without an effect is refused');

    my $log = ctl($f, 'GET', 'requests?provider=trakt');
    my @faulted = grep { $_->{fault} } @$log;
    ok(scalar @faulted >= 6, 'the request log marks faulted requests');
    ok((grep { $_->{dropped} } @$log), '... and dropped ones');
    ok(!grep({ ($_->{headers}{authorization} // '') =~ /fake-trakt-access-token/ } @$log),
       'the log masks the bearer token');
    ctl($f, 'DELETE', 'faults');
    is(scalar @{ ctl($f, 'GET', 'faults') }, 0, 'faults cleared');
}

# --- catalog extension ---------------------------------------------------------
{
    ctl($f, 'POST', 'reset', {});
    ctl($f, 'POST', 'config', { rate_limit => JSON::PP::false });
    my $new = { ids => { tmdb => 999999 } };
    my $r = trakt($f, 'POST', '/sync/history', { movies => [$new] });
    is_deeply($r->{json}{not_found}{movies}, [$new], 'an item the fake does not know: not_found');
    is(trakt($f, 'POST', '/scrobble/start', { movie => $new, progress => 5 })->{status},
       404, '... and 404 on scrobble');
    my $c = ctl($f, 'POST', 'catalog', { movies => [ { title => 'Late Arrival', year => 2021,
                                                        ids => { tmdb => 999999, imdb => 'tt9999999' } } ] });
    is($c->{added}{movies}, 1, 'the control API adds it to the catalog');
    $r = trakt($f, 'POST', '/sync/history', { movies => [$new] });
    is($r->{json}{added}{movies}, 1, 'now it is known');
    $r = trakt($f, 'GET', '/sync/history/movies');
    is($r->{json}[0]{movie}{ids}{imdb}, 'tt9999999', 'with every id the catalog holds');
    ok($r->{json}[0]{movie}{ids}{trakt} > 0, 'and a trakt id the fake assigned');
    $c = ctl($f, 'POST', 'catalog', { shows => [ { title => 'Tiny', year => 2020, ids => { tvdb => 5 },
        seasons => [ { number => 1, episodes => [ { number => 1 }, { number => 2 } ] } ] } ] });
    is($c->{added}{episodes}, 2, 'shows with episodes can be added');
    $r = trakt($f, 'POST', '/sync/history', { shows => [ { ids => { tvdb => 5 } } ] });
    is($r->{json}{added}{episodes}, 2, 'a whole show marks all its episodes');
    $c = ctl($f, 'POST', 'catalog', { generate => { movies => 500 } });
    is($c->{added}{movies}, 500, 'bulk generation for benchmarks');
    $r = trakt($f, 'POST', '/sync/history', { movies => [ { ids => { tmdb => 10000499 } } ] });
    is($r->{json}{added}{movies}, 1, 'generated movies are known by tmdb');
}

# --- SIMKL writes ----------------------------------------------------------------
{
    my $r = simkl($f, 'POST', '/scrobble/stop', { movie => $arrival, progress => 85 });
    is($r->{status}, 201, 'SIMKL scrobble stop: 201');
    is($r->{json}{action}, 'scrobble', '... action scrobble');
    $r = simkl($f, 'POST', '/scrobble/stop', { movie => $arrival, progress => 85 });
    is($r->{status}, 409, 'SIMKL: again within the hour: 409');
    $r = simkl($f, 'POST', '/sync/history', { movies => [ $inception, $inception ] });
    is($r->{status}, 201, 'SIMKL history add: 201');
    is($r->{json}{added}{movies}, 2, '... keeps duplicate plays');
    is($r->{json}{added}{statuses}[0]{response}{status}, 'completed', '... statuses per item');
    $r = simkl($f, 'POST', '/sync/add-to-list', { to => 'plantowatch', movies => [$arrival] });
    is($r->{status}, 400, 'add-to-list with a top-level "to": 400');
    is($r->{json}{error}, 'empty_field', '... empty_field');
    $r = simkl($f, 'POST', '/sync/add-to-list', { movies => [ { %{ { ids => { tmdb => 603 } } },
                                                                to => 'plantowatch' } ] });
    is($r->{status}, 201, 'add-to-list: 201');
    $r = simkl($f, 'POST', '/sync/ratings', { movies => [ { ids => { imdb => 'tt0245429' }, rating => 9 } ] });
    is($r->{json}{added}{movies}, 1, 'SIMKL rating added');
    $r = simkl($f, 'GET', '/sync/all-items/movies');
    my %status = map { $_->{movie}{title} => $_->{status} } @{ $r->{json}{movies} };
    is($status{'The Matrix'}, 'plantowatch', 'all-items: the listed movie');
    is($status{'Spirited Away'}, 'completed', 'rating an unlisted movie lists it as completed');
    is($r->{json}{movies}[0]{movie}{ids}{tmdb} =~ /^\d+$/ ? 'str' : '', 'str',
       'SIMKL returns tmdb ids as strings');
    $r = simkl($f, 'GET', '/sync/ratings/movies/9');
    is($r->{json}{movies}[0]{user_rating}, 9, 'SIMKL ratings read');
    $r = simkl($f, 'POST', '/sync/history/remove', { movies => [ { ids => { imdb => 'tt0245429' } } ] });
    is($r->{json}{deleted}{movies}, 1, 'SIMKL history remove');
    is(scalar(grep { $_->{movie}{title} eq 'Spirited Away' }
              @{ simkl($f, 'GET', '/sync/ratings/movies')->{json}{movies} // [] }), 0,
       '... also removes the rating');
    is(simkl($f, 'POST', '/sync/history', { movies => [ { %$arrival, rating => 12 } ] })->{status},
       400, 'SIMKL rejects a rating outside 1..10 with 400');
}

# --- rate limits (a fake with the real limits) ------------------------------------
{
    my $g = start_fake();
    my $a = trakt($g, 'POST', '/sync/history', { movies => [$arrival] });
    my $b = trakt($g, 'POST', '/sync/history', { movies => [$inception] });
    is($a->{status}, 201, 'first write: 201');
    is($b->{status}, 429, 'a second write within a second: 429');
    like($b->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'Retry-After is whole seconds, at least 1');
    my $rl = eval { $J->decode($b->{headers}{'x-ratelimit'} // '') };
    is($rl->{name}, 'AUTHED_API_POST_LIMIT', 'X-Ratelimit names the write limit');
    is($rl->{remaining}, 0, '... remaining 0');
    ok($rl->{until}, '... and until');
    is(trakt($g, 'GET', '/sync/history')->{status}, 200, 'reads are limited separately');
    sleep 1.05;
    is(trakt($g, 'POST', '/sync/history', { movies => [$inception] })->{status}, 201,
       'after a second the write goes through');
    my $log = ctl($g, 'GET', 'requests?provider=trakt');
    my @ok = map { $_->{t_ms} } grep { $_->{write} && $_->{status} == 201 } @$log;
    is(scalar @ok, 2, 'the log has both accepted writes');
    ok($ok[1] - $ok[0] >= 1000, 'accepted writes are at least 1 s apart');
    ok((grep { $_->{rate_limited} } @$log), 'the log marks the 429');
    is($log->[0]{body}{movies}[0]{ids}{tmdb}, 329865, 'the log keeps each request body');
    ok($log->[0]{wall_ms} > 1e12 && $log->[0]{at}, '... and wall-clock times');

    ctl($g, 'POST', 'config', { trakt_read_limit => 2, trakt_read_window_s => 60 });
    trakt($g, 'GET', '/sync/history') for 1 .. 2;
    $a = trakt($g, 'GET', '/sync/history');
    is($a->{status}, 429, 'over the read limit: 429');
    like($a->{headers}{'x-ratelimit'} // '', qr/AUTHED_API_GET_LIMIT/, '... AUTHED_API_GET_LIMIT');

    $a = simkl($g, 'POST', '/sync/history', { movies => [$arrival] });
    $b = simkl($g, 'POST', '/sync/history', { movies => [$inception] });
    is($a->{status}, 201, 'SIMKL first write: 201');
    is($b->{status}, 429, 'SIMKL second write within the interval: 429');
    like($b->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, '... with Retry-After');

    # A write still being processed blocks the next one, whatever the pace.
    ctl($g, 'POST', 'config', { simkl_write_interval_ms => 0 });
    ctl($g, 'POST', 'faults', { provider => 'simkl', path => '/sync/history', delay_ms => 1500 });
    my $pid = fork // die;
    if ($pid == 0) {
        my $r = simkl($g, 'POST', '/sync/history', { movies => [$arrival] });
        POSIX::_exit($r->{status} == 201 ? 0 : 1);
    }
    # Wait until the slow write has arrived and is being held.
    my $held = 0;
    for (1 .. 250) {
        my $log = ctl($g, 'GET', 'requests?provider=simkl&bodies=0');
        $held = grep { $_->{fault} && !defined $_->{status} } @$log;
        last if $held;
        sleep 0.02;
    }
    ok($held, 'the slow SIMKL write is in progress');
    $b = simkl($g, 'POST', '/scrobble/start', { movie => $inception, progress => 3 });
    is($b->{status}, 429, 'SIMKL never runs two writes at once (scrobbles included)');
    waitpid($pid, 0);
    is($? >> 8, 0, 'the slow write itself succeeded');
    is(simkl($g, 'POST', '/scrobble/start', { movie => $inception, progress => 3 })->{status},
       201, 'once it is done the next write goes through');
}

# --- reset ---------------------------------------------------------------------------
{
    ctl($f, 'POST', 'reset', {});
    my $st = ctl($f, 'GET', 'state');
    is(scalar @{ $st->{trakt}{history} }, 0, 'reset empties Trakt history');
    is(scalar @{ $st->{simkl}{history} }, 0, 'reset empties SIMKL history');
    is(scalar @{ ctl($f, 'GET', 'requests') }, 0, 'reset clears the request log');
    is(trakt($f, 'POST', '/sync/history', { movies => [ { ids => { tmdb => 999999 } } ] })
           ->{json}{not_found}{movies}[0]{ids}{tmdb}, 999999, 'reset restores the seed catalog');
}

done_testing;

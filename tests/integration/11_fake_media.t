# The media-server fakes in tests/fakes/fakeprov: Plex Media Server (/plex),
# plex.tv Discover and metadata (/plex-discover, /plex-metadata), Jellyfin
# (/jellyfin) and Emby (/emby), following PROVIDERS.md B5 and B6. Pins the
# auth forms each accepts and refuses, paging totals, Plex `>>=` filters and
# XML default, Jellyfin/Emby MinDateLastSavedForUser and the Date header,
# that every write changes what the reads return, Discover's idempotence
# texts, the control API, the request log and faults for these providers,
# and that paging through 100,000 items is not quadratic.
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
use Time::Local qw(timegm);
use WRTest;

my $build = $ENV{WR_BUILD} || 'build';
my $bin = WRTest::root() . "/$build/tests/fakes/fakeprov";
BAIL_OUT("no fake provider at $bin (run make)") unless -x $bin;

my $J = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0, agent => 'watchrelay-test/1.0');
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
    my $res = $http->request($method, "http://127.0.0.1:$f->{port}$path",
        { headers => \%h, defined $body ? (content => $body) : () });
    if (!$o{raw} && length($res->{content} // '')
        && ($res->{headers}{'content-type'} // '') =~ m{json}) {
        $res->{json} = eval { $J->decode($res->{content}) };
    }
    return $res;
}

sub ctl {
    my ($f, $method, $what, $body) = @_;
    my $r = req($f, $method, "/_fake/$what", body => $body,
                headers => { 'Content-Type' => 'application/json' });
    die "control $what: $r->{status} $r->{content}" unless $r->{status} == 200;
    return $r->{json};
}

my $TOKEN = 'fake-plex-token';
my %PJ = ('X-Plex-Token' => $TOKEN, Accept => 'application/json');
my $JUID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
my $EUID = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
my %JH = (Authorization => 'MediaBrowser Client="watchrelay", Device="srv", DeviceId="t1", '
                           . 'Version="1.0", Token="fake-jellyfin-key"');
my %EH = ('X-Emby-Token' => 'fake-emby-key');

sub plex { my ($f, $m, $p, %h) = @_; req($f, $m, "/plex$p", headers => { %PJ, %h }) }
sub jf { my ($f, $m, $p, $b, %h) = @_; req($f, $m, "/jellyfin$p", headers => { %JH, %h }, body => $b) }
sub emby { my ($f, $m, $p, $b, %h) = @_; req($f, $m, "/emby$p", headers => { %EH, %h }, body => $b) }

sub fake_now { ctl($_[0], 'GET', 'state')->{now_ms} / 1000 }

my %MON = (Jan => 0, Feb => 1, Mar => 2, Apr => 3, May => 4, Jun => 5, Jul => 6,
           Aug => 7, Sep => 8, Oct => 9, Nov => 10, Dec => 11);
sub http_date {
    my ($s) = @_;
    return undef unless defined $s
        && $s =~ /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/;
    return timegm($6, $5, $4, $1, $MON{$2}, $3);
}

# ISO 8601 (with the 7-digit .NET fraction) from epoch seconds.
sub iso7 {
    my @t = gmtime($_[0]);
    return sprintf('%04d-%02d-%02dT%02d:%02d:%02d.0000000Z', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0]);
}

sub by_title { my ($list, $t) = @_; (grep { ($_->{title} // $_->{Name} // '') eq $t } @$list)[0] }

my $f = start_fake('--no-rate-limit');
my $T_ARRIVAL = 1740948430;    # 2025-03-02T20:47:10Z

my $seed = [
    { type => 'movie', ids => { tmdb => 329865 }, played => JSON::PP::true,
      last_played_at => '2025-03-02T20:47:10Z', rating => 8, rated_at => '2025-03-03T00:00:00Z' },
    { type => 'movie', title => 'Inception', year => 2010, ids => { imdb => 'tt1375666' } },
    { type => 'episode', show => { ids => { tvdb => 371980 } }, season => 1, episode => 1,
      played => JSON::PP::true, last_played_at => '2025-03-01T10:00:00Z' },
    { type => 'episode', show => { title => 'Severance', year => 2022, ids => { tmdb => 95396 } },
      season => 1, episode => 2 },
];

# =========================================================================
# Plex Media Server
# =========================================================================
my %PK;    # title -> ratingKey
{
    my $add = ctl($f, 'POST', 'media/plex/items', { items => $seed });
    is(scalar @{ $add->{items} }, 4, 'control: four Plex items added');
    like($add->{items}[0]{id}, qr/^\d+$/, '... ratingKeys are decimal strings');
    ok($add->{items}[0]{id} >= 10001, '... from 10001');
    is($add->{items}[0]{catalog}, 0, '... Arrival is catalog entry 0');
    ok($add->{items}[2]{show_id} && $add->{items}[2]{season_id}, '... episodes get show and season ids');
    is($add->{items}[2]{show_id}, $add->{items}[3]{show_id}, '... one show for both episodes');

    # --- auth and formats ---
    my $r = req($f, 'GET', '/plex/identity');
    is($r->{status}, 200, '/identity answers without a token (as PMS)');
    like($r->{content}, qr/machineIdentifier="/, '... XML by default');
    $r = req($f, 'GET', '/plex/library/sections');
    is($r->{status}, 401, 'no token: 401');
    like($r->{headers}{'content-type'}, qr{text/html}, '... with an HTML body');
    is(req($f, 'GET', '/plex/library/sections', headers => { 'X-Plex-Token' => 'nope' })->{status},
       401, 'wrong token: 401');
    $r = req($f, 'GET', '/plex/library/sections', headers => { 'X-Plex-Token' => $TOKEN });
    is($r->{status}, 200, 'token in the header: 200');
    like($r->{headers}{'content-type'}, qr{^text/xml}, '... XML without Accept: application/json');
    like($r->{content}, qr/^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<MediaContainer size="2"/,
         '... a MediaContainer');
    like($r->{content}, qr/<Directory [^>]*key="1" type="movie"/, '... section 1 is a movie section');
    $r = req($f, 'GET', "/plex/library/sections?X-Plex-Token=$TOKEN",
             headers => { Accept => 'application/json' });
    is($r->{status}, 200, 'token as a query parameter: 200');
    my @dirs = @{ $r->{json}{MediaContainer}{Directory} };
    is_deeply([ map { "$_->{key}:$_->{type}" } @dirs ], [ '1:movie', '2:show' ], 'JSON sections 1 movie, 2 show');
    ok($dirs[0]{agent} && $dirs[0]{uuid} && $dirs[0]{title}, '... with agent, uuid, title');

    # --- movies ---
    $r = plex($f, 'GET', '/library/sections/1/all?type=1&includeGuids=1&sort=addedAt');
    is($r->{status}, 200, 'section 1 movies: 200');
    my $mc = $r->{json}{MediaContainer};
    is($mc->{totalSize}, 2, '... totalSize 2');
    is($mc->{size}, 2, '... size 2');
    is($mc->{librarySectionID}, 1, '... librarySectionID 1');
    is($r->{headers}{'x-plex-container-total-size'}, 2, '... X-Plex-Container-Total-Size 2');
    my $arr = by_title($mc->{Metadata}, 'Arrival');
    my $inc = by_title($mc->{Metadata}, 'Inception');
    $PK{Arrival} = $arr->{ratingKey};
    $PK{Inception} = $inc->{ratingKey};
    is($arr->{type}, 'movie', 'Arrival: type movie');
    is($arr->{year}, 2016, '... year');
    is($arr->{key}, "/library/metadata/$arr->{ratingKey}", '... key');
    like($arr->{guid}, qr{^plex://movie/[0-9a-f]{24}$}, '... plex:// guid with a 24-hex id');
    is($arr->{viewCount}, 1, '... viewCount 1');
    is($arr->{lastViewedAt}, $T_ARRIVAL, '... lastViewedAt in epoch seconds');
    is($arr->{userRating}, 8, '... userRating 8');
    is($arr->{lastRatedAt}, 1740960000, '... lastRatedAt');
    ok($arr->{addedAt} > 0 && $arr->{updatedAt} >= $arr->{addedAt}, '... addedAt, updatedAt');
    ok($arr->{duration} > 60000, '... duration in ms');
    is_deeply([ sort map { $_->{id} } @{ $arr->{Guid} } ], [ 'imdb://tt2543164', 'tmdb://329865' ],
              '... Guid[] imdb and tmdb');
    ok(!exists $inc->{viewCount}, 'Inception (never played): no viewCount');
    ok(!exists $inc->{lastViewedAt}, '... no lastViewedAt');
    ok(!exists $inc->{userRating} && !exists $inc->{lastRatedAt}, '... no userRating');
    $r = plex($f, 'GET', '/library/sections/1/all?type=1');
    ok(!exists $r->{json}{MediaContainer}{Metadata}[0]{Guid}, 'without includeGuids: no Guid[]');
    is(plex($f, 'GET', '/library/sections/9/all?type=1')->{status}, 404, 'unknown section: 404');

    # --- paging ---
    $r = plex($f, 'GET', '/library/sections/1/all?type=1&X-Plex-Container-Start=0&X-Plex-Container-Size=1');
    is($r->{json}{MediaContainer}{size}, 1, 'page size 1: one row');
    is($r->{json}{MediaContainer}{totalSize}, 2, '... totalSize still 2');
    is($r->{headers}{'x-plex-container-start'}, 0, '... X-Plex-Container-Start 0');
    my $first = $r->{json}{MediaContainer}{Metadata}[0]{ratingKey};
    $r = plex($f, 'GET', '/library/sections/1/all?type=1',
              'X-Plex-Container-Start' => 1, 'X-Plex-Container-Size' => 1);
    is($r->{json}{MediaContainer}{offset}, 1, 'paging by request headers: offset 1');
    isnt($r->{json}{MediaContainer}{Metadata}[0]{ratingKey}, $first, '... the other movie');
    $r = plex($f, 'GET', '/library/sections/1/all?type=1&X-Plex-Container-Size=0');
    is($r->{json}{MediaContainer}{totalSize}, 2, 'size 0: the total');
    is($r->{json}{MediaContainer}{size}, 0, '... and no rows');
    ok(!exists $r->{json}{MediaContainer}{Metadata}, '... no Metadata');
    is(plex($f, 'GET', '/library/sections/1/all?type=1&X-Plex-Container-Size=x')->{status}, 400,
       'malformed size: 400');

    # --- episodes and shows ---
    $r = plex($f, 'GET', '/library/sections/2/all?type=4&includeGuids=1');
    is($r->{json}{MediaContainer}{totalSize}, 2, 'section 2 type 4: two episodes');
    my $ep = (grep { $_->{index} == 1 } @{ $r->{json}{MediaContainer}{Metadata} })[0];
    $PK{E1} = $ep->{ratingKey};
    $PK{E2} = (grep { $_->{index} == 2 } @{ $r->{json}{MediaContainer}{Metadata} })[0]{ratingKey};
    is($ep->{type}, 'episode', 'episode: type');
    is($ep->{grandparentTitle}, 'Severance', '... grandparentTitle');
    is($ep->{parentIndex}, 1, '... parentIndex');
    like($ep->{grandparentGuid}, qr{^plex://show/[0-9a-f]{24}$}, '... grandparentGuid');
    ok($ep->{grandparentRatingKey} && $ep->{parentRatingKey}, '... grandparent/parentRatingKey');
    ok((grep { $_->{id} eq 'tvdb://8603573' } @{ $ep->{Guid} }), "... the episode's own tvdb id");
    $r = plex($f, 'GET', "/library/metadata/$ep->{grandparentRatingKey}?includeGuids=1");
    my $show = $r->{json}{MediaContainer}{Metadata}[0];
    is($show->{type}, 'show', 'metadata of grandparentRatingKey: a show');
    ok((grep { $_->{id} eq 'tvdb://371980' } @{ $show->{Guid} }), '... with the show ids');
    is($show->{leafCount}, 2, '... leafCount 2');
    is($show->{viewedLeafCount}, 1, '... viewedLeafCount 1');
    $r = plex($f, 'GET', '/library/sections/2/all');
    is($r->{json}{MediaContainer}{Metadata}[0]{type}, 'show', 'section 2 without type: shows');
    is(plex($f, 'GET', '/library/metadata/99999')->{status}, 404, 'unknown ratingKey: 404');
    $r = plex($f, 'GET', "/library/metadata/$PK{Arrival}?includeGuids=1");
    is($r->{json}{MediaContainer}{Metadata}[0]{title}, 'Arrival', '/library/metadata/{ratingKey}');

    # --- guid lookups ---
    $r = plex($f, 'GET', '/library/all?guid=imdb://tt2543164');
    is_deeply([ map { $_->{ratingKey} } @{ $r->{json}{MediaContainer}{Metadata} } ], [ $PK{Arrival} ],
              '/library/all?guid=imdb://… finds the movie');
    $r = plex($f, 'GET', '/library/all?guid=' . $arr->{guid});
    is($r->{json}{MediaContainer}{Metadata}[0]{ratingKey}, $PK{Arrival}, '... and by plex:// guid');
    $r = plex($f, 'GET', '/library/all?guid=com.plexapp.agents.imdb://tt2543164?lang=en');
    is($r->{json}{MediaContainer}{totalSize}, 1, '... and by the legacy agent guid');
    $r = plex($f, 'GET', '/library/all?guid=imdb://tt0000001');
    is($r->{json}{MediaContainer}{totalSize}, 0, '... nothing for an unknown guid');

    # --- media-query filters ---
    my $cnt = sub { plex($f, 'GET', "/library/sections/1/all?type=1&$_[0]")->{json}{MediaContainer}{totalSize} };
    is($cnt->("lastViewedAt>>=$T_ARRIVAL"), 1, 'raw lastViewedAt>>= at the play: 1 (at or after)');
    is($cnt->('lastViewedAt>>=' . ($T_ARRIVAL + 1)), 0, '... a second later: 0');
    is($cnt->('lastViewedAt%3E%3E=' . $T_ARRIVAL), 1, '... %3E%3E= form: 1');
    is($cnt->('lastViewedAt%3E%3E%3D' . $T_ARRIVAL), 1, '... fully encoded form: 1');
    is($cnt->("lastViewedAt<<=$T_ARRIVAL"), 1, 'lastViewedAt<<= (at or before): 1');
    is($cnt->('lastViewedAt<<=' . ($T_ARRIVAL - 1)), 0, '... a second before: 0 (never-played fails)');
    is($cnt->('lastRatedAt>>=1740960000'), 1, 'lastRatedAt>>=: the rated movie');
    is($cnt->('addedAt>>=1000000000'), 2, 'addedAt>>=: both');
    is($cnt->('unwatched=1'), 1, 'unwatched=1: Inception');
    is($cnt->('viewCount>>=1'), 1, 'viewCount>>=1: Arrival');
    is(plex($f, 'GET', '/library/sections/1/all?type=1&lastViewedAt>>=soon')->{status}, 400,
       'malformed filter value: 400');

    # --- XML list ---
    $r = req($f, 'GET', "/plex/library/sections/1/all?type=1&includeGuids=1&X-Plex-Token=$TOKEN");
    like($r->{content}, qr{<Video ratingKey="$PK{Arrival}"[^>]* type="movie"[^>]* title="Arrival"}s,
         'XML list: <Video ratingKey=… type="movie" title="Arrival"');
    like($r->{content}, qr{<Guid id="imdb://tt2543164" />}, '... with <Guid id="imdb://…" />');
    like($r->{content}, qr{totalSize="2"}, '... totalSize attribute');

    # --- writes: scrobble, unscrobble, rate (with the fake clock moved) ---
    ctl($f, 'POST', 'clock', { advance_s => 10 * 86400 });
    my $before = fake_now($f);
    ok($before > time + 9 * 86400, 'fake clock moved 10 days ahead');
    my $q = "identifier=com.plexapp.plugins.library&key=$PK{Inception}";
    is(plex($f, 'PUT', "/:/scrobble?$q")->{status}, 200, 'PUT /:/scrobble: 200');
    $r = plex($f, 'GET', "/library/metadata/$PK{Inception}");
    my $m = $r->{json}{MediaContainer}{Metadata}[0];
    is($m->{viewCount}, 1, '... viewCount 1');
    ok($m->{lastViewedAt} >= int($before) && $m->{lastViewedAt} <= fake_now($f) + 1,
       '... lastViewedAt = the fake now');
    ok($m->{updatedAt} >= int($before), '... updatedAt moved');
    is($cnt->('updatedAt>>=' . int($before)), 1, 'updatedAt>>= finds the changed item only');
    is(plex($f, 'GET', "/:/scrobble?$q")->{status}, 200, 'GET /:/scrobble works too');
    is(plex($f, 'GET', "/library/metadata/$PK{Inception}")->{json}{MediaContainer}{Metadata}[0]{viewCount},
       2, '... viewCount 2');
    is(plex($f, 'PUT', "/:/scrobble?key=$PK{Inception}")->{status}, 400, 'no identifier: 400');
    is(plex($f, 'PUT', "/:/scrobble?identifier=com.plexapp.plugins.other&key=$PK{Inception}")->{status},
       400, 'another identifier: 400');
    is(plex($f, 'PUT', '/:/scrobble?identifier=com.plexapp.plugins.library')->{status}, 400, 'no key: 400');
    is(plex($f, 'PUT', '/:/scrobble?identifier=com.plexapp.plugins.library&key=99999')->{status},
       404, 'unknown key: 404');
    is(plex($f, 'PUT', "/:/unscrobble?$q")->{status}, 200, 'unscrobble: 200');
    $m = plex($f, 'GET', "/library/metadata/$PK{Inception}")->{json}{MediaContainer}{Metadata}[0];
    ok(!exists $m->{viewCount} && !exists $m->{lastViewedAt}, '... viewCount and lastViewedAt gone');

    is(plex($f, 'PUT', "/:/rate?$q&rating=7")->{status}, 200, 'rate 7: 200');
    $m = plex($f, 'GET', "/library/metadata/$PK{Inception}")->{json}{MediaContainer}{Metadata}[0];
    is($m->{userRating}, 7, '... userRating 7');
    ok($m->{lastRatedAt} >= int($before), '... lastRatedAt = now');
    is(plex($f, 'PUT', "/:/rate?$q&rating=9&ratedAt=1700000000")->{status}, 200, 'rate with ratedAt');
    $m = plex($f, 'GET', "/library/metadata/$PK{Inception}")->{json}{MediaContainer}{Metadata}[0];
    is($m->{lastRatedAt}, 1700000000, '... lastRatedAt = ratedAt');
    plex($f, 'PUT', "/:/rate?$q&rating=-1");
    $m = plex($f, 'GET', "/library/metadata/$PK{Inception}")->{json}{MediaContainer}{Metadata}[0];
    ok(!exists $m->{userRating}, 'rating=-1 clears');
    plex($f, 'PUT', "/:/rate?$q&rating=6");
    plex($f, 'PUT', "/:/rate?$q&rating=0");
    $m = plex($f, 'GET', "/library/metadata/$PK{Inception}")->{json}{MediaContainer}{Metadata}[0];
    ok(!exists $m->{userRating}, 'rating=0 clears too');
    is(plex($f, 'PUT', "/:/rate?$q&rating=11")->{status}, 400, 'rating 11: 400');
    is(plex($f, 'PUT', "/:/rate?$q")->{status}, 400, 'no rating: 400');

    # --- history ---
    $r = plex($f, 'GET', '/status/sessions/history/all?accountID=1&sort=viewedAt:desc');
    my $h = $r->{json}{MediaContainer};
    is($h->{totalSize}, 2, 'history: the two seeded plays (scrobbles add none, PROVIDERS B5)');
    is($h->{Metadata}[0]{ratingKey}, $PK{Arrival}, '... newest first');
    is($h->{Metadata}[0]{viewedAt}, $T_ARRIVAL, '... viewedAt');
    is($h->{Metadata}[0]{accountID}, 1, '... accountID 1');
    is($h->{Metadata}[0]{type}, 'movie', '... type');
    like($h->{Metadata}[0]{historyKey}, qr{^/status/sessions/history/\d+$}, '... historyKey');
    is($h->{Metadata}[1]{grandparentTitle}, 'Severance', '... episode rows name the show');
    $r = plex($f, 'GET', "/status/sessions/history/all?viewedAt>=$T_ARRIVAL");
    is($r->{json}{MediaContainer}{totalSize}, 1, 'viewedAt>= filter');
    is(plex($f, 'GET', '/status/sessions/history/all?accountID=2')->{json}{MediaContainer}{totalSize}, 0,
       'another account: no rows');
    ctl($f, 'POST', 'config', { plex_scrobble_history => JSON::PP::true });
    plex($f, 'PUT', "/:/scrobble?$q");
    is(plex($f, 'GET', '/status/sessions/history/all')->{json}{MediaContainer}{totalSize}, 3,
       'knob plex_scrobble_history: a scrobble adds a row');
    ctl($f, 'POST', 'config', { plex_scrobble_history => JSON::PP::false });

    # --- control mark ---
    my $mk = ctl($f, 'POST', 'media/plex/mark', { id => $PK{E2}, played => JSON::PP::true,
                                                 at => '2025-04-01T12:00:00Z', rating => 9 });
    is($mk->{item}{play_count}, 1, 'control mark: played');
    $m = plex($f, 'GET', "/library/metadata/$PK{E2}")->{json}{MediaContainer}{Metadata}[0];
    is($m->{lastViewedAt}, 1743508800, '... lastViewedAt = at');
    is($m->{userRating}, 9, '... rated');
    is(plex($f, 'GET', '/status/sessions/history/all')->{json}{MediaContainer}{totalSize}, 4,
       '... and a history row');

    # --- Date header and HEAD ---
    $r = plex($f, 'GET', '/library/sections');
    my $d = http_date($r->{headers}{date});
    ok(defined $d && abs($d - fake_now($f)) < 5, 'Plex Date header: RFC 7231, from the fake clock');
    $r = req($f, 'HEAD', '/plex/library/sections/1/all?type=1',
             headers => { %PJ, 'X-Plex-Container-Size' => 0 });
    is($r->{status}, 200, 'HEAD counts');
    is($r->{headers}{'x-plex-container-total-size'}, 2, '... X-Plex-Container-Total-Size');
    ctl($f, 'POST', 'clock', { offset_s => 0 });
}

# =========================================================================
# plex.tv Discover and metadata
# =========================================================================
{
    my $w = ctl($f, 'POST', 'media/plex/watchlist',
                { items => [ { type => 'movie', ids => { imdb => 'tt15239678' } },
                             { type => 'show', ids => { tvdb => 81189 } } ] });
    my ($dune, $bb) = map { $_->{id} } @{ $w->{items} };
    like($dune, qr/^[0-9a-f]{24}$/, 'control watchlist: 24-hex plex ids');
    is(req($f, 'GET', '/plex-discover/library/sections/watchlist/all')->{status}, 401,
       'Discover without a token: 401');
    my $r = req($f, 'GET', '/plex-discover/library/sections/watchlist/all?includeCollections=1'
                . '&includeExternalMedia=1&X-Plex-Container-Start=0&X-Plex-Container-Size=100',
                headers => \%PJ);
    is($r->{status}, 200, 'watchlist: 200');
    my $mc = $r->{json}{MediaContainer};
    is($mc->{totalSize}, 2, '... totalSize 2');
    my $row = (grep { $_->{ratingKey} eq $dune } @{ $mc->{Metadata} })[0];
    is($row->{guid}, "plex://movie/$dune", '... guid plex://movie/<same id>');
    is($row->{type}, 'movie', '... type');
    is($row->{title}, 'Dune: Part Two', '... title');
    is($row->{year}, 2024, '... year');
    ok($row->{watchlistedAt} > 1700000000, '... watchlistedAt epoch');
    ok(!exists $row->{Guid}, '... no Guid[]');
    is((grep { $_->{ratingKey} eq $bb } @{ $mc->{Metadata} })[0]{guid}, "plex://show/$bb",
       '... shows as plex://show/');

    # Arrival's Discover id is the id in its PMS guid.
    my ($arr_id) = plex($f, 'GET', '/library/all?guid=imdb://tt2543164')
        ->{json}{MediaContainer}{Metadata}[0]{guid} =~ m{/([0-9a-f]{24})$};
    my $put = sub { req($f, 'PUT', "/plex-discover/actions/$_[0]?ratingKey=$_[1]", headers => \%PJ) };
    is($put->('addToWatchlist', $arr_id)->{status}, 200, 'addToWatchlist (PMS guid id): 200');
    $r = $put->('addToWatchlist', $arr_id);
    is($r->{status}, 409, 'again: 409');
    like($r->{content}, qr/already on the watchlist/, '... "already on the watchlist"');
    is(req($f, 'GET', '/plex-discover/library/sections/watchlist/all', headers => \%PJ)
       ->{json}{MediaContainer}{Metadata}[0]{ratingKey}, $arr_id, 'newest first');
    is($put->('removeFromWatchlist', $arr_id)->{status}, 200, 'removeFromWatchlist: 200');
    $r = $put->('removeFromWatchlist', $arr_id);
    is($r->{status}, 409, 'again: 409');
    like($r->{content}, qr/not on the watchlist/, '... "not on the watchlist"');
    is($put->('addToWatchlist', '5d0000000000000000000000')->{status}, 404, 'unknown plex id: 404');
    is(req($f, 'GET', '/plex-discover/library/sections/watchlist/all', headers => \%PJ)
       ->{json}{MediaContainer}{totalSize}, 2, 'watchlist back to 2');

    $r = req($f, 'GET', "/plex-metadata/library/metadata/$dune?includeGuids=1", headers => \%PJ);
    is($r->{status}, 200, 'metadata provider: 200');
    is_deeply([ sort map { $_->{id} } @{ $r->{json}{MediaContainer}{Metadata}[0]{Guid} } ],
              [ 'imdb://tt15239678', 'tmdb://693134' ], '... Metadata[0].Guid[] of the catalog entry');
    $r = req($f, 'GET', "/plex-metadata/library/metadata/$dune", headers => \%PJ);
    ok(!exists $r->{json}{MediaContainer}{Metadata}[0]{Guid}, '... no Guid[] without includeGuids');
    is(req($f, 'GET', '/plex-metadata/library/metadata/5d0000000000000000000000', headers => \%PJ)
       ->{status}, 404, 'unknown id: 404');
    is(req($f, 'GET', "/plex-metadata/library/metadata/$dune?X-Plex-Token=nope")->{status}, 401,
       'metadata with a wrong token: 401');

    # Default page of 100.
    ctl($f, 'POST', 'catalog', { generate => { movies => 105 } });
    ctl($f, 'POST', 'media/plex/watchlist',
        { items => [ map { { type => 'movie', ids => { tmdb => 10000000 + $_ } } } 0 .. 104 ] });
    $r = req($f, 'GET', '/plex-discover/library/sections/watchlist/all', headers => \%PJ);
    is($r->{json}{MediaContainer}{size}, 100, 'Discover pages 100 rows by default');
    is($r->{json}{MediaContainer}{totalSize}, 107, '... of the total');
    $r = req($f, 'GET', '/plex-discover/library/sections/watchlist/all?X-Plex-Container-Start=100',
             headers => \%PJ);
    is($r->{json}{MediaContainer}{size}, 7, '... the rest on the next page');
}

# =========================================================================
# Jellyfin
# =========================================================================
my %JID;
{
    my $add = ctl($f, 'POST', 'media/jellyfin/items', { items => $seed });
    like($add->{items}[0]{id}, qr/^[0-9a-f]{32}$/, 'Jellyfin ids: 32 lower-case hex');
    $JID{$_->[0]} = $add->{items}[ $_->[1] ]{id} for ([ Arrival => 0 ], [ Inception => 1 ], [ E1 => 2 ], [ E2 => 3 ]);
    $JID{series} = $add->{items}[2]{show_id};

    my $list = "/Items?userId=$JUID&Recursive=true&IncludeItemTypes=Movie,Episode"
             . '&Fields=ProviderIds,DateCreated,Path&EnableUserData=true';

    # --- auth ---
    is(jf($f, 'GET', $list)->{status}, 200, 'Authorization: MediaBrowser …Token="…": 200');
    is(req($f, 'GET', "/jellyfin$list",
           headers => { Authorization => 'MediaBrowser Token="fake-jellyfin-key"' })->{status},
       200, 'minimal MediaBrowser Token="…": 200');
    is(req($f, 'GET', "/jellyfin$list&ApiKey=fake-jellyfin-key")->{status}, 200, '?ApiKey=: 200');
    is(req($f, 'GET', "/jellyfin$list", headers => { 'X-Emby-Token' => 'fake-jellyfin-key' })->{status},
       200, 'legacy X-Emby-Token: 200 (default on)');
    is(req($f, 'GET', "/jellyfin$list&api_key=fake-jellyfin-key")->{status}, 200, 'legacy ?api_key=: 200');
    my $r = req($f, 'GET', "/jellyfin$list");
    is($r->{status}, 401, 'no credentials: 401');
    is(req($f, 'GET', "/jellyfin$list",
           headers => { Authorization => 'MediaBrowser Token="wrong"' })->{status}, 401, 'wrong key: 401');
    ctl($f, 'POST', 'config', { jellyfin_legacy_auth => JSON::PP::false });
    is(req($f, 'GET', "/jellyfin$list", headers => { 'X-Emby-Token' => 'fake-jellyfin-key' })->{status},
       401, 'legacy auth off: X-Emby-Token 401');
    is(req($f, 'GET', "/jellyfin$list&api_key=fake-jellyfin-key")->{status}, 401, '... ?api_key= 401');
    is(jf($f, 'GET', $list)->{status}, 200, '... MediaBrowser still 200');
    ctl($f, 'POST', 'config', { jellyfin_legacy_auth => JSON::PP::true });
    is(jf($f, 'GET', '/Items?userId=00000000000000000000000000000001&Recursive=true')->{status}, 404,
       'another user id: 404');
    is(jf($f, 'GET', '/Items?userId=nope&Recursive=true')->{status}, 400, 'a user id that is no GUID: 400');

    # --- reading ---
    $r = jf($f, 'GET', $list);
    is($r->{json}{TotalRecordCount}, 4, 'TotalRecordCount 4');
    is($r->{json}{StartIndex}, 0, 'StartIndex 0');
    my $d = http_date($r->{headers}{date});
    ok(defined $d && abs($d - fake_now($f)) < 5, 'Date header (RFC 7231) from the fake clock');
    my $arr = by_title($r->{json}{Items}, 'Arrival');
    my $inc = by_title($r->{json}{Items}, 'Inception');
    my $e1 = by_title($r->{json}{Items}, 'Good News About Hell');
    is($arr->{Id}, $JID{Arrival}, 'Arrival: Id');
    is($arr->{Type}, 'Movie', '... Type Movie');
    is($arr->{ProductionYear}, 2016, '... ProductionYear');
    ok($arr->{RunTimeTicks} > 10_000_000 * 60, '... RunTimeTicks');
    is_deeply($arr->{ProviderIds}, { Imdb => 'tt2543164', Tmdb => '329865' }, '... ProviderIds as strings');
    is($arr->{UserData}{Played}, JSON::PP::true, '... UserData.Played');
    is($arr->{UserData}{PlayCount}, 1, '... PlayCount');
    is($arr->{UserData}{LastPlayedDate}, '2025-03-02T20:47:10.0000000Z', '... LastPlayedDate, 7-digit fraction');
    is($arr->{UserData}{Rating}, 8, '... Rating');
    is($arr->{UserData}{IsFavorite}, JSON::PP::false, '... IsFavorite');
    is($arr->{UserData}{PlaybackPositionTicks}, 0, '... PlaybackPositionTicks');
    ok(defined $arr->{UserData}{Key}, '... Key');
    ok(!exists $inc->{UserData}{LastPlayedDate}, 'Inception: no LastPlayedDate');
    ok(!exists $inc->{UserData}{Rating}, '... no Rating');
    is($e1->{Type}, 'Episode', 'episode: Type');
    is($e1->{SeriesName}, 'Severance', '... SeriesName');
    is($e1->{SeriesId}, $JID{series}, '... SeriesId');
    ok($e1->{SeasonId}, '... SeasonId');
    is($e1->{ParentIndexNumber}, 1, '... ParentIndexNumber');
    is($e1->{IndexNumber}, 1, '... IndexNumber');
    is($e1->{ProviderIds}{Tvdb}, '8603573', "... the episode's own ProviderIds");
    $r = jf($f, 'GET', "/Items/$JID{series}?userId=$JUID");
    is($r->{json}{Type}, 'Series', 'GET /Items/{SeriesId}: a Series');
    is($r->{json}{ProviderIds}{Tvdb}, '371980', '... with the show ids');
    $r = jf($f, 'GET', "/Items?userId=$JUID&Recursive=true&IncludeItemTypes=Movie");
    ok(!exists $r->{json}{Items}[0]{ProviderIds}, 'no ProviderIds without Fields=ProviderIds');
    $r = jf($f, 'GET', "/items?USERID=$JUID&recursive=TRUE&includeitemtypes=movie&fields=providerids");
    is($r->{json}{TotalRecordCount}, 2, 'query names and values without case');
    ok($r->{json}{Items}[0]{ProviderIds}, '... Fields honoured');
    $r = jf($f, 'GET', "/Items?userId=$JUID");
    is_deeply([ map { $_->{Type} } @{ $r->{json}{Items} } ], [ 'CollectionFolder', 'CollectionFolder' ],
              'without Recursive=true: only the library folders');
    $r = jf($f, 'GET', "/Items?Recursive=true&IncludeItemTypes=Movie");
    ok(!exists $r->{json}{Items}[0]{UserData}, 'without userId: no UserData');
    $r = jf($f, 'GET', "$list&StartIndex=1&Limit=2");
    is(scalar @{ $r->{json}{Items} }, 2, 'Limit 2: two items');
    is($r->{json}{StartIndex}, 1, '... StartIndex 1');
    is($r->{json}{TotalRecordCount}, 4, '... TotalRecordCount still 4');
    $r = jf($f, 'GET', "$list&StartIndex=4&Limit=2");
    is(scalar @{ $r->{json}{Items} }, 0, 'past the end: no items');
    is(jf($f, 'GET', "$list&enableTotalRecordCount=false")->{json}{TotalRecordCount}, 0,
       'enableTotalRecordCount=false: 0');
    is(jf($f, 'GET', "$list&IsPlayed=true")->{json}{TotalRecordCount}, 2, 'IsPlayed=true: 2');
    is(jf($f, 'GET', "$list&IsPlayed=false")->{json}{TotalRecordCount}, 2, 'IsPlayed=false: 2');
    is(jf($f, 'GET', "$list&anyProviderIdEquals=imdb.tt2543164")->{json}{TotalRecordCount}, 4,
       'anyProviderIdEquals is ignored, as Jellyfin 10.11 does');
    $r = jf($f, 'GET', "$list&SortBy=DatePlayed&SortOrder=Descending");
    is($r->{json}{Items}[0]{Name}, 'Arrival', 'SortBy=DatePlayed descending: latest play first');
    is(jf($f, 'GET', "$list&IsPlayed=maybe")->{status}, 400, 'malformed boolean: 400');

    # --- MinDateLastSavedForUser, with the Date header as watermark ---
    $r = jf($f, 'GET', "$list&MinDateLastSavedForUser=2000-01-01T00:00:00.0000000Z");
    is($r->{json}{TotalRecordCount}, 2, 'MinDateLastSavedForUser: the items with user data');
    my $mark = http_date($r->{headers}{date});
    ctl($f, 'POST', 'clock', { advance_s => 60 });
    my $since = "$list&MinDateLastSavedForUser=" . iso7($mark + 30);
    is(jf($f, 'GET', $since)->{json}{TotalRecordCount}, 0, '... nothing saved since the watermark');
    $r = jf($f, 'POST', "/UserPlayedItems/$JID{Inception}?userId=$JUID&datePlayed=2025-01-01T10:00:00.000Z");
    is($r->{status}, 200, 'POST /UserPlayedItems (ISO datePlayed): 200');
    is($r->{json}{Played}, JSON::PP::true, '... UserItemDataDto Played');
    is($r->{json}{PlayCount}, 1, '... PlayCount 1');
    is($r->{json}{LastPlayedDate}, '2025-01-01T10:00:00.0000000Z', '... LastPlayedDate = datePlayed');
    $r = jf($f, 'GET', $since);
    is_deeply([ map { $_->{Id} } @{ $r->{json}{Items} } ], [ $JID{Inception} ],
              'MinDateLastSavedForUser finds the write (an old datePlayed, saved now)');
    $r = jf($f, 'POST', "/UserPlayedItems/$JID{Inception}?userId=$JUID&datePlayed=20250102030405");
    is($r->{json}{PlayCount}, 2, 'yyyyMMddHHmmss datePlayed: PlayCount 2');
    is($r->{json}{LastPlayedDate}, '2025-01-02T03:04:05.0000000Z', '... LastPlayedDate');
    $r = jf($f, 'POST', "/UserPlayedItems/$JID{Inception}?userId=$JUID&datePlayed=yesterday");
    is($r->{status}, 400, 'malformed datePlayed: 400');
    like($r->{headers}{'content-type'}, qr{application/problem\+json}, '... problem JSON');
    ok($r->{json}{errors}{datePlayed}, '... naming datePlayed');
    $r = jf($f, 'POST', "/UserPlayedItems/$JID{E2}?userId=$JUID");
    my $now = fake_now($f);
    is($r->{json}{PlayCount}, 1, 'no datePlayed: a play');
    my ($y, $mo, $dd, $hh, $mi, $ss) = $r->{json}{LastPlayedDate} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.\d{7}Z$/;
    ok(defined $y && abs(timegm($ss, $mi, $hh, $dd, $mo - 1, $y) - $now) < 5, '... at the fake now');
    is(jf($f, 'DELETE', "/UserPlayedItems/$JID{Inception}?userId=$JUID")->{json}{Played}, JSON::PP::false,
       'DELETE /UserPlayedItems: Played false');
    $r = jf($f, 'GET', "/Items/$JID{Inception}?userId=$JUID");
    is($r->{json}{UserData}{PlayCount}, 0, '... PlayCount 0');
    ok(!exists $r->{json}{UserData}{LastPlayedDate}, '... LastPlayedDate gone');
    is(jf($f, 'POST', "/UserPlayedItems/00000000000000000000000000000abc?userId=$JUID")->{status}, 404,
       'unknown item: 404');
    is(jf($f, 'POST', "/UserPlayedItems/$JID{Inception}")->{status}, 404,
       'no userId on a write (an API key has no user): 404');
    is(jf($f, 'POST', "/Users/$JUID/PlayedItems/$JID{Inception}")->{json}{Played}, JSON::PP::true,
       'legacy POST /Users/{uid}/PlayedItems: played');
    (my $dashed = $JID{Inception}) =~ s/^(.{8})(.{4})(.{4})(.{4})/$1-$2-$3-$4-/;
    is(jf($f, 'DELETE', "/Users/$JUID/PlayedItems/" . uc $dashed)->{json}{Played}, JSON::PP::false,
       '... unplayed by a dashed upper-case id');

    is(jf($f, 'POST', "/UserFavoriteItems/$JID{Arrival}?userId=$JUID")->{json}{IsFavorite}, JSON::PP::true,
       'POST /UserFavoriteItems: IsFavorite');
    is(jf($f, 'GET', "$list&IsFavorite=true")->{json}{Items}[0]{Id}, $JID{Arrival}, '... IsFavorite=true finds it');
    jf($f, 'DELETE', "/Users/$JUID/FavoriteItems/$JID{Arrival}");
    is(jf($f, 'GET', "$list&IsFavorite=true")->{json}{TotalRecordCount}, 0, '... legacy DELETE removes it');

    my $ud = "/UserItems/$JID{E1}/UserData?userId=$JUID";
    $r = jf($f, 'POST', $ud, { Rating => 9.5 }, 'Content-Type' => 'application/json');
    is($r->{status}, 200, 'POST UserData {Rating}: 200');
    is($r->{json}{Rating}, 9.5, '... Rating 9.5');
    is($r->{json}{Played}, JSON::PP::true, '... other fields unchanged');
    $r = jf($f, 'POST', $ud, { isFavorite => JSON::PP::true }, 'Content-Type' => 'application/json');
    is($r->{json}{Rating}, 9.5, 'a partial body leaves Rating alone');
    is($r->{json}{IsFavorite}, JSON::PP::true, '... and sets IsFavorite (name without case)');
    $r = jf($f, 'POST', $ud, { Rating => 0 }, 'Content-Type' => 'application/json');
    ok(!exists $r->{json}{Rating}, 'Rating 0 clears');
    jf($f, 'POST', $ud, { Rating => 4 }, 'Content-Type' => 'application/json');
    $r = jf($f, 'POST', $ud, '{"Rating":null}', 'Content-Type' => 'application/json');
    ok(!exists $r->{json}{Rating}, 'Rating null clears');
    $r = jf($f, 'POST', $ud, { Played => JSON::PP::false, PlaybackPositionTicks => 123_000_000 },
            'Content-Type' => 'application/json');
    is($r->{json}{Played}, JSON::PP::false, 'Played false');
    is($r->{json}{PlaybackPositionTicks}, 123_000_000, '... PlaybackPositionTicks');
    $r = jf($f, 'POST', $ud, { LastPlayedDate => '2024-12-24T18:00:00Z', Played => JSON::PP::true },
            'Content-Type' => 'application/json');
    is($r->{json}{LastPlayedDate}, '2024-12-24T18:00:00.0000000Z', 'LastPlayedDate set');
    is(jf($f, 'POST', $ud, { Rating => 'high' }, 'Content-Type' => 'application/json')->{status}, 400,
       'a Rating of the wrong type: 400');
    is(jf($f, 'GET', "/Items/$JID{E1}?userId=$JUID")->{json}{UserData}{LastPlayedDate},
       '2024-12-24T18:00:00.0000000Z', 'GET /Items/{id} reads the change back');

    # --- control mark ---
    ctl($f, 'POST', 'clock', { advance_s => 60 });
    $r = jf($f, 'GET', "/Items?userId=$JUID&Recursive=true&Limit=0");
    my $wm = iso7(http_date($r->{headers}{date}));
    ctl($f, 'POST', 'media/jellyfin/mark', { id => $JID{Arrival}, played => JSON::PP::true,
                                            at => '2025-05-05T05:05:05Z' });
    $r = jf($f, 'GET', "$list&MinDateLastSavedForUser=$wm");
    is_deeply([ map { $_->{Id} } @{ $r->{json}{Items} } ], [ $JID{Arrival} ],
              'a play in the server UI (control mark) shows in the next delta');
    is($r->{json}{Items}[0]{UserData}{PlayCount}, 2, '... PlayCount 2');
    is($r->{json}{Items}[0]{UserData}{LastPlayedDate}, '2025-05-05T05:05:05.0000000Z', '... at');

    # --- the quirk knob ---
    ctl($f, 'POST', 'config', { jellyfin_played_quirk => JSON::PP::true });
    $r = jf($f, 'POST', "/UserPlayedItems/$JID{Arrival}?userId=$JUID");
    is($r->{json}{PlayCount}, 2, 'jellyfin_played_quirk: no datePlayed does not count a play');
    is($r->{json}{LastPlayedDate}, '2025-05-05T05:05:05.0000000Z', '... and keeps LastPlayedDate');
    ctl($f, 'POST', 'config', { jellyfin_played_quirk => JSON::PP::false });
    ctl($f, 'POST', 'clock', { offset_s => 0 });
}

# =========================================================================
# Emby
# =========================================================================
{
    my $add = ctl($f, 'POST', 'media/emby/items', { items => $seed });
    my %EID;
    $EID{$_->[0]} = $add->{items}[ $_->[1] ]{id} for ([ Arrival => 0 ], [ Inception => 1 ], [ E1 => 2 ]);
    is($EID{Arrival}, '50001', 'Emby ids: decimal strings from 50001');
    my $list = "/Users/$EUID/Items?Recursive=true&IncludeItemTypes=Movie,Episode&Fields=ProviderIds,UserData";

    my $r = emby($f, 'GET', $list);
    is($r->{status}, 200, 'X-Emby-Token: 200');
    is($r->{json}{TotalRecordCount}, 4, '... TotalRecordCount 4');
    ok(http_date($r->{headers}{date}), '... Date header');
    my $arr = by_title($r->{json}{Items}, 'Arrival');
    is($arr->{UserData}{LastPlayedDate}, '2025-03-02T20:47:10.0000000Z', '... LastPlayedDate');
    is($arr->{ProviderIds}{Imdb}, 'tt2543164', '... ProviderIds');
    is(req($f, 'GET', "/emby$list",
           headers => { 'X-Emby-Authorization' => 'MediaBrowser Client="wr", Device="d", DeviceId="1", '
                                                  . 'Version="1", Token="fake-emby-key"' })->{status},
       200, 'X-Emby-Authorization …Token="…": 200');
    is(req($f, 'GET', "/emby$list&api_key=fake-emby-key")->{status}, 200, '?api_key=: 200');
    is(req($f, 'GET', "/emby$list")->{status}, 401, 'no credentials: 401');
    is(req($f, 'GET', "/emby$list", headers => { 'X-Emby-Token' => 'fake-jellyfin-key' })->{status}, 401,
       "Jellyfin's key: 401");
    $r = emby($f, 'GET', "/emby$list");
    is($r->{status}, 200, '/emby/emby/Users/…: 200');
    is($r->{json}{TotalRecordCount}, 4, '... the same library');
    is(emby($f, 'GET', '/Users/00000000000000000000000000000001/Items?Recursive=true')->{status}, 404,
       'another user: 404');
    $r = emby($f, 'GET', "$list&AnyProviderIdEquals=imdb.tt2543164,tmdb.1");
    is_deeply([ map { $_->{Id} } @{ $r->{json}{Items} } ], [ $EID{Arrival} ], 'AnyProviderIdEquals honoured');
    $r = emby($f, 'GET', "/Users/$EUID/Items/$EID{E1}");
    is($r->{json}{SeriesName}, 'Severance', 'GET /Users/{uid}/Items/{id}: an episode');
    my $sid = $r->{json}{SeriesId};
    is(emby($f, 'GET', "/Users/$EUID/Items/$sid")->{json}{ProviderIds}{Tvdb}, '371980',
       '... its SeriesId has the show ids');

    $r = emby($f, 'POST', "/Users/$EUID/PlayedItems/$EID{Inception}?DatePlayed=20250302204710");
    is($r->{status}, 200, 'POST PlayedItems?DatePlayed=yyyyMMddHHmmss: 200');
    is($r->{json}{LastPlayedDate}, '2025-03-02T20:47:10.0000000Z', '... LastPlayedDate');
    is($r->{json}{PlayCount}, 1, '... PlayCount');
    is(emby($f, 'POST', "/Users/$EUID/PlayedItems/$EID{Inception}?DatePlayed=2025-03-02T20:47:10Z")->{status},
       400, 'an ISO DatePlayed: 400 (Emby takes yyyyMMddHHmmss)');
    is(emby($f, 'GET', "$list&IsPlayed=true")->{json}{TotalRecordCount}, 3, 'IsPlayed=true sees it');
    is(emby($f, 'DELETE', "/Users/$EUID/PlayedItems/$EID{Inception}")->{json}{Played}, JSON::PP::false,
       'DELETE PlayedItems: unplayed');
    is(emby($f, 'POST', "/Users/$EUID/FavoriteItems/$EID{E1}")->{json}{IsFavorite}, JSON::PP::true,
       'POST FavoriteItems');
    is(emby($f, 'GET', "$list&IsFavorite=true")->{json}{TotalRecordCount}, 1, '... IsFavorite=true');
    $r = emby($f, 'POST', "/Users/$EUID/Items/$EID{Arrival}/UserData", { Rating => 6 },
              'Content-Type' => 'application/json');
    is($r->{json}{Rating}, 6, 'POST UserData {Rating}: 6');
    is(by_title(emby($f, 'GET', $list)->{json}{Items}, 'Arrival')->{UserData}{Rating}, 6, '... read back');
    is(emby($f, 'POST', "/Users/$EUID/PlayedItems/99999")->{status}, 404, 'unknown item: 404');
}

# =========================================================================
# Request log, faults, state, reset
# =========================================================================
{
    my $log = ctl($f, 'GET', 'requests?provider=plex&bodies=0');
    ok(@$log > 10, 'request log: Plex requests under provider "plex"');
    ok(!(grep { $_->{provider} ne 'plex' } @$log), '... only plex');
    ok((grep { $_->{endpoint} eq '/library/sections/1/all' } @$log), '... endpoint without the prefix');
    ok((grep { $_->{endpoint} eq '/:/scrobble' && $_->{write} } @$log), '... scrobbles count as writes');
    for my $p (qw(plex-discover plex-metadata jellyfin emby)) {
        ok(scalar @{ ctl($f, 'GET', "requests?provider=$p&bodies=0") }, "... and \"$p\"");
    }
    ok((grep { $_->{endpoint} =~ m{^/Users/} } @{ ctl($f, 'GET', 'requests?provider=emby&bodies=0') }),
       'Emby endpoints lose the optional /emby');

    ctl($f, 'POST', 'faults', { provider => 'jellyfin', method => 'POST', path => '/jellyfin/UserPlayedItems',
                                status => 503 });
    my $inc = ctl($f, 'GET', 'media/jellyfin/items')->{items}[1];
    is(jf($f, 'POST', "/UserPlayedItems/$inc->{id}?userId=$JUID")->{status}, 503,
       'fault rule for jellyfin: 503');
    is(ctl($f, 'GET', 'media/jellyfin/items')->{items}[1]{play_count}, $inc->{play_count},
       '... nothing changed');
    ctl($f, 'POST', 'faults', { provider => 'emby', path => '/users/', method => 'POST',
                                accept_but_drop => JSON::PP::true });
    my $r = emby($f, 'POST', "/emby/Users/$EUID/FavoriteItems/50002");
    is($r->{status}, 200, 'accept_but_drop on emby: 200');
    is($r->{json}{IsFavorite}, JSON::PP::true, '... says favourite');
    is(emby($f, 'GET', "/Users/$EUID/Items/50002")->{json}{UserData}{IsFavorite}, JSON::PP::false,
       '... but it never shows');
    ctl($f, 'POST', 'faults', { provider => 'plex-discover', status => 500 });
    is(req($f, 'GET', '/plex-discover/library/sections/watchlist/all', headers => \%PJ)->{status}, 500,
       'fault rule for plex-discover');
    is(req($f, 'GET', '/plex/library/sections', headers => \%PJ)->{status}, 200, '... not for plex');
    ctl($f, 'DELETE', 'faults');

    my $st = ctl($f, 'GET', 'state');
    ok($st->{plex}{items} && $st->{jellyfin}{items} && $st->{emby}{items}, '/_fake/state has the libraries');
    ctl($f, 'POST', 'reset', {});
    is(scalar @{ ctl($f, 'GET', 'media/plex/items')->{items} }, 0, 'reset empties the Plex library');
    is(scalar @{ ctl($f, 'GET', 'media/plex/watchlist')->{items} }, 0, '... the watchlist');
    is(jf($f, 'GET', "/Items?userId=$JUID&Recursive=true&IncludeItemTypes=Movie")->{json}{TotalRecordCount},
       0, '... and Jellyfin');
}

# =========================================================================
# 100,000 items in pages of 500
# =========================================================================
{
    ctl($f, 'POST', 'catalog', { generate => { movies => 90000, shows => 100, seasons => 1, episodes => 100 } });
    my $g = ctl($f, 'POST', 'media/plex/generate',
                { from_catalog => JSON::PP::true, played_fraction => 0.5, rated_fraction => 0.2, seed => 1 });
    ok($g->{added} >= 100000, "generate: $g->{added} Plex items");
    ctl($f, 'POST', 'media/jellyfin/generate', { from_catalog => JSON::PP::true, played_fraction => 0.5, seed => 2 });

    my ($n, $start, $total, $t0, @page_s) = (0, 0, undef, time);
    while (1) {
        my $t = time;
        my $r = req($f, 'GET', '/plex/library/sections/1/all?type=1&includeGuids=1',
                    headers => { %PJ, 'X-Plex-Container-Start' => $start, 'X-Plex-Container-Size' => 500 },
                    raw => 1);
        die "page $start: $r->{status}" unless $r->{status} == 200;
        push @page_s, time - $t;
        ($total) = $r->{content} =~ /"totalSize":(\d+)/;
        $n += () = $r->{content} =~ /"ratingKey":/g;
        $start += 500;
        last if $start >= $total;
    }
    my $plex_s = time - $t0;
    is($n, $total, "paged through all $total Plex movies");
    ok($plex_s < 30, sprintf('... in %.1f s', $plex_s));
    my $late = 0;
    $late += $_ for @page_s[-20 .. -1];
    my $early = 0;
    $early += $_ for @page_s[1 .. 20];
    ok($late < 5 * $early + 1, sprintf('... late pages (%.2f s) no slower than early ones (%.2f s)', $late, $early));

    ($n, $start, $t0) = (0, 0, time);
    while (1) {
        my $r = req($f, 'GET', "/jellyfin/Items?userId=$JUID&Recursive=true&IncludeItemTypes=Movie,Episode"
                    . "&Fields=ProviderIds&IsPlayed=true&StartIndex=$start&Limit=500", headers => \%JH,
                    raw => 1);
        die "page $start: $r->{status}" unless $r->{status} == 200;
        ($total) = $r->{content} =~ /"TotalRecordCount":(\d+)/;
        $n += () = $r->{content} =~ /"Type":"(?:Movie|Episode)"/g;
        $start += 500;
        last if $start >= $total;
    }
    is($n, $total, "paged through all $total played Jellyfin items");
    ok(time - $t0 < 30, sprintf('... in %.1f s', time - $t0));
}

done_testing();

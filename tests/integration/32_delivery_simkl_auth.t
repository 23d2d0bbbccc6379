# SIMKL as a target (one watch per session, history adds, never two writes
# at once or within a second), and the `watchrelay auth` flows for Trakt
# (device code) and SIMKL (PIN) against the fake.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use Time::HiRes qw(sleep time);

my $t = WRTest->new;
$t->start_redis;
$t->start_fake('--device-interval-s', '1', '--pin-interval-s', '1');
$t->start_daemon(
    providers => { simkl => $t->simkl_provider },
    routes => [ { from => [qw(plex emby)], to => ['simkl'], kinds => [qw(scrobble history)] } ],
);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

sub simkl { $t->fake('GET', '/_fake/state')->{simkl} }

for my $f (qw(episode_play episode_pause episode_resume episode_scrobble_a1_1 episode_stop_no_viewoffset)) {
    is($t->send_fixture('plex', $f)->{status}, 200, "plex $f");
}
is($t->send_fixture('emby', 'movie_playback_stop_a3_1')->{status}, 200, 'emby completed stop');
ok($t->wait_delivered(40), 'delivered') or diag $t->daemon_log;
my $s = simkl();
my @stops = grep { $_->{endpoint} =~ /stop/ } @{ $s->{scrobbles} };
is(scalar @stops, 2, 'one /scrobble/stop per real watch (Plex session, Emby movie)')
    or diag explain $s->{scrobbles};
my @w = grep { $_->{write} } @{ $t->fake('GET', '/_fake/requests?provider=simkl&bodies=0') };
my $min = 1e9;
for my $i (1 .. $#w) {
    my $d = $w[$i]{t_ms} - ($w[ $i - 1 ]{done_ms} // $w[ $i - 1 ]{t_ms});
    $min = $d if $d < $min;
}
cmp_ok($min, '>=', 0, 'SIMKL writes never overlap');
is(scalar(grep { $_->{status} == 429 } @w), 0, 'and never hit the write limit');

# auth trakt: device code, approved through the fake's control API.
my $bin = WRTest::bin();
my $cfgp = "$t->{dir}/auth.json";
$t->write_config({ state_dir => "$t->{dir}/authstate",
    providers => { trakt => { base_url => $t->fake_url('/trakt'), client_id => 'fake-client-id',
                              client_secret => 'fake-client-secret' },
                   simkl => { base_url => $t->fake_url('/simkl'), client_id => 'fake-client-id' } } });
rename "$t->{dir}/watchrelay.json", $cfgp;
for my $p (qw(trakt simkl)) {
    my $pid = open(my $fh, '-|', "$bin -c $cfgp auth $p 2>&1") // die;
    my $first = <$fh> // '';
    like($first, qr/Open \S+ and enter the code \S+/, "auth $p prints where to go and the code");
    sleep 0.5;
    $t->fake('POST', '/_fake/approve', { provider => $p });
    local $/;
    my $rest = <$fh> // '';
    close $fh;
    is($? >> 8, 0, "auth $p exits 0 once approved") or diag $rest;
    my $f = "$t->{dir}/authstate/auth/$p.json";
    ok(-f $f, "auth $p saved the tokens");
    is((stat $f)[2] & 0777, 0600, 'mode 0600');
}

is($t->stop_daemon('TERM') >> 8, 0, 'stops cleanly');
done_testing;

# Two daemons share one Redis and one target (scaling out with roles): the
# target's lease keeps its writes serialized and the shared rate limiter
# keeps them at 1/s, and every event is delivered once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use Time::HiRes qw(sleep time);

my $a = WRTest->new;
$a->start_redis;
$a->start_fake;
$a->fake('POST', '/_fake/catalog', { generate => { movies => 100, tmdb_start => 10000000 } });
my %cfg = (
    providers => { trakt => $a->trakt_provider },
    routes => [ { from => ['emby'], to => ['trakt'], kinds => ['history'] } ],
);
$a->start_daemon(%cfg);
$a->wait_ready or BAIL_OUT('A not ready: ' . $a->daemon_log);
my $b = WRTest->new;
$b->{serve_args} = [ '--roles', 'dispatch' ];
$b->start_daemon(%cfg, redis => 'unix:' . $a->sock);
ok($b->wait_ready(10), 'a second, dispatch-only daemon on the same Redis');

sub markplayed {
    my ($i) = @_;
    my $tmdb = 10000000 + $i;
    return sprintf('{"Title":"x","Date":"2025-03-02T21:%02d:00.0000000Z","Event":"item.markplayed",'
        . '"User":{"Name":"dana","Id":"u1"},"Item":{"Name":"Movie %d","Id":"%d","Type":"Movie",'
        . '"ProviderIds":{"Tmdb":"%d"}},"Server":{"Name":"e","Id":"s1","Version":"4.8.10.0"}}',
        $i % 60, $i, $tmdb, $tmdb);
}

my $accepted = 0;
for my $i (1 .. 30) {
    $accepted++ if $a->post($a->hook_path('emby'), markplayed($i),
        'Content-Type' => 'application/json')->{status} == 200;
    sleep 0.1;
}
is($accepted, 30, '30 events accepted');
ok($a->wait_delivered(60), 'delivered') or diag $a->daemon_log;
my %n;
$n{ $_->{movie}{ids}{tmdb} // 0 }++ for @{ $a->fake('GET', '/_fake/state')->{trakt}{history} };
is(scalar(grep { ($n{ 10000000 + $_ } // 0) == 1 } 1 .. 30), 30, 'every event delivered exactly once');
my @w = grep { $_->{write} } @{ $a->fake('GET', '/_fake/requests?provider=trakt&bodies=0') };
cmp_ok(scalar @w, '>=', 2, 'in several requests');
my ($min, $overlap) = (1e9, 0);
for my $i (1 .. $#w) {
    my $d = $w[$i]{t_ms} - $w[ $i - 1 ]{t_ms};
    $min = $d if $d < $min;
    $overlap++ if $w[$i]{t_ms} < ($w[ $i - 1 ]{done_ms} // 0);
}
cmp_ok($min, '>=', 1000, 'two processes together never write twice within a second');
is($overlap, 0, 'and never two writes at once');
my $holder = $a->redis('GET', 'wr:lease:trakt') // '';
ok($holder eq "$1-$a->{port}" || $holder eq "$1-$b->{port}", "one daemon holds the trakt lease ($holder)")
    if $holder =~ /^(.*)-\d+$/;
done_testing;

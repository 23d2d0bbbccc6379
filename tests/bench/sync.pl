# Reconcile benchmark (run by tests/bench/sync.sh from `make bench`).
#
# A Trakt -> SIMKL pair (history and ratings) with BENCH_SYNC_PLAYS
# (100,000) history plays and BENCH_SYNC_RATINGS (20,000) ratings on each
# side, served by the fakes (their rate limits off). 95 % of the plays and
# 90 % of the ratings agree, so the plan has real work in it. Runs
# `watchrelay sync --dry-run --json` three times and prints, as medians,
# the planning step alone (wall, CPU, and its peak RSS: freed read buffers
# are returned and the kernel's peak counter reset before planning, so it
# holds the rows being planned and the plan, not the JSON already parsed) and the
# whole run (wall, reads), with items/s. Targets: planning < 1 s and
# < 150 MB; the whole run bounded by the fakes' paging.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../integration/lib";
use WRTest;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);

$| = 1;
my $N = 0 + ($ENV{BENCH_SYNC_PLAYS} // 100000);
my $NR = 0 + ($ENV{BENCH_SYNC_RATINGS} // 20000);
my $TMDB0 = 10000000;

my $t = WRTest->new;
$t->start_redis;
$t->start_fake('--no-rate-limit');
my $true = JSON::PP::true;
$t->{port} = WRTest::free_port();
$t->{cfg} = $t->config(
    providers => { trakt => $t->trakt_provider, simkl => $t->simkl_provider },
    pairs => [ { id => 'bench', source => 'trakt', target => 'simkl',
                 features => { history => { add => $true }, ratings => { add => $true } } } ]);
$t->write_config($t->{cfg});

my $http = HTTP::Tiny->new(timeout => 300);
my $json = JSON::PP->new;
my %hdr = (
    trakt => { 'trakt-api-version' => '2', 'trakt-api-key' => 'fake-client-id',
               'Authorization' => 'Bearer fake-trakt-access-token' },
    simkl => { 'simkl-api-key' => 'fake-client-id',
               'Authorization' => 'Bearer fake-simkl-token' },
);
sub api {
    my ($prov, $path, $body) = @_;
    my $r = $http->request('POST', $t->fake_url("/$prov$path"), {
        headers => { 'Content-Type' => 'application/json', %{ $hdr{$prov} } },
        content => $json->encode($body) });
    die "$prov $path: $r->{status} " . substr($r->{content}, 0, 300) unless $r->{status} =~ /^2/;
}
sub iso { my @g = gmtime($_[0]); sprintf('%04d-%02d-%02dT%02d:%02d:%02dZ', $g[5] + 1900, $g[4] + 1, @g[3, 2, 1, 0]) }

print "sync bench: seeding $N plays and $NR ratings per side...\n";
my $t0 = time;
$t->fake('POST', '/_fake/catalog', { generate => { movies => $N, tmdb_start => $TMDB0 } });
for (my $i = 0; $i < $N; $i += 1000) {
    my $end = $i + 1000 > $N ? $N : $i + 1000;
    my (@tr, @sk);
    for my $k ($i .. $end - 1) {
        my $w = iso(1600000000 + $k * 60);
        push @tr, { ids => { tmdb => $TMDB0 + $k }, watched_at => $w };
        push @sk, { ids => { tmdb => $TMDB0 + $k }, watched_at => $w } if $k % 20 != 0;
    }
    api('trakt', '/sync/history', { movies => \@tr });
    api('simkl', '/sync/history', { movies => \@sk }) if @sk;
}
for (my $i = 0; $i < $NR; $i += 1000) {
    my $end = $i + 1000 > $NR ? $NR : $i + 1000;
    my (@tr, @sk);
    for my $k ($i .. $end - 1) {
        push @tr, { ids => { tmdb => $TMDB0 + $k }, rating => 1 + $k % 10,
                    rated_at => iso(1650000000 + $k) };
        push @sk, { ids => { tmdb => $TMDB0 + $k }, rating => $k % 10 == 3 ? 1 + ($k + 1) % 10 : 1 + $k % 10,
                    rated_at => iso(1650000000 + $k) };
    }
    api('trakt', '/sync/ratings', { movies => \@tr });
    api('simkl', '/sync/ratings', { movies => \@sk });
}
printf "  seeded in %.1f s\n", time - $t0;
print substr(JSON::PP->new->encode($t->fake("GET", "/_fake/state")->{trakt}{history}), 0, 300), "\n" if $ENV{BENCH_SYNC_DEBUG};

sub median { my @v = sort { $a <=> $b } @_; $v[ int(@v / 2) ] }
my (@wall, @plan, @cpu, @rss, @peak, @rows, @read, @adds, @rowsrss);
for my $run (1 .. 3) {
    my $s = time;
    my ($st, $out, $err) = $t->cli('sync', '--pair', 'bench', '--dry-run', '--json');
    my $w = time - $s;
    die "sync failed ($st): $err" if $st != 0;
    if ($ENV{BENCH_SYNC_DEBUG}) { print "$out\n$err\n"; print $t->fake("GET", "/_fake/requests?bodies=0") ? JSON::PP->new->encode($t->fake("GET", "/_fake/requests?bodies=0")) : ""; }
    my ($tm) = map { $json->decode($_)->{timing} } grep { /"timing"/ } split /\n/, $out;
    my $go = 0;
    for my $l (grep { /"pair"/ } split /\n/, $out) {
        my $p = $json->decode($l);
        $go += scalar grep { $_->{guard} eq 'go' } @{ $p->{ops} };
    }
    push @wall, $w; push @plan, $tm->{plan_s}; push @cpu, $tm->{plan_cpu_s};
    push @rss, $tm->{plan_rss_kb}; push @peak, $tm->{peak_rss_kb}; push @rows, $tm->{rows};
    push @read, $tm->{read_s}; push @adds, $go; push @rowsrss, $tm->{rows_rss_kb} // 0;
    printf "  run %d: whole %.2f s (reads %.2f s, peak rss %.1f MB), planning %.3f s wall / %.3f s cpu, peak rss %.1f MB, %d rows, %d operations planned\n",
        $run, $w, $tm->{read_s}, $tm->{peak_rss_kb} / 1024, $tm->{plan_s}, $tm->{plan_cpu_s},
        $tm->{plan_rss_kb} / 1024, $tm->{rows}, $go;
}
my $rows = median(@rows);
printf "sync bench (medians of 3): %d rows read (%d plays + %d ratings per side)\n", $rows, $N, $NR;
printf "  planning: %.3f s wall, %.3f s cpu, peak rss %.1f MB, of which %.1f MB are the rows read (targets < 1 s, < 150 MB) -> %.0f items/s\n",
    median(@plan), median(@cpu), median(@rss) / 1024, median(@rowsrss) / 1024, $rows / (median(@plan) || 1e-9);
printf "  whole run: %.2f s, of which reads %.2f s (%.0f%%) -> %.0f items/s; %d operations planned; process peak rss %.1f MB (the reads' JSON)\n",
    median(@wall), median(@read), 100 * median(@read) / (median(@wall) || 1e-9),
    $rows / (median(@wall) || 1e-9), median(@adds), median(@peak) / 1024;
if ($ENV{BENCH_SYNC_DEBUG}) { print "dir $t->{dir}\n"; sleep 300 }
$t->cleanup;

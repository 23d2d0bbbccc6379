# Every fixture of every source, sent as its server sends it, through the
# real daemon into a real Redis: the stream must hold exactly the expected
# events (arrival times aside), and ignored or malformed payloads nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;

my $t = WRTest->new;
$t->start_redis;
$t->start_daemon;
$t->wait_ready or BAIL_OUT('daemon never became ready: ' . $t->daemon_log);

# Arrival times differ from the fixture's clock; an event whose watched_at
# fell back to the arrival time (no date in the payload) also has an id that
# depends on it.
my ($now, $timeless);
sub strip {
    my ($ev) = @_;
    my %c = %$ev;
    delete @c{qw(received_at occurred_at)};
    delete @c{qw(id watched_at)} if $timeless;
    return \%c;
}

for my $source (qw(plex jellyfin emby tautulli)) {
    my @names = $t->fixture_names($source);
    ok(@names >= 5, "$source has fixtures") or next;
    for my $name (@names) {
        my (undef, $meta, $exp) = $t->fixture($source, $name);
        next unless $exp;
        $now = $meta->{now} // '2025-03-02T21:00:00Z';
        $timeless = grep { ($_->{watched_at} // '') eq $now } @{ $exp->{events} || [] };
        $t->redis('FLUSHALL');
        my $r = $t->send_fixture($source, $name);
        my $reply = eval { $t->decode($r->{content}) } || {};
        my @got = $t->stream_events;
        if ($exp->{events}) {
            is($r->{status}, 200, "$source/$name: 200") or diag $r->{content};
            is($reply->{events}, scalar @{ $exp->{events} }, "$source/$name: events count in reply");
            is_deeply([ map { strip($_) } @got ], [ map { strip($_) } @{ $exp->{events} } ],
                "$source/$name: stream holds the normalized events");
            is_deeply($reply->{ids}, [ map { $_->{id} } @{ $exp->{events} } ],
                "$source/$name: reply lists the event ids") unless $timeless;
        } elsif (exists $exp->{ignored}) {
            is($r->{status}, 200, "$source/$name: ignored is 200");
            is($reply->{events}, 0, "$source/$name: no events");
            like($reply->{ignored} // '', qr/\Q$exp->{ignored}\E/, "$source/$name: reason");
            is(scalar @got, 0, "$source/$name: nothing queued");
        } elsif (exists $exp->{error}) {
            is($r->{status}, 400, "$source/$name: malformed is 400");
            is($reply->{ok}, JSON::PP::false, "$source/$name: ok false");
            like($reply->{error} // '', qr/\S/, "$source/$name: an error message");
            is(scalar @got, 0, "$source/$name: nothing queued");
        }
    }
}

# The same webhook twice: the second is a duplicate, queued once.
{
    $t->redis('FLUSHALL');
    my ($name) = grep { /scrobble/ } $t->fixture_names('plex');
    my $r1 = $t->send_fixture('plex', $name);
    my $r2 = $t->send_fixture('plex', $name);
    my $a = $t->decode($r1->{content});
    my $b = $t->decode($r2->{content});
    is($a->{events}, 1, 'first delivery queued');
    is($b->{events}, 0, 'second delivery queues nothing');
    is($b->{duplicates}, 1, 'second delivery counted as a duplicate');
    is($t->stream_len, 1, 'one entry in the stream');
}

# The token may come in the query string instead of the path.
{
    $t->redis('FLUSHALL');
    my ($name) = grep { /scrobble/ } $t->fixture_names('plex');
    my $r = $t->send_fixture('plex', $name, '/hooks/plex?token=' . $t->token('plex'));
    is($r->{status}, 200, 'query token accepted');
    is($t->stream_len, 1, 'queued through the query-token form');
}

# Users not allowed by the source's config are ignored with a reason.
{
    $t->stop_daemon;
    my %src = %{ $t->config->{sources} };
    $src{plex} = { token => $t->token('plex'), users => ['someone-else'] };
    $t->start_daemon(sources => \%src);
    $t->wait_ready;
    $t->redis('FLUSHALL');
    my ($name) = grep { /scrobble/ } $t->fixture_names('plex');
    my $r = $t->send_fixture('plex', $name);
    my $reply = $t->decode($r->{content});
    is($r->{status}, 200, 'filtered user: 200');
    is($reply->{events}, 0, 'filtered user: no events');
    like($reply->{ignored}, qr/user .*not allowed/, 'filtered user: reason names the user');
    is($t->stream_len, 0, 'filtered user: nothing queued');
}

done_testing;

package WRTest;
# Integration-test helper: a throwaway redis-server on a unix socket in a temp
# dir, the real watchrelay daemon on a free loopback port, a tiny RESP client,
# and HTTP helpers. Everything started here is killed in END, failures
# included. Every wait is bounded.
use strict;
use warnings;
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

our @ALL;
use File::Basename qw(dirname);
my $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/../../..');

sub root { $ROOT }

sub bin {
    my $build = $ENV{WR_BUILD} || 'build';
    my $b = "$ROOT/$build/watchrelay";
    croak "no daemon binary at $b (run make)" unless -x $b;
    return $b;
}

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        dir    => tempdir('wrtest-XXXXXX', TMPDIR => 1, CLEANUP => 1),
        json   => JSON::PP->new->canonical,
        http   => HTTP::Tiny->new(timeout => 15, keep_alive => 0),
        tokens => { plex => 'plextoken0123456789', jellyfin => 'jftoken0123456789',
                    emby => 'embytoken0123456789', tautulli => 'tauttoken0123456789' },
        %o,
    }, $class;
    push @ALL, $self;
    return $self;
}

sub dir { $_[0]{dir} }
sub sock { "$_[0]{dir}/redis.sock" }
sub token { $_[0]{tokens}{ $_[1] } }

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1) or die "socket: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub _spawn {
    my ($self, $out, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$out.out" or die;
        open STDERR, '>>', "$out.err" or die;
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

# --- redis ---------------------------------------------------------------

sub start_redis {
    my ($self, %o) = @_;
    my $aof = $o{aof} // 1;
    my $conf = "$self->{dir}/redis.conf";
    open my $fh, '>', $conf or die;
    print $fh "port 0\nunixsocket $self->{dir}/redis.sock\nunixsocketperm 700\n",
        "dir $self->{dir}\nsave \"\"\ndaemonize no\n",
        "appendonly " . ($aof ? 'yes' : 'no') . "\nappendfsync everysec\n",
        "maxmemory-policy noeviction\nlogfile $self->{dir}/redis.log\n";
    close $fh;
    unlink $self->sock;
    $self->{redis_pid} = $self->_spawn("$self->{dir}/redis", 'redis-server', $conf);
    for (1 .. 200) {
        return 1 if eval { $self->redis('PING') eq 'PONG' };
        sleep 0.05;
    }
    croak "redis-server did not start";
}

sub stop_redis {
    my ($self) = @_;
    my $pid = delete $self->{redis_pid} or return;
    kill 'TERM', $pid;
    _reap($pid, 10);
}

sub _reap {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        return $? if $r == $pid || $r == -1;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return $?;
}

# One RESP command on a fresh connection; returns the decoded reply
# (arrays as array refs; errors die).
sub redis {
    my ($self, @args) = @_;
    my $s = IO::Socket::UNIX->new(Peer => $self->sock, Type => SOCK_STREAM)
        or die "redis connect: $!";
    $s->autoflush(1);
    print $s '*' . scalar(@args) . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
    my $r = _resp($s);
    close $s;
    return $r;
}

sub _resp {
    my ($s) = @_;
    my $line = <$s>;
    die "redis: connection closed" unless defined $line;
    $line =~ s/\r\n$//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+';
    die "redis error: $v" if $t eq '-';
    return $v + 0 if $t eq ':';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length($buf) < $v + 2) {
            my $n = read($s, $buf, $v + 2 - length($buf), length($buf));
            die "redis: short read" unless $n;
        }
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { _resp($s) } 1 .. $v ];
    }
    die "redis: bad reply '$line'";
}

# The decoded events in the stream, oldest first.
sub stream_events {
    my ($self, $prefix) = @_;
    $prefix //= 'wr:';
    my $entries = $self->redis('XRANGE', "${prefix}events", '-', '+');
    my @ev;
    for my $e (@$entries) {
        my %f = @{ $e->[1] };
        push @ev, $self->{json}->decode($f{event});
    }
    return @ev;
}

sub stream_len { $_[0]->redis('XLEN', 'wr:events') }

# --- daemon --------------------------------------------------------------

sub config {
    my ($self, %extra) = @_;
    my $cfg = {
        listen    => "127.0.0.1:$self->{port}",
        state_dir => "$self->{dir}/state",
        redis     => 'unix:' . $self->sock,
        log_level => 'debug',
        sources   => {
            plex     => { token => $self->{tokens}{plex} },
            jellyfin => { token => $self->{tokens}{jellyfin} },
            emby     => { token => $self->{tokens}{emby} },
            tautulli => { token => $self->{tokens}{tautulli} },
        },
        %extra,
    };
    return $cfg;
}

sub write_config {
    my ($self, $cfg) = @_;
    my $path = "$self->{dir}/watchrelay.json";
    open my $fh, '>', $path or die;
    print $fh $self->{json}->encode($cfg);
    close $fh;
    return $path;
}

sub start_daemon {
    my ($self, %extra) = @_;
    $self->{port} //= free_port();
    my $cfg = $self->{cfg} = $self->config(%extra);
    my $path = $self->write_config($cfg);
    $self->{daemon_pid} = $self->_spawn("$self->{dir}/daemon", bin(), '-c', $path, 'serve',
        @{ $self->{serve_args} || [] });
    for (1 .. 300) {
        my $r = $self->{http}->get($self->url('/healthz'));
        return 1 if $r->{status} == 200;
        my $dead = waitpid($self->{daemon_pid}, WNOHANG);
        croak "daemon exited at start: " . $self->daemon_log if $dead == $self->{daemon_pid};
        sleep 0.05;
    }
    croak "daemon did not answer /healthz: " . $self->daemon_log;
}

sub wait_ready {
    my ($self, $secs) = @_;
    return $self->wait_for(sub { $self->get('/readyz')->{status} == 200 }, $secs // 10);
}

sub daemon_log {
    my ($self) = @_;
    local $/;
    open my $fh, '<', "$self->{dir}/daemon.err" or return '';
    my $s = <$fh>;
    return length($s) > 4000 ? substr($s, -4000) : $s;
}

sub daemon_full_log {
    my ($self) = @_;
    local $/;
    open my $fh, '<', "$self->{dir}/daemon.err" or return '';
    return scalar <$fh>;
}

sub daemon_stdout {
    my ($self) = @_;
    local $/;
    open my $fh, '<', "$self->{dir}/daemon.out" or return '';
    return scalar <$fh>;
}

sub stop_daemon {
    my ($self, $sig) = @_;
    my $pid = delete $self->{daemon_pid} or return;
    kill($sig // 'TERM', $pid);
    return _reap($pid, 15);
}

sub url { "http://127.0.0.1:$_[0]{port}$_[1]" }

sub get { $_[0]{http}->get($_[0]->url($_[1])) }

sub post {
    my ($self, $path, $body, %headers) = @_;
    return $self->{http}->request('POST', $self->url($path),
        { headers => \%headers, content => $body });
}

sub hook_path { my ($self, $src) = @_; "/hooks/$src/" . $self->token($src) }

sub decode { $_[0]{json}->decode($_[1]) }

# Poll cond every 50 ms for at most secs seconds.
sub wait_for {
    my ($self, $cond, $secs) = @_;
    my $deadline = time + ($secs // 10);
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.05;
    }
    return $cond->() ? 1 : 0;
}

sub metric {
    my ($self, $name) = @_;
    my $r = $self->get('/metrics');
    return undef unless $r->{status} == 200;
    for my $l (split /\n/, $r->{content}) {
        return $1 + 0 if $l =~ /^\Q$name\E (\S+)$/;
    }
    return undef;
}

# A fixture case: (body bytes, content type, user agent).
sub fixture {
    my ($self, $source, $name) = @_;
    my $dir = "$ROOT/tests/fixtures/$source";
    local $/;
    open my $fh, '<:raw', "$dir/$name.body" or die "fixture $source/$name: $!";
    my $body = <$fh>;
    close $fh;
    my $meta = {};
    if (open my $mh, '<', "$dir/$name.meta") {
        $meta = $self->{json}->decode(<$mh>);
    }
    my $exp;
    if (open my $eh, '<', "$dir/$name.expected") {
        $exp = $self->{json}->decode(<$eh>);
    }
    return ($body, $meta, $exp);
}

sub fixture_names {
    my ($self, $source) = @_;
    opendir my $dh, "$ROOT/tests/fixtures/$source" or return ();
    return sort map { s/\.body$//r } grep { /\.body$/ } readdir $dh;
}

sub send_fixture {
    my ($self, $source, $name, $path) = @_;
    my ($body, $meta) = $self->fixture($source, $name);
    my %h;
    $h{'Content-Type'} = $meta->{content_type} if defined $meta->{content_type};
    $h{'User-Agent'} = $meta->{user_agent} if defined $meta->{user_agent};
    return $self->post($path // $self->hook_path($source), $body, %h);
}

# The local backup tracker's current snapshot of a feature: its items.
sub local_items {
    my ($self, $feature) = @_;
    my $dir = "$self->{dir}/state/local/$feature";
    open my $fh, '<', "$dir/CURRENT" or return ();
    my $v = <$fh>;
    close $fh;
    $v =~ s/\s+//g;
    my $file = sprintf("%s/v%06d.json", $dir, $v);
    local $/;
    open my $sh, '<', $file or return ();
    my $doc = $self->{json}->decode(<$sh>);
    return @{ $doc->{items} || [] };
}

# The /api/status JSON.
sub status {
    my ($self) = @_;
    my $r = $self->get('/api/status');
    return $r->{status} == 200 ? $self->{json}->decode($r->{content}) : {};
}

# Wait until every event is routed and every operation settled, reading
# Redis directly: the router group has no lag and nothing pending, and the
# out:* streams are empty (settled entries are deleted).
sub wait_delivered {
    my ($self, $secs, $prefix) = @_;
    $prefix //= 'wr:';
    return $self->wait_for(sub {
        my $groups = eval { $self->redis('XINFO', 'GROUPS', "${prefix}events") } or return 0;
        my $ok = 0;
        for my $g (@$groups) {
            my %g = @$g;
            next unless $g{name} eq 'router';
            return 0 unless defined $g{lag} && $g{lag} == 0 && $g{pending} == 0;
            $ok = 1;
        }
        return 0 unless $ok;
        my $keys = $self->redis('KEYS', "${prefix}out:*");
        for my $k (@$keys) {
            return 0 if $self->redis('XLEN', $k) != 0;
        }
        # Operations parked for a retry are not delivered yet.
        my $retry = $self->redis('KEYS', "${prefix}retry:*");
        for my $k (@$retry) {
            return 0 if $self->redis('ZCARD', $k) != 0;
        }
        return 1;
    }, $secs // 15);
}

# --- the fake providers (tests/fakes/fakeprov) -----------------------------

sub start_fake {
    my ($self, @args) = @_;
    my $build = $ENV{WR_BUILD} || 'build';
    my $bin = "$ROOT/$build/tests/fakes/fakeprov";
    croak "no fake at $bin (run make)" unless -x $bin;
    unlink "$self->{dir}/fake.out";
    $self->{fake_pid} = $self->_spawn("$self->{dir}/fake", $bin, '--port', '0', @args);
    for (1 .. 200) {
        if (open my $fh, '<', "$self->{dir}/fake.out") {
            my $l = <$fh> // '';
            if ($l =~ /^ready port=(\d+)/) {
                $self->{fake_port} = $1;
                return $1;
            }
        }
        sleep 0.05;
    }
    croak "fakeprov did not start";
}

sub stop_fake {
    my ($self) = @_;
    my $pid = delete $self->{fake_pid} or return;
    kill 'TERM', $pid;
    _reap($pid, 5);
}

sub fake_url { "http://127.0.0.1:$_[0]{fake_port}$_[1]" }

# GET or POST the fake's control API; decoded JSON.
sub fake {
    my ($self, $method, $path, $body) = @_;
    my $r = $self->{http}->request($method, $self->fake_url($path),
        { headers => { 'Content-Type' => 'application/json' },
          (defined $body ? (content => ref $body ? $self->{json}->encode($body) : $body) : ()) });
    croak "fake $method $path: $r->{status} $r->{content}" unless $r->{status} =~ /^2/;
    return length $r->{content} ? $self->{json}->decode($r->{content}) : {};
}

# The trakt provider block pointing at the fake, with its default secrets.
sub trakt_provider {
    my ($self) = @_;
    return { base_url => $self->fake_url('/trakt'), client_id => 'fake-client-id',
             client_secret => 'fake-client-secret',
             access_token => 'fake-trakt-access-token',
             refresh_token => 'fake-trakt-refresh-token' };
}

sub simkl_provider {
    my ($self) = @_;
    return { base_url => $self->fake_url('/simkl'), client_id => 'fake-client-id',
             access_token => 'fake-simkl-token' };
}

# The media servers' provider blocks pointing at the fake.
sub plex_provider {
    my ($self) = @_;
    return { base_url => $self->fake_url('/plex'), token => 'fake-plex-token',
             discover_url => $self->fake_url('/plex-discover'),
             metadata_url => $self->fake_url('/plex-metadata') };
}

sub jellyfin_provider {
    my ($self) = @_;
    return { base_url => $self->fake_url('/jellyfin'), api_key => 'fake-jellyfin-key',
             user_id => 'a1b2c3d4e5f60718293a4b5c6d7e8f90' };
}

sub emby_provider {
    my ($self) = @_;
    return { base_url => $self->fake_url('/emby'), api_key => 'fake-emby-key',
             user_id => '0f1e2d3c4b5a69788796a5b4c3d2e1f0' };
}

# Run a watchrelay command against the daemon's config; returns
# (exit status, stdout, stderr).
sub cli {
    my ($self, @args) = @_;
    my $path = "$self->{dir}/watchrelay.json";
    my $n = ++$self->{cli_n};
    my ($out, $err) = ("$self->{dir}/cli$n.out", "$self->{dir}/cli$n.err");
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        exec(bin(), '-c', $path, @args) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $status = $? >> 8;
    local $/;
    my ($o, $e) = ('', '');
    if (open my $fh, '<', $out) { $o = <$fh> // '' }
    if (open my $fh, '<', $err) { $e = <$fh> // '' }
    return ($status, $o, $e);
}

sub cleanup {
    my ($self) = @_;
    $self->stop_fake if $self->{fake_pid};
    $self->stop_daemon('KILL') if $self->{daemon_pid};
    $self->stop_redis if $self->{redis_pid};
}

END {
    my $rc = $?;
    $_->cleanup for @ALL;
    $? = $rc;
}

1;

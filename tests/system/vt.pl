#!/usr/bin/perl
# vt.pl: a text console (VT) for the greeter tests, with no package beyond perl-base.
#   vt.pl screen N        the screen of VT N as text (from /dev/vcsaN), one line a row
#   vt.pl type N TEXT     type TEXT on /dev/ttyN as if from its keyboard (TIOCSTI);
#                         \r in TEXT is the Enter key
#   vt.pl active          the active VT's number
#   vt.pl activate N      switch the console to VT N and wait for it
#   vt.pl disallocate N   free VT N (it must not be open or active)
# Run as root. TIOCSTI needs dev.tty.legacy_tiocsti = 1 on Linux 6.2 and later.
use strict;
use warnings;

use constant {
	TIOCSTI => 0x5412, VT_GETSTATE => 0x5603, VT_ACTIVATE => 0x5606,
	VT_WAITACTIVE => 0x5607, VT_DISALLOCATE => 0x5608,
};

sub console {
	open(my $fh, '+<', '/dev/tty0') or die "vt.pl: /dev/tty0: $!\n";
	return $fh;
}

my $cmd = shift @ARGV // '';
if ($cmd eq 'screen') {
	my $n = shift @ARGV;
	open(my $fh, '<:raw', "/dev/vcsa$n") or die "vt.pl: /dev/vcsa$n: $!\n";
	local $/;
	my $data = <$fh>;
	my ($rows, $cols) = unpack('CC', $data);
	my $cells = substr($data, 4);
	for my $r (0 .. $rows - 1) {
		my $line = join '', map { substr($cells, 2 * ($r * $cols + $_), 1) } 0 .. $cols - 1;
		$line =~ s/\s+$//;
		print "$line\n";
	}
} elsif ($cmd eq 'type') {
	my ($n, $text) = @ARGV;
	$text =~ s/\\r/\r/g;
	open(my $fh, '+<', "/dev/tty$n") or die "vt.pl: /dev/tty$n: $!\n";
	for my $c (split //, $text) {
		ioctl($fh, TIOCSTI, $c) or die "vt.pl: TIOCSTI on /dev/tty$n: $!\n";
	}
} elsif ($cmd eq 'active') {
	my $st = "\0" x 6;
	ioctl(console(), VT_GETSTATE, $st) or die "vt.pl: VT_GETSTATE: $!\n";
	print((unpack('S3', $st))[0], "\n");
} elsif ($cmd eq 'activate') {
	my $n = shift @ARGV;
	my $fh = console();
	ioctl($fh, VT_ACTIVATE, $n + 0) or die "vt.pl: VT_ACTIVATE $n: $!\n";
	ioctl($fh, VT_WAITACTIVE, $n + 0) or die "vt.pl: VT_WAITACTIVE $n: $!\n";
} elsif ($cmd eq 'disallocate') {
	my $n = shift @ARGV;
	ioctl(console(), VT_DISALLOCATE, $n + 0) or die "vt.pl: VT_DISALLOCATE $n: $!\n";
} else {
	die "usage: vt.pl screen N | type N TEXT | active | activate N | disallocate N\n";
}

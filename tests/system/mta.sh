# mta.sh: a real MTA (Debian's exim4-daemon-light) for the system tests, sourced
# as root inside a private mount namespace after private_system (private.sh), so
# that a program calling `/usr/sbin/sendmail -t -oi` gets its mail delivered.
#
# Only the private copy of /etc is configured (/etc/exim4/exim4.conf, which exim
# reads before Debian's generated configuration); the spool /var/spool/exim4 and
# /var/mail are tmpfs in the namespace, the log is /var/log/exim4 (private_system's
# tmpfs). No port is opened: messages arrive by the sendmail binary only, are
# queued, and the one daemon (a queue runner every second, in the foreground as a
# child of the caller) delivers them.
#
# Every address @stud.example.edu or @localhost (unqualified ones count as
# @localhost) goes to the Maildir of one local user, mailsink: $mta_maildir. A
# recipient in any other domain makes sendmail exit 1 (the non-SMTP ACL rejects
# the message), as does a malformed address (`no such@@`); Exim then reports the
# error to the sender by mail: such bounces (empty envelope sender) land in
# $mta_bounces, a second Maildir, never in $mta_maildir.
#
#   mta_start WORK        configure and start; sets mta_pid; nonzero if it is not up within 5 s
#   mta_wait COUNT [SECS] wait (default 10 s) until COUNT messages are in $mta_maildir
#   mta_idle [SECS]       wait (default 10 s) until the queue is empty: all delivered, bounces too
#   mta_messages          the paths of the delivered messages, oldest first
#   mta_bounce_messages   the same for $mta_bounces
#   mta_stop              stop the daemon and any queue runner or delivery it forked

mta_maildir=/home/mailsink/Maildir
mta_bounces=/home/mailsink/Bounces
mta_log=/var/log/exim4/mainlog
mta_pid=

mta_start() {	# mta_start WORK: WORK/exim.log gets the daemon's own output
	local work=$1 _
	[ -x /usr/sbin/exim4 ] || { echo "mta_start: /usr/sbin/exim4 is missing (exim4-daemon-light)" >&2; return 1; }
	# the namespace's own /etc must be the one mounted over the host's
	mountpoint -q /etc || { echo "mta_start: /etc is not a private mount" >&2; return 1; }
	id mailsink >/dev/null 2>&1 || useradd -m -U -s /usr/sbin/nologin mailsink || return 1
	mountpoint -q /var/spool/exim4 || mount -t tmpfs -o mode=0750 tmpfs /var/spool/exim4 || return 1
	chown Debian-exim:Debian-exim /var/spool/exim4
	mountpoint -q /var/mail || mount -t tmpfs -o mode=2775,gid=mail tmpfs /var/mail || return 1
	mkdir -p /var/log/exim4 && chown Debian-exim:adm /var/log/exim4 && chmod 2750 /var/log/exim4
	cat >/etc/exim4/exim4.conf <<'CONF' || return 1
# written by tests/system/mta.sh, in a private /etc
primary_hostname = mta.stud.example.edu
qualify_domain = localhost
domainlist local_domains = stud.example.edu : localhost
spool_directory = /var/spool/exim4
log_file_path = /var/log/exim4/%slog
# no daemon socket at all: no SMTP port, no notifier (an abstract socket, shared
# by every mount namespace of the host's network namespace)
daemon_smtp_ports =
notifier_socket =
tls_advertise_hosts =
keep_environment =
host_lookup =
# sendmail only spools; the daemon's queue runs deliver, in order of arrival
queue_only = true
queue_run_in_order = true
queue_run_max = 1
# the caller's From: stays as it is, no Sender: added
local_from_check = false
untrusted_set_sender = *
acl_not_smtp = acl_not_smtp

begin acl
acl_not_smtp:
  deny  message = not a local domain: $recipients
        condition = ${if forany{<, $recipients}{!match_domain{${domain:$item}}{+local_domains}}}
  accept

begin routers
bounces:
  driver = accept
  senders = :
  domains = +local_domains
  transport = bounces
sink:
  driver = accept
  domains = +local_domains
  transport = sink

begin transports
sink:
  driver = appendfile
  directory = /home/mailsink/Maildir
  maildir_format
  create_directory
  user = mailsink
  group = mailsink
  mode = 0600
  envelope_to_add
  return_path_add
  delivery_date_add
bounces:
  driver = appendfile
  directory = /home/mailsink/Bounces
  maildir_format
  create_directory
  user = mailsink
  group = mailsink
  mode = 0600
  envelope_to_add
  return_path_add

begin retry
*   *   F,2m,2s
CONF
	chmod 0644 /etc/exim4/exim4.conf
	/usr/sbin/exim4 -bV >"$work/exim-bV.out" 2>&1 || { cat "$work/exim-bV.out" >&2; return 1; }
	grep -q '^Configuration file is /etc/exim4/exim4.conf$' "$work/exim-bV.out" || { cat "$work/exim-bV.out" >&2; return 1; }
	# -q1s alone would fork into the background; -v keeps the daemon in the foreground
	/usr/sbin/exim4 -q1s -v </dev/null >"$work/exim.log" 2>&1 &
	mta_pid=$!
	for _ in $(seq 50); do
		grep -q "daemon started: pid=$mta_pid," "$mta_log" 2>/dev/null && return 0
		kill -0 "$mta_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "mta_start: exim did not start" >&2
	cat "$work/exim.log" >&2
	return 1
}

_mta_files() { find "$1/new" "$1/cur" -type f -printf '%T@ %p\n' 2>/dev/null | sort -n | cut -d' ' -f2-; }
mta_messages() { _mta_files "$mta_maildir"; }
mta_bounce_messages() { _mta_files "$mta_bounces"; }

mta_wait() {	# mta_wait COUNT [SECONDS]
	local count=$1 tenths=$((${2:-10} * 10)) i
	for ((i = 0; i <= tenths; i++)); do
		[ "$(mta_messages | wc -l)" -ge "$count" ] && return 0
		sleep 0.1
	done
	echo "mta_wait: $(mta_messages | wc -l) of $count message(s) after ${2:-10} s; queue and log:" >&2
	/usr/sbin/exim4 -bp >&2
	tail -n 20 "$mta_log" >&2
	return 1
}

mta_idle() {	# mta_idle [SECONDS]: sendmail has spooled a message (and any bounce) before it exits
	local tenths=$((${1:-10} * 10)) i
	for ((i = 0; i <= tenths; i++)); do
		[ "$(/usr/sbin/exim4 -bpc)" = 0 ] && return 0
		sleep 0.1
	done
	echo "mta_idle: still queued after ${1:-10} s:" >&2
	/usr/sbin/exim4 -bp >&2
	tail -n 20 "$mta_log" >&2
	return 1
}

_mta_children() {	# _mta_children PID: its descendants, by parent pid
	local c
	# shellcheck disable=SC2013 # the file holds pids separated by spaces
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"
		_mta_children "$c"
	done
}

mta_stop() {
	[ -n "$mta_pid" ] || return 0
	local kids p _
	# between queue runs if we can (a run is over in well under a second): a
	# queue runner outliving the daemon would be left to PID 1
	for _ in $(seq 50); do
		kids=$(_mta_children "$mta_pid")
		[ -z "$kids" ] && break
		sleep 0.1
	done
	kill "$mta_pid" 2>/dev/null
	# else a queue runner caught mid-run and the delivery it forked, by their own pids
	for p in $kids; do kill "$p" 2>/dev/null; done
	wait "$mta_pid" 2>/dev/null
	for p in $kids; do
		for _ in $(seq 30); do
			# until gone, or a zombie left for PID 1 to reap
			if [ ! -d /proc/"$p" ] || [ "$(awk '{print $3}' /proc/"$p"/stat 2>/dev/null)" = Z ]; then break; fi
			sleep 0.1
		done
	done
	mta_pid=
}

# private.sh: sourced inside a private mount namespace (unshare --mount) by
# the system tests and the sshd benchmark. A private copy of /etc and
# private /home, /run and /var/log, so the real sshd and login(1) can be
# configured and run without changing the host.
#   build  the build directory (the module, its relay, the helper, activatectl)
#   here   tests/system in the source tree

private_system() {	# private_system WORK: everything under WORK, mounted over the real paths
	mount --make-rprivate / 2>/dev/null
	cp -a /etc "$1/etc" && mount --bind "$1/etc" /etc || return 1
	mkdir -p "$1/home" && mount --bind "$1/home" /home || return 1
	mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/log || return 1
	mkdir -p /run/sshd /run/pam_activate
	: >/var/log/wtmp; : >/var/log/lastlog; install -m 0600 /dev/null /var/log/btmp
	mkdir -m 0700 "$1/db"
}

private_conf() {	# private_conf WORK [KEY = VALUE lines on stdin]: /etc/security/activate.conf
	# every path explicit: the build's compiled-in defaults may point under /usr/local
	{
		printf 'database = %s/db/activate.db\n' "$1"
		printf 'pepper_file = /etc/security/activate.pepper\nrun_dir = /run/pam_activate\n'
		printf 'email_format = %%u@stud.example.edu\n'
		cat
	} >/etc/security/activate.conf
}

# snippet_args FILE KIND: the arguments of the KIND (auth, account) line of a conf/ snippet
snippet_args() { sed -n "s/^$2 .* pam_activate\.so *//p" "$1"; }

private_pam() {	# private_pam SERVICE [SNIPPET]: the lines of conf/pam.d-SNIPPET (default SERVICE), with the build's paths
	local conf="$here/../../conf/pam.d-${2:-$1}"
	so="$build/.libs/pam_activate.so"
	args="relay=$build/.libs/pam_activate_relay.so helper=$build/activate-helper config=/etc/security/activate.conf fail_delay=0"
	[ -f "$conf" ] || return 1
	sed -i "/^@include common-auth/i auth [success=done ignore=ignore default=die] $so $args $(snippet_args "$conf" auth)" /etc/pam.d/"$1"
	sed -i "/^@include common-account/i account [success=ok ignore=ignore default=die] $so $(snippet_args "$conf" account)" /etc/pam.d/"$1"
	grep -q "^auth .*pam_activate\.so" /etc/pam.d/"$1"	# nothing inserted: no @include common-auth there
}

private_sshd() {	# private_sshd WORK [sshd_config lines on stdin]: sets port and sshd_pid
	# listen (default 127.0.0.1) and sshd_port (default: a random one) may be set
	local addr=${listen:-127.0.0.1}
	port=${sshd_port:-$((20000 + RANDOM % 20000))}
	[ -f "$1/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$1/hostkey" </dev/null
	{
		printf 'Port %s\nListenAddress %s\nHostKey %s/hostkey\nPidFile %s/sshd.pid\n' "$port" "$addr" "$1" "$1"
		printf 'UsePAM yes\nPasswordAuthentication yes\nLogLevel VERBOSE\n'
		# as Debian ships it: the snippet must turn it on for the trigger user alone
		printf 'KbdInteractiveAuthentication no\n'
		cat
		# match_users: the trigger users the snippet's Match names (a second one for a second language)
		sed "s/^Match User activate\$/Match User ${match_users:-activate}/" "$here/../../conf/sshd_config-activate"
	} >"$1/sshd_config"
	/usr/sbin/sshd -D -e -f "$1/sshd_config" 2>"$1/sshd.log" &
	sshd_pid=$!
	for _ in $(seq 50); do (exec 3<>/dev/tcp/"$addr"/"$port") 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

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

private_pam() {	# private_pam SERVICE...: the lines of conf/pam.d-SERVICE, with the build's paths
	so="$build/.libs/pam_activate.so"
	args="relay=$build/.libs/pam_activate_relay.so helper=$build/activate-helper config=/etc/security/activate.conf fail_delay=0"
	for svc in "$@"; do
		sed -i "/^@include common-auth/i auth [success=done ignore=ignore default=die] $so $args" /etc/pam.d/"$svc"
		sed -i "/^@include common-account/i account [success=ok ignore=ignore default=die] $so" /etc/pam.d/"$svc"
	done
}

private_sshd() {	# private_sshd WORK [sshd_config lines on stdin]: sets port and sshd_pid
	port=$((20000 + RANDOM % 20000))
	[ -f "$1/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$1/hostkey" </dev/null
	{
		printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s/hostkey\nPidFile %s/sshd.pid\n' "$port" "$1" "$1"
		printf 'UsePAM yes\nPasswordAuthentication yes\nLogLevel VERBOSE\n'
		# as Debian ships it: the snippet must turn it on for the trigger user alone
		printf 'KbdInteractiveAuthentication no\n'
		cat
		cat "$here/../../conf/sshd_config-activate"
	} >"$1/sshd_config"
	/usr/sbin/sshd -D -e -f "$1/sshd_config" 2>"$1/sshd.log" &
	sshd_pid=$!
	for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

#!/bin/sh
# tests/unit/slapd.sh start DIR | stop DIR: a private OpenLDAP slapd for the
# tests, configured offline (slapadd -n0) in DIR and listening on 127.0.0.1
# (SLAPD_ADDR; the campus test's bridge) only, on a free port pair
# (SLAPD_PORT and the next: fixed): ldap:// (StartTLS) and ldaps:// with a
# CA and a certificate for that address (an IP subjectAltName: libldap checks the name "localhost"
# against the machine's hostname instead) made here by openssl, and ldapi://
# in DIR. start prints
# "URI LDAPS-URI" and leaves DIR/ca.pem (the CA), DIR/other-ca.pem (a CA
# that signed nothing), DIR/bind.secret (the admin's password, 0600) and the
# base entries: dc=example,dc=edu, ou=people, ou=groups, the posixGroups
# students and staff. stop ends that slapd, by its pid, and only it.
# A missing slapd, ldap-utils or openssl fails naming the package.
set -eu
cmd=${1:?start or stop}
dir=${2:?a directory}

for t in slapd:slapd slapadd:slapd ldapadd:ldap-utils ldapsearch:ldap-utils openssl:openssl; do
	p=${t#*:}
	command -v "${t%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${t%%:*}" ] ||
		{ echo "FAIL: ${t%%:*} not found: install $p (scripts/setup does)" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin
addr=${SLAPD_ADDR:-127.0.0.1}

stop() {
	[ -f "$dir/slapd.pid" ] || return 0
	pid=$(cat "$dir/slapd.pid")
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$dir/slapd.pid"
}

certs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=test CA" -keyout "$dir/ca.key" \
		-out "$dir/ca.pem" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=other CA" -keyout "$dir/other-ca.key" \
		-out "$dir/other-ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$addr" -keyout "$dir/server.key" \
		-out "$dir/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:%s\n' "$addr" >"$dir/ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
		-days 2 -extfile "$dir/ext" -out "$dir/server.pem" 2>/dev/null
	chmod 0644 "$dir/server.key"	# slapd may run as another user on some hosts; this is a test key
}

config() {
	cat >"$dir/config.ldif" <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $dir/slapd.run.pid
olcTLSCACertificateFile: $dir/ca.pem
olcTLSCertificateFile: $dir/server.pem
olcTLSCertificateKeyFile: $dir/server.key

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: unique

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/nis.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: dc=example,dc=edu
olcRootDN: cn=admin,dc=example,dc=edu
olcRootPW: $(cat "$dir/bind.secret")
olcDbDirectory: $dir/db
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid,cn,memberUid eq
olcDbIndex: uidNumber,gidNumber eq
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by * read

dn: olcOverlay={0}unique,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcUniqueConfig
olcOverlay: {0}unique
olcUniqueURI: ldap:///?uid?sub
olcUniqueURI: ldap:///?uidNumber?sub?(objectClass=posixAccount)
LDIF
}

seed() {
	cat >"$dir/base.ldif" <<'LDIF'
dn: dc=example,dc=edu
objectClass: dcObject
objectClass: organization
dc: example
o: Example University

dn: ou=people,dc=example,dc=edu
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=edu
objectClass: organizationalUnit
ou: groups

dn: cn=students,ou=groups,dc=example,dc=edu
objectClass: posixGroup
cn: students
gidNumber: 900

dn: cn=staff,ou=groups,dc=example,dc=edu
objectClass: posixGroup
cn: staff
gidNumber: 901
LDIF
	slapadd -n1 -F "$dir/slapd.d" -l "$dir/base.ldif" -q
}

# A free port pair: slapd says so by exiting when it cannot listen.
launch() {
	base=${SLAPD_PORT:-$(( 20000 + ($$ * 7) % 20000 ))}
	for try in 0 1 2 3 4 5 6 7 8 9; do
		port=$((base + try * 2))
		[ -z "${SLAPD_PORT:-}" ] || [ "$try" = 0 ] || break
		tls=$((port + 1))
		sock=$(printf '%s/ldapi' "$dir" | sed 's,/,%2F,g')
		slapd -h "ldap://$addr:$port/ ldaps://$addr:$tls/ ldapi://$sock" -F "$dir/slapd.d" -d 0 \
			>"$dir/slapd.log" 2>&1 &
		echo $! >"$dir/slapd.pid"
		i=0
		while [ $i -lt 100 ]; do
			kill -0 "$(cat "$dir/slapd.pid")" 2>/dev/null || break
			if ldapsearch -x -H "ldap://$addr:$port/" -b "" -s base -o nettimeout=2 >/dev/null 2>&1; then
				echo "ldap://$addr:$port/ ldaps://$addr:$tls/"
				return 0
			fi
			sleep 0.05
			i=$((i + 1))
		done
		stop
	done
	echo "FAIL: slapd did not start (see $dir/slapd.log)" >&2
	exit 1
}

case $cmd in
start)
	stop
	rm -rf "$dir/slapd.d" "$dir/db"
	mkdir -p "$dir/slapd.d" "$dir/db"
	umask 077
	printf 'admin-secret-%s\n' "$$" >"$dir/bind.secret"
	umask 022
	certs
	config
	slapadd -n0 -F "$dir/slapd.d" -l "$dir/config.ldif" -q
	seed
	launch
	;;
stop)
	stop
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac

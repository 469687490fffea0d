# servers.sh: sourced by the campus tests. A private OpenLDAP slapd and a
# private PostgreSQL 15, each in a directory of its own, started as
# foreground children (reaped by the caller's wait) and stopped by pid.
# Recipes: ../shared/TESTING-NOTES.md, "Campus servers in a private sandbox".
#   ldap_base  the directory's suffix (dc=campus,dc=example)
#   ldap_admin its root DN; ldap_admin_pw its password

ldap_base=dc=campus,dc=example
ldap_admin="cn=admin,$ldap_base"
ldap_admin_pw=Campus-Admin-Pw-1

slapd_config() {	# slapd_config DIR: a cn=config LDIF for slapadd -n0
	cat <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $1/slapd.pid

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
olcAccess: to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $1/data
olcSuffix: $ldap_base
olcRootDN: $ldap_admin
olcRootPW: $ldap_admin_pw
olcDbIndex: objectClass eq
olcDbIndex: uid,uidNumber,gidNumber,memberUid eq
olcAccess: to attrs=userPassword by self write by anonymous auth by * none
olcAccess: to * by * read

dn: olcOverlay={0}unique,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcUniqueConfig
olcOverlay: {0}unique
olcUniqueURI: ldap:///?uid?sub
olcUniqueURI: ldap:///?uidNumber?sub?(objectClass=posixAccount)
LDIF
}

slapd_seed() {	# the suffix, ou=people and ou=groups
	cat <<LDIF
dn: $ldap_base
objectClass: dcObject
objectClass: organization
dc: campus
o: Campus

dn: ou=people,$ldap_base
objectClass: organizationalUnit
ou: people

dn: ou=groups,$ldap_base
objectClass: organizationalUnit
ou: groups
LDIF
}

slapd_start() {	# slapd_start DIR ADDR PORT: sets slapd_pid and ldap_uri
	mkdir -p "$1/slapd.d" "$1/data" || return 1
	slapd_config "$1" >"$1/config.ldif"
	slapadd -n0 -F "$1/slapd.d" -l "$1/config.ldif" >"$1/slapadd.log" 2>&1 || { cat "$1/slapadd.log"; return 1; }
	slapd_seed | slapadd -n1 -F "$1/slapd.d" >>"$1/slapadd.log" 2>&1 || { cat "$1/slapadd.log"; return 1; }
	ldap_uri="ldap://$2:$3/"
	slapd -h "$ldap_uri" -F "$1/slapd.d" -d 0 >"$1/slapd.log" 2>&1 &
	slapd_pid=$!
	for _ in $(seq 100); do
		ldapsearch -x -H "$ldap_uri" -b "" -s base >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	cat "$1/slapd.log"
	return 1
}

slapd_stop() { [ -n "${slapd_pid:-}" ] && kill "$slapd_pid" 2>/dev/null && wait "$slapd_pid" 2>/dev/null; slapd_pid=; }

pg_bin=/usr/lib/postgresql/15/bin
# postgres refuses root; setpriv execs, so $! is the server itself. DIR's parents must be traversable.
as_postgres() { setpriv --reuid postgres --regid postgres --init-groups -- "$@"; }

pg_start() {	# pg_start DIR ADDR PORT: sets pg_pid and pg_socket (the directory of the unix socket)
	mkdir -p "$1" && chown postgres: "$1" && chmod 0700 "$1" || return 1
	if [ ! -f "$1/data/PG_VERSION" ]; then
		as_postgres "$pg_bin/initdb" -D "$1/data" -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
			>"$1/initdb.log" 2>&1 || { cat "$1/initdb.log"; return 1; }
	fi
	pg_socket=$1
	as_postgres "$pg_bin/postgres" -D "$1/data" -k "$1" -h "$2" -p "$3" -c fsync=off \
		>"$1/postgres.log" 2>&1 &
	pg_pid=$!
	for _ in $(seq 100); do
		as_postgres "$pg_bin/pg_isready" -q -h "$1" -p "$3" && return 0
		sleep 0.05
	done
	cat "$1/postgres.log"
	return 1
}

pg_stop() { [ -n "${pg_pid:-}" ] && kill "$pg_pid" 2>/dev/null && wait "$pg_pid" 2>/dev/null; pg_pid=; }

/*
 * activation.pml: the activation protocol of pam_activate, for spin.
 *
 * One person row in the store, the account files and the home directory
 * of that person, and every process that touches them: two dialogues with
 * the same PIN, the nightly import, the help desk's PIN re-issue, rename,
 * revoke and restore, and another person's activation that allocates ids
 * from the same files.  Each process can be killed (SIGKILL) between any
 * two of its atomic steps, and is then run again from the start, on the
 * same host; a kill loses everything the process had in memory and
 * releases its flock and fcntl locks, but not its lease in the store.
 * After every process has ended, final_check runs the help desk's re-runs
 * and one dialogue that nothing kills, and checks that the person ends
 * activated with a complete account.
 *
 * Names of proctypes, inlines and labels are those of the C functions
 * (pam_activate/helper/provision.c, accounts/files.c, accounts/home.c,
 * store/sqlite.c, core/import.c, core/lease.c, tools/ctl_change.c); the
 * comment at each step says which one it is.
 * tests/model/README says what is abstracted away.  Run with
 * tests/model/check-model.sh.
 *
 * Configurations (spin -DCONFIG_NAME; see init at the end and README):
 *   DIALOGUES        two dialogues, the import, a new PIN, another person
 *   HELPDESK         a dialogue, rename, revoke/restore, import, a new PIN
 *   LOCKS            everything that takes the person lock
 *   RESET            the person active, PIN 2 issued: a forgotten password
 *   RESET_TWO_HOSTS  the same, the two dialogues on two hosts, with no
 *                    lease: the store's compare-and-swaps alone
 *   TWO_HOSTS        activation with the dialogues on two hosts, and
 *                    revoke/restore on host 1
 *   HELPDESK_TWO_HOSTS  the dialogue on host 1, the help desk on host 2
 *   LOCKS_TWO_HOSTS  every lock taker, on two hosts
 * "On two hosts": the flock under run_dir is per host, and the store and
 * the account entries are shared, so what keeps a process on host 2 apart
 * from those on host 1 is the person's lease in the store (README, "Two
 * hosts").
 * Injected bugs (spin -DBROKEN_NAME; check-model.sh --broken NAME):
 *   PIN_CAS            spend_pin without "AND pin_spent = 0"
 *   IMPORT_CAS         write_row without "AND version = V": the stale plan
 *   INTENT_LATE        record_intent after the first commit_file
 *   IDS_FROM_FILES     plan_ids takes ids free in the files, not counting
 *                      the uids that rows' intents hold (as first specified)
 *   RENAME_KEEPS_HOME  the rename's store write leaves the intent's home
 *                      at the old name (as first specified)
 *   SHADOW_KEPT        ensure_shadow keeps an existing shadow line, and its
 *                      lock marker, instead of writing it anew
 *   LEASE_LOCAL        the person lock is the host's flock only (no lease)
 *   LEASE_FIRST        the lease taken before the flock
 */

/* ---- names and ids ---------------------------------------------------- */

#define NONE 0
#define A    1	/* the name generated at activation */
#define B    2	/* the help desk's rename target */
#define Q    3	/* another person's account: only its ids matter */
#define NN   4

#define OTHER 7	/* lock holder id of the other person's dialogue */
#define FINAL 9	/* lock holder id of final_check's runs */

/* outcomes of a dialogue */
#define ENDED  1	/* nothing to do: spent, locked out, already in progress */
#define OK     2	/* "your account is ready" / "your new password is set" */
#define FAILED 3	/* a clear error: the person cannot go on by retrying */
#define MISSED 4	/* a compare-and-swap missed: "nothing was used up, try again" */

mtype = { PENDING, PROVISIONING, ACTIVE, REVOKED };

/* ---- the store: one person row (store/sqlite.c) ------------------------------ */

mtype st_state = PENDING;
byte st_version = 1;	/* bumped by every write to the row */
byte st_username = NONE;
byte st_uid = 0;	/* the intent: uid = gid; 0 = not recorded */
byte st_home = NONE;	/* the intent's home: home_base/NAME */
bit  st_pin_spent = 0;
byte st_pin_id = 1;	/* which PIN is current: 1, then 2, 3 after re-issues */
byte st_rename_to = NONE;
byte q_uid = 0;		/* the intent uid of the other person's row */

/* ---- the account files, per name (accounts/files.c) ------------------------- */

byte grp[NN];		/* /etc/group: gid of the user-private group NAME, 0 = absent */
bit  gsh[NN];		/* /etc/gshadow: NAME present */
byte pw[NN];		/* /etc/passwd: uid (= gid) of NAME, 0 = absent */
byte pw_home[NN];	/* /etc/passwd: the home field of NAME, home_base/pw_home[NAME] */
bit  sh[NN];		/* /etc/shadow: NAME present */
bit  sh_locked[NN];	/* /etc/shadow: the revoke marker (expire 1 and one '!') */
bit  mem[NN];		/* /etc/group: the members of "students" */
bit  mem_c = 1;		/* ... and member c, somebody else, who must stay */
byte home[NN];		/* home_base/NAME: 0 = absent, else its owner uid */
byte htmp[NN];		/* home_base/.NAME.activate: 0 absent, 1 made, 2 skel copied */

/* ---- locks ------------------------------------------------------------ */

byte plock = 0;		/* run_dir/person-N.lock flock on host 1: holder, 0 = free */
byte plock2 = 0;	/* the same on host 2 */
byte pwlock = 0;	/* .pwd.lock (lckpwdf) and NAME.lock: holder, 0 = free */

/*
 * The person's lease in the shared store, taken after the host's flock:
 * the holder (0 = free), the holder's host (1 or 2), and whether the
 * holder was killed.  A kill takes the flock with it but leaves the lease
 * in the store until it expires (dialogue_timeout + 60 s after it was
 * taken or renewed); lease_dead = 1 stands for "its holder is dead, so it
 * will expire": from then on it may be taken over, at any later moment.
 * A live holder's lease never expires here (README, "Two hosts").
 */
byte lease = 0;
byte lease_host = 0;
bit  lease_dead = 0;

/*
 * NO_LEASE: the person lock is the host's flock only, so two hosts are kept
 * apart by the store's compare-and-swaps alone.  That is injected bug
 * LEASE_LOCAL, and RESET_TWO_HOSTS: the forgotten password must stay safe
 * even when the lease does not hold (a holder stalled past its expiry).
 */
#if defined(BROKEN_LEASE_LOCAL) || defined(CONFIG_RESET_TWO_HOSTS)
#define NO_LEASE
#endif

/* ---- ghosts: what the checks count ------------------------------------ */

byte pwchg[4];		/* accounts_set_password runs, per PIN */
byte succ[4];		/* dialogues that ended OK, per PIN */
byte running;		/* processes that have not ended yet */
bit  held[10];		/* per process (me): holds the lease it took, alive */
byte final_outcome;

/*
 * A kill between two steps: bounded to maxc per process (a run of it and
 * its re-runs).  One kill per process puts a kill of each process at
 * every one of its steps, against every interleaving of the others; a
 * second kill of the same process only repeats a prefix of a run that the
 * retry already covers (every step is idempotent or a compare-and-swap).
 * MAXC=2 (check-model.sh --config NAME --crashes 2) runs of the default
 * configurations found nothing more (README, "Bounds").
 *
 * CRASH is also where the invariants that hold at every state are checked
 * inside a block (see "Atomic blocks" below), so that no state of a block
 * goes unchecked.
 */
#ifndef MAXC
#define MAXC 1
#endif
#define CRASH \
	assert(one_account); assert(store_knows_account); assert(members_kept); \
	assert(pin_used_once); assert(ids_distinct); assert(one_holder); \
	if :: crashes < maxc -> crashes++; goto crashed :: true fi

/*
 * The person lock (lock_person): the flock of this process's host
 * (run_dir is local), then the lease in the shared store.  The lease is
 * taken by a compare-and-swap: when it is free, when its holder is on this
 * host (that holder is dead: this process holds the host's flock, and a
 * live holder would too), or when its holder is dead and the lease expired.
 * Needs the locals me and host2.
 */
#define my_host (host2 -> 2 : 1)
#define flock_free ((!host2 && plock == 0) || (host2 && plock2 == 0))
#define take_flock if :: !host2 -> plock = me :: else -> plock2 = me fi
#define lease_free (lease == 0 || lease_host == my_host)
#define take_lease lease = me; lease_host = my_host; lease_dead = 0; held[me] = 1
/* mine: taken by this run (a kill marks it dead; taking it back clears that) */
#define lease_mine (lease == me && !lease_dead)

/* a normal end: the lease released if it is still ours, then the flocks */
#define release_locks(me) \
	if :: lease_mine -> lease = 0; lease_host = 0; lease_dead = 0 :: else fi; held[me] = 0; \
	if :: plock == me -> plock = 0 :: else fi; \
	if :: plock2 == me -> plock2 = 0 :: else fi; \
	if :: pwlock == me -> pwlock = 0 :: else fi

/* SIGKILL: the flock and the fcntl locks go with the process; the lease
 * stays in the store, its holder dead */
#define kill_locks(me) \
	if :: lease_mine -> lease_dead = 1 :: else fi; held[me] = 0; \
	if :: plock == me -> plock = 0 :: else fi; \
	if :: plock2 == me -> plock2 = 0 :: else fi; \
	if :: pwlock == me -> pwlock = 0 :: else fi

/*
 * Atomic blocks.  Every step of the C code is one step here, with a kill
 * possible before each (CRASH), but consecutive steps are grouped into one
 * atomic block where no other process can tell the difference (Lipton's
 * reduction): taking a lock may be moved later, releasing it earlier, and
 * a step on data only the holder of a lock touches (the files under
 * .pwd.lock; the home under the person lock) commutes with everything the
 * others do.  The person lock is the flock and the lease together: on two
 * hosts only the lease makes it one lock (without it, in LEASE_LOCAL and
 * RESET_TWO_HOSTS, the home is not private, and the reduction can miss
 * failures there, not invent them).  Each block has at most one step that
 * reads or writes what an unlocked process (import, issue, a host without
 * the lease) also touches: the store transactions.  So a block is: locks
 * taken, private steps, at most one store transaction, private steps, locks
 * released.
 * The other processes interleave between blocks, at every point where the
 * real code could be overtaken in a way that matters.
 */

/* ---- ids -------------------------------------------------------------- */

/*
 * plan_ids / choose_id: the lowest id that no group or passwd line uses,
 * and (the fix, see README) that no person row's intent holds: an intent
 * recorded by a dialogue that was killed before its first commit_file is
 * in the store only, and the next attempt will write that id.
 */
#ifdef BROKEN_IDS_FROM_FILES
#define id_in_store(i) false
#else
#define id_in_store(i) (st_uid == i || q_uid == i)
#endif
#define id_taken(i) (grp[A] == i || grp[B] == i || grp[Q] == i || \
		     pw[A] == i || pw[B] == i || pw[Q] == i || id_in_store(i))

inline choose_id(id)
{
	id = 1;
	do
	:: id_taken(id) -> id++
	:: else -> break
	od
}

/* ---- invariants ------------------------------------------------------- */

/*
 * One constant bit per invariant, and-ed into it, so that spin's
 * "assertion violated (...)" names the invariant that failed.
 */
bit inv_one_account = 1, inv_store_knows_account = 1, inv_members_kept = 1,
    inv_pin_used_once = 1, inv_ids_distinct = 1, inv_active_complete = 1,
    inv_spent_has_account = 1, inv_revoked_locked = 1, inv_active_member = 1,
    inv_finished = 1, inv_final_outcome = 1, inv_one_holder = 1;

/* the complete account of NAME, with the intent's ids */
#define account_complete(n) (n != NONE && st_uid != 0 && grp[n] == st_uid && gsh[n] && \
			     pw[n] == st_uid && sh[n] && mem[n] && home[n] == st_uid)

/* At every state. */
/* never two accounts for one person (passwd is renamed in one rename(2)) */
#define one_account (inv_one_account && (pw[A] == 0 || pw[B] == 0))
/* never an account the store does not know: an entry or a home for NAME
 * means the row names it (username or rename_to) and holds the intent */
#define known(n) ((grp[n] == 0 && !gsh[n] && pw[n] == 0 && !sh[n] && home[n] == 0) || \
		  ((st_username == n || st_rename_to == n) && st_uid != 0))
#define store_knows_account (inv_store_knows_account && (known(A) && known(B)))
/* never a member dropped: c stays; a member has its group (one file) */
#define members_kept (inv_members_kept && (mem_c && (!mem[A] || grp[A] != 0) && (!mem[B] || grp[B] != 0)))
/* one PIN: at most one password change, at most one success */
#define pin_used_once (inv_pin_used_once && (pwchg[1] <= 1 && pwchg[2] <= 1 && pwchg[3] <= 1 && \
		       succ[1] <= 1 && succ[2] <= 1 && succ[3] <= 1))
/* at most one live holder of the person lock, over both hosts: a lease is
 * taken over only from a dead holder (the same-host rule relies on the
 * flock being taken first) */
#define one_holder (inv_one_holder && held[1] + held[2] + held[4] + held[5] + held[FINAL] <= 1)
/* no uid or gid given to two names */
#define ids_distinct (inv_ids_distinct && ((pw[A] == 0 || (pw[A] != pw[B] && pw[A] != pw[Q])) && \
		      (pw[B] == 0 || pw[B] != pw[Q]) && \
		      (grp[A] == 0 || (grp[A] != grp[B] && grp[A] != grp[Q])) && \
		      (grp[B] == 0 || grp[B] != grp[Q])))

/*
 * At quiescence: nobody holds the person lock and no rename is half done.
 * A dialogue or a command killed mid-way has left its partial state: these
 * must hold for every such state too.
 */
#define quiescent (plock == 0 && plock2 == 0 && st_rename_to == NONE)
/* active only with the complete account */
#define active_complete (inv_active_complete && (st_state != ACTIVE || account_complete(st_username)))
/* never a spent PIN without an account */
#define spent_has_account (inv_spent_has_account && (!st_pin_spent || \
	((st_state == ACTIVE || st_state == REVOKED) && st_username != NONE && \
	 pw[st_username] != 0 && sh[st_username] && home[st_username] != 0)))
/* revoked: no usable shadow entry */
#define revoked_locked (inv_revoked_locked && (st_state != REVOKED || st_username == NONE || \
			!sh[st_username] || sh_locked[st_username]))
/* active: a member of students */
#define active_member (inv_active_member && (st_state != ACTIVE || mem[st_username]))

/* At the end, after final_check's runs: the person could finish. */
#define finished (inv_finished && (st_state == ACTIVE && st_rename_to == NONE && st_pin_spent && \
		  account_complete(st_username) && !sh_locked[st_username] && \
		  pw_home[st_username] == st_username && st_home == st_username))

active proctype monitor()
{
end:	atomic {
		!(one_account && store_knows_account && members_kept && pin_used_once && ids_distinct && one_holder &&
		  (!quiescent || (active_complete && spent_has_account && revoked_locked && active_member))) ->
		assert(one_account);
		assert(store_knows_account);
		assert(members_kept);
		assert(pin_used_once);
		assert(ids_distinct);
		assert(one_holder);
		assert(!quiescent || active_complete);
		assert(!quiescent || spent_has_account);
		assert(!quiescent || revoked_locked);
		assert(!quiescent || active_member)
	}
}


/* ---- accounts_rename (accounts/files.c) and the store writes around it ------- */

/*
 * Finish the rename recorded in rename_to: every file renamed atomically
 * (commit_file) in the order group, gshadow, passwd, shadow, each
 * idempotent (a line already carrying TO is left alone), the home moved,
 * then the store.  Used by activatectl rename, and by the other commands
 * and the dialogue when they find rename_to set under the person lock.
 * Needs the locals me, maxc, crashes, from, to and the label crashed.
 */
inline accounts_rename()
{
	atomic {
		pwlock == 0 -> pwlock = me;	/* with_files */
		from = st_username; to = st_rename_to;
		CRASH;
		/* commit_file(group): the line FROM, and FROM in the members lists */
		if :: grp[from] != 0 -> grp[to] = grp[from]; grp[from] = 0 :: else fi;
		if :: mem[from] -> mem[from] = 0; mem[to] = 1 :: else fi;
		CRASH;
		/* commit_file(gshadow) */
		if :: gsh[from] -> gsh[from] = 0; gsh[to] = 1 :: else fi;
		CRASH;
		/* commit_file(passwd): the name, and the home field */
		if
		:: pw[from] != 0 ->
			pw[to] = pw[from]; pw_home[to] = (pw_home[from] == from -> to : pw_home[from]);
			pw[from] = 0; pw_home[from] = NONE
		:: else
		fi;
		CRASH;
		/* commit_file(shadow) */
		if
		:: sh[from] -> sh[to] = 1; sh_locked[to] = sh_locked[from]; sh[from] = 0; sh_locked[from] = 0
		:: else
		fi;
		CRASH;
		pwlock = 0
	}
	atomic {
		CRASH;
		/* move_home: renameat home_base/FROM -> home_base/TO */
		if :: home[from] != 0 && home[to] == 0 -> home[to] = home[from]; home[from] = 0 :: else fi;
		CRASH;
		/* store_person_set_username: username = TO, rename_to = none (one transaction) */
		st_username = to; st_rename_to = NONE;
#ifndef BROKEN_RENAME_KEEPS_HOME
		if :: st_home == from -> st_home = to :: else fi;	/* the intent's home moves too */
#endif
		st_version++
	}
}

/* ---- the dialogue (provision.c) --------------------------------------- */

/* store_person_record_intent: uid, gid, home; durable (synchronous=FULL)
 * before any file changes */
inline record_intent()
{
	if
	:: st_state == PROVISIONING && st_version == V && st_username == name ->
		st_uid = uid; st_home = name; st_version++; V = st_version; hn = name
	:: else -> result = MISSED; goto unlock
	fi
}

/*
 * Before the commit (accounts_provision, or spend_pin for a new password),
 * after the conversation: the lease renewed, a compare-and-swap on the
 * holder; lost, the dialogue stops with nothing more changed.  It cannot be
 * lost here (a live holder's lease does not expire in the model); renewed,
 * the commit has a whole lease period before it could expire.
 */
inline renew_lease()
{
	atomic {
		CRASH;
		if
		:: lease_mine		/* UPDATE ... WHERE holder = me: expires later */
		:: else -> result = MISSED; goto unlock
		fi
	}
}

/* lock_person for a dialogue: flock(LOCK_EX | LOCK_NB); held: "already in
 * progress" */
inline lock_person_flock()
{
	atomic {
		CRASH;
		if
		:: flock_free -> take_flock
		:: else -> goto unlock
		fi
	}
}

/* then the lease, one compare-and-swap (store_lease_take); held: the flock
 * released, "already in progress", nothing changed */
inline lock_person_lease()
{
	atomic {
		CRASH;
		if
		:: lease_free -> take_lease
		:: !lease_free && lease_dead -> take_lease	/* expired */
		:: !lease_free && lease_dead && me != FINAL -> goto unlock	/* not yet (final_check's
									 * dialogue comes later) */
		:: else -> goto unlock	/* a live holder on the other host */
		fi
	}
}

proctype provision_run(byte me; byte maxc; bit host2)
{
	byte crashes, P, V, name, uid, hn, from, to, result;
	mtype s;
	bit need_intent, miss;

start:	/* dialogue.c: the PIN verified against the row as read, outside any lock */
	atomic {
		P = 0; V = 0; name = NONE; uid = 0; hn = NONE; from = NONE; to = NONE;
		result = ENDED; s = PENDING; need_intent = 0; miss = 0;
		if
		:: st_state == REVOKED || st_pin_spent -> goto unlock
		:: else -> P = st_pin_id
		fi
	}
	/* lock_person (lease_take, core/lease.c): the flock, then the lease */
#ifdef BROKEN_LEASE_FIRST
	lock_person_lease();
	lock_person_flock();
#else
	lock_person_flock();
#ifndef NO_LEASE
	lock_person_lease();
#endif
#endif
reread:	/* reread: store_person_by_id_number under the lock */
	atomic {
		CRASH;
		if
		:: st_rename_to != NONE -> goto finish_rename	/* an interrupted rename: finish it first */
		:: else
		fi;
		if
		:: st_state == REVOKED || st_pin_spent || st_pin_id != P -> goto unlock
		:: else -> s = st_state; V = st_version; name = st_username; uid = st_uid; hn = st_home
		fi;
		if :: s == ACTIVE -> goto new_password :: else fi
	}
	/* reserve: store_person_reserve (pick_and_reserve in one transaction);
	 * skipped when an attempt cut short has reserved already */
	atomic {
		CRASH;
		if
		:: s == PROVISIONING && name != NONE
		:: else ->
			if
			:: st_version == V && (st_state == PENDING || st_state == PROVISIONING) ->
				if :: name == NONE -> name = A :: else fi;
				st_username = name; st_state = PROVISIONING; st_version++; V = st_version
			:: else -> result = MISSED; goto unlock
			fi
		fi
	}
	/* ... choose_password: the conversation, up to dialogue_timeout ... */
#ifndef NO_LEASE
	renew_lease();
#endif
	/* accounts_provision */
	atomic {
		pwlock == 0 -> pwlock = me;	/* with_files: .pwd.lock, NAME.lock */
		CRASH;
		/* load_all, plan_ids: the intent's ids, or free ones; an entry for
		 * NAME that carries other ids is not ours: a clear error */
		if :: uid == 0 -> choose_id(uid); need_intent = 1 :: else fi;
		if
		:: (grp[name] != 0 && grp[name] != uid) || (pw[name] != 0 && pw[name] != uid) ->
			result = FAILED; goto unlock
		:: else
		fi;
#ifndef BROKEN_INTENT_LATE
		if :: need_intent -> CRASH; record_intent() :: else fi;
#endif
		/* ensure_group, ensure_gshadow, ensure_passwd, ensure_members and
		 * ensure_shadow decide the new contents; then commit_file, one
		 * rename(2) each, in this order */
		CRASH;
		/* commit_file(group): ensure_group, ensure_members */
		if :: grp[name] == 0 -> grp[name] = uid :: else fi;
		mem[name] = 1;
#ifdef BROKEN_INTENT_LATE
		if :: need_intent -> CRASH; record_intent() :: else fi;
#endif
		CRASH;
		gsh[name] = 1;		/* commit_file(gshadow): ensure_gshadow */
		CRASH;
		/* commit_file(passwd): ensure_passwd; an entry with the intent's ids is kept */
		if :: pw[name] == 0 -> pw[name] = uid; pw_home[name] = hn :: else fi;
		CRASH;
		/* commit_file(shadow): ensure_shadow, the hash of this dialogue's password */
#ifdef BROKEN_SHADOW_KEPT
		if :: !sh[name] -> sh[name] = 1; sh_locked[name] = 0 :: else fi;
#else
		sh[name] = 1; sh_locked[name] = 0;
#endif
		CRASH;
		pwlock = 0;
		/* home_create: mkdir the tmp dir, copy skel fixing the owner and
		 * mode of whatever is there, rename it to NAME; a NAME that exists
		 * and is not the intent uid's is refused */
		CRASH;
		if
		:: home[hn] != 0 && home[hn] != uid -> result = FAILED; goto unlock
		:: home[hn] == uid
		:: else ->
			if :: htmp[hn] == 0 -> htmp[hn] = 1 :: else fi;	/* mkdirat; EEXIST is fine */
			CRASH;
			htmp[hn] = 2;		/* copy skel; fchown/fchmod what is already there */
			CRASH;
			home[hn] = uid; htmp[hn] = 0	/* renameat .NAME.activate -> NAME */
		fi
	}
	/* activate: store_person_activate */
	atomic {
		CRASH;
		if
		:: st_state == PROVISIONING && st_uid == uid && st_username == name &&
		   st_pin_id == P && !st_pin_spent ->
			st_state = ACTIVE; st_pin_spent = 1; st_version++; succ[P]++; result = OK;
			goto unlock
		:: else -> result = MISSED
		fi
	}
	/* missed: revoked (or a new PIN) meanwhile: accounts_set_locked on what it made */
	atomic {
		pwlock == 0 -> pwlock = me;
		CRASH;
		if :: sh[name] -> sh_locked[name] = 1 :: else fi;	/* commit_file(shadow) */
		CRASH;
		pwlock = 0;
		goto unlock
	}

new_password:	/* an active person with an unspent PIN: a forgotten password */
	/* ... choose_password ... */
#ifndef NO_LEASE
	renew_lease();
#endif
	/* spend_pin: store_person_spend_pin, before the file changes */
	atomic {
		CRASH;
		if
#ifdef BROKEN_PIN_CAS
		:: st_state == ACTIVE && st_pin_id == P ->
#else
		:: st_state == ACTIVE && st_pin_id == P && !st_pin_spent ->
#endif
			st_pin_spent = 1; st_version++
		:: else -> result = MISSED; goto unlock
		fi
	}
	/* accounts_set_password: with_files, the shadow line rewritten */
	atomic {
		pwlock == 0 -> pwlock = me;
		CRASH;
		if :: sh[name] -> pwchg[P]++ :: else fi;	/* commit_file(shadow) */
		CRASH;
		pwlock = 0; succ[P]++; result = OK;
		goto unlock
	}

finish_rename:
	accounts_rename();
	goto reread;

unlock:	/* the end of provision_run: the locks closed, the helper exits */
	atomic {
		release_locks(me);
		if :: me == FINAL -> final_outcome = result :: else fi;
		running--;
		crashes = 0; P = 0; V = 0; name = NONE; uid = 0; hn = NONE; from = NONE; to = NONE;
		result = 0; s = PENDING; need_intent = 0; miss = 0;
		goto out
	}
crashed:	/* SIGKILL: the flock and the fcntl locks go with the process, the
	 * lease stays (dead) */
	atomic { kill_locks(me); goto start }
out:
	skip
}

/* ---- activatectl rename A B (ctl_change.c) ---------------------------- */

/* lock_person, blocking: the host's flock, then the lease; waiting for
 * the lease, the flock is kept */
inline lock_person_wait()
{
#ifdef BROKEN_LEASE_FIRST
	atomic { CRASH; lease_free || lease_dead -> take_lease }
	atomic { flock_free -> take_flock }
#else
	atomic { flock_free -> take_flock }
#ifndef NO_LEASE
	atomic { CRASH; lease_free || lease_dead -> take_lease }
#endif
#endif
}

proctype rename_cmd(byte me; byte maxc; bit host2)
{
	byte crashes, from, to;

start:
	lock_person_wait();
	atomic {
		CRASH;
		/* one transaction: the row read again, rename_to recorded */
		if
		:: st_rename_to != NONE		/* an interrupted rename: finish it */
		:: st_rename_to == NONE && st_username == A && st_state != REVOKED ->
			st_rename_to = B; st_version++	/* store_person_set_rename_to */
		:: else -> goto done		/* no username yet, revoked, or renamed */
		fi
	}
	accounts_rename();
done:
	atomic { release_locks(me); running--; crashes = 0; from = NONE; to = NONE; goto out }
crashed:
	atomic { kill_locks(me); goto start }
out:
	skip
}

/* ---- activatectl revoke, then (maybe) restore (ctl_change.c) ----------- */

proctype revoke_restore(byte me; byte maxc; bit restore_only; bit host2)
{
	byte crashes, from, to, n;
	bit phase = restore_only;	/* 0: revoke, 1: restore */

start:
	lock_person_wait();
locked:
	atomic {
		CRASH;
		if :: st_rename_to != NONE -> goto finish_rename :: else fi;	/* finish a rename first */
		n = st_username;
		if :: phase == 1 -> goto restore :: else fi;
		if :: st_state == REVOKED -> goto is_revoked :: else fi
	}
	/* revoke: the files first: accounts_set_locked (marker there: nothing) */
	atomic {
		pwlock == 0 -> pwlock = me;
		CRASH;
		if :: n != NONE && sh[n] && !sh_locked[n] -> sh_locked[n] = 1 :: else fi;
		CRASH;
		pwlock = 0
	}
	/* then the store: store_person_set_state(revoked) */
	atomic { CRASH; st_state = REVOKED; st_version++ }
is_revoked:
	atomic {
		release_locks(me); phase = 1;
		if
		:: goto start		/* the help desk restores, later */
		:: goto done
		fi
	}
restore:	/* the store first: active with a complete account, provisioning
	 * with an intent (half made), pending without */
	atomic {
		CRASH;
		if
		:: st_state == REVOKED ->
			if
			:: account_complete(n) -> st_state = ACTIVE
			:: !account_complete(n) && st_uid != 0 -> st_state = PROVISIONING
			:: else -> st_state = PENDING
			fi;
			st_version++
		:: else
		fi
	}
	/* then the files: unlock, only if the marker is there */
	atomic {
		pwlock == 0 -> pwlock = me;
		CRASH;
		if :: n != NONE && sh[n] && sh_locked[n] -> sh_locked[n] = 0 :: else fi;
		CRASH;
		pwlock = 0
	}
done:
	atomic { release_locks(me); running--; crashes = 0; from = NONE; to = NONE; n = NONE; phase = 0; goto out }
finish_rename:
	accounts_rename();
	goto locked;
crashed:
	atomic { kill_locks(me); goto start }
out:
	skip
}

/* ---- activatectl issue: a new PIN (ctl_issue.c), one transaction ------- */

proctype issue_pin()
{
	atomic {
		if
		:: st_state != REVOKED -> st_pin_id++; st_pin_spent = 0; st_version++
		:: else
		fi;
		running--
	}
}

/* ---- activatectl import (import.c) ------------------------------------ */

proctype import_roster()
{
	byte V, planned;

	/* plan_row: outside any transaction, the row at version V, username merged */
	atomic { V = st_version; planned = st_username }
	/* ... minutes of Argon2id for the new PINs ... */
	/* write_row: one transaction */
	atomic {
#ifdef BROKEN_IMPORT_CAS
		st_username = planned; st_version++;
#else
		if
		:: st_version == V -> st_username = planned; st_version++	/* update_roster ... AND version = V */
		:: else -> st_version++		/* missed: plan_row again inside it; the current username merged */
		fi;
#endif
		running--; V = 0; planned = 0
	}
}

/* ---- another person's activation: the same files, its own row ---------- */

proctype other_person()
{
	byte id;

	atomic {
		pwlock == 0 -> pwlock = OTHER;	/* with_files */
		choose_id(id); q_uid = id;	/* plan_ids, record_intent in its own row */
		grp[Q] = id;			/* commit_file(group) */
		pw[Q] = id;			/* commit_file(passwd) */
		pwlock = 0; running--; id = 0
	}
}

/* ---- after everything: the person can still finish -------------------- */

proctype final_check()
{
	running == 0;
	assert(plock == 0 && plock2 == 0 && pwlock == 0 && (lease == 0 || lease_dead));
	/* Every process above was re-run after its kills until it ended, so
	 * no command is left half done (a dialogue's leftovers are the final
	 * dialogue's to finish).  A rename can still be pending if the last
	 * run of a dialogue found it; the help desk restores a revoked person. */
	if
	:: st_rename_to != NONE -> running = 1; run rename_cmd(FINAL, 0, 0); running == 0
	:: else
	fi;
	if
	:: st_state == REVOKED -> running = 1; run revoke_restore(FINAL, 0, 1, 0); running == 0
	:: else
	fi;
	/* one more dialogue, with the person's current PIN, that nothing kills */
	running = 1;
	run provision_run(FINAL, 0, 0);
	running == 0;
	assert(inv_final_outcome && final_outcome != FAILED && final_outcome != MISSED);
	assert(finished)
}

/*
 * The configurations: which processes run.  All of them at once is some
 * 10^8 states; each configuration below puts the processes whose steps can
 * meet against each other, every one with its kills (see README).
 */
#if !defined(CONFIG_DIALOGUES) && !defined(CONFIG_HELPDESK) && !defined(CONFIG_LOCKS) && \
    !defined(CONFIG_RESET) && !defined(CONFIG_RESET_TWO_HOSTS) && !defined(CONFIG_TWO_HOSTS) && \
    !defined(CONFIG_HELPDESK_TWO_HOSTS) && !defined(CONFIG_LOCKS_TWO_HOSTS)
#define CONFIG_DIALOGUES
#endif
#if defined(CONFIG_RESET) || defined(CONFIG_RESET_TWO_HOSTS)
#define START_ACTIVE
#endif

init
{
	atomic {
#ifdef START_ACTIVE
		/* activated as "a" with uid 1; PIN 2 issued for a forgotten password */
		st_state = ACTIVE; st_username = A; st_uid = 1; st_home = A; st_pin_id = 2; st_version = 3;
		st_pin_spent = 0; succ[1] = 1;
		grp[A] = 1; gsh[A] = 1; pw[A] = 1; pw_home[A] = A; sh[A] = 1; mem[A] = 1; home[A] = 1;
#endif
		running = 0;
#if defined(CONFIG_DIALOGUES)
		/* two dialogues, the import, a new PIN, another person's ids */
		running++; run provision_run(1, MAXC, 0);
		running++; run provision_run(2, MAXC, 0);
		running++; run import_roster();
		running++; run issue_pin();
		running++; run other_person();
#elif defined(CONFIG_HELPDESK)
		/* a dialogue against every help desk command, and the import */
		running++; run provision_run(1, MAXC, 0);
		running++; run rename_cmd(4, MAXC, 0);
		running++; run revoke_restore(5, MAXC, 0, 0);
		running++; run import_roster();
		running++; run issue_pin();
#elif defined(CONFIG_LOCKS)
		/* everything that takes the person lock */
		running++; run provision_run(1, MAXC, 0);
		running++; run provision_run(2, MAXC, 0);
		running++; run rename_cmd(4, MAXC, 0);
		running++; run revoke_restore(5, MAXC, 0, 0);
#elif defined(CONFIG_RESET)
		/* a forgotten password on one host (the import's stale plan is
		 * HELPDESK's: here it only multiplies the states by eight) */
		running++; run provision_run(1, MAXC, 0);
		running++; run provision_run(2, MAXC, 0);
		running++; run issue_pin();
		running++; run rename_cmd(4, MAXC, 0);
		running++; run revoke_restore(5, MAXC, 0, 0);
#elif defined(CONFIG_TWO_HOSTS)
		/* activation with the two dialogues on two hosts, revoke/restore
		 * on host 1, a new PIN: only the lease keeps D2 apart from D1 and
		 * the help desk */
		running++; run provision_run(1, MAXC, 0);
		running++; run provision_run(2, MAXC, 1);
		running++; run revoke_restore(5, MAXC, 0, 0);
		running++; run issue_pin();
#elif defined(CONFIG_HELPDESK_TWO_HOSTS)
		/* the dialogue on host 1, the help desk's commands on host 2 */
		running++; run provision_run(1, MAXC, 0);
		running++; run rename_cmd(4, MAXC, 1);
		running++; run revoke_restore(5, MAXC, 0, 1);
		running++; run issue_pin();
#elif defined(CONFIG_LOCKS_TWO_HOSTS)
		/* every lock taker, on two hosts: D1 and revoke/restore on host 1,
		 * D2 and rename on host 2 */
		running++; run provision_run(1, MAXC, 0);
		running++; run provision_run(2, MAXC, 1);
		running++; run rename_cmd(4, MAXC, 1);
		running++; run revoke_restore(5, MAXC, 0, 0);
#elif defined(CONFIG_RESET_TWO_HOSTS)
		/* a forgotten password, the two dialogues on two hosts, and no
		 * lease (NO_LEASE): the store's compare-and-swaps alone */
		running++; run provision_run(1, MAXC, 0);
		running++; run provision_run(2, MAXC, 1);
		running++; run import_roster();
#endif
		run final_check()
	}
}

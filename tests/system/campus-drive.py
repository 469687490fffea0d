#!/usr/bin/python3
# campus-drive.py: the campus test's driver of the activation dialogue, over
# paramiko's keyboard-interactive client against a machine's real sshd (port 22).
# It answers each prompt by its text, so one engine serves every case below, and
# it is cheap enough to hold hundreds of dialogues (one process, no pty, no ssh).
#
#   campus-drive.py one HOST ID STUDENT PIN PASSWORD [--hook DIR] [--once|--first]
#       One dialogue as user activate. PASSWORD "1" takes the first suggestion (no
#       "Repeat the password"). --hook DIR: when the password prompt arrives, create
#       DIR/at-password and wait for DIR/go before answering (the test stops a server
#       meanwhile). --once: after the PIN, report the next prompt and disconnect (a
#       wrong PIN's answer, a lock's). --first: report the first prompt and disconnect
#       (the details are never answered, so nothing is counted as a failure).
#       Prints "USERNAME=NAME" on an activation, and "SAID: TEXT" for the last text the
#       helper showed (a refusal's words, on one line). Exit 0: activated; 3: refused or
#       stopped (--once) with words shown; 1: anything the engine does not know.
#   campus-drive.py many OUT HOST[,HOST...] < PEOPLE
#       PEOPLE: lines "ID STUDENT PIN". One process per HOST (a stream), each running
#       its share of the people (the k-th line goes to stream k mod the number of
#       hosts) one after another, taking the first suggested password. Writes OUT, a
#       line a dialogue: ID HOST RC USERNAME T_START T_FIRST T_FINAL T_END SAID
#       (times in seconds since the epoch, as floats: T_START before the TCP connect,
#       T_FIRST when the helper's first prompt arrived, T_FINAL when the type-back
#       prompt arrived, that is, after the commit, or "-"; T_END when the connection closed).
#       Exit 0 when every line was written, whatever each dialogue's result.
import logging
import os
import re
import socket
import sys
import time

import paramiko

logging.getLogger("paramiko").setLevel(logging.CRITICAL + 1)

TIMEOUT = float(os.environ.get("CAMPUS_DRIVE_TIMEOUT", "60"))


class Stop(Exception):
    pass


def squash(text):
    return " ".join(text.split())


def dialogue(host, id_number, student, pin, password, hook=None, once=False, first=False):
    """One dialogue. Returns (rc, username, said, t_start, t_first, t_final, t_end)."""
    st = {"user": "", "said": "", "first": None, "final": None, "pinned": False, "rc": None, "why": ""}
    t_start = time.time()

    def answer(text):
        flat = squash(text)
        if st["first"] is None:
            st["first"] = time.time()
            if first:
                st["said"] = flat
                st["rc"] = 3
                raise Stop()
        if st["pinned"] and once:	# the answer to the details, whatever it is
            st["said"] = flat
            st["rc"] = 3
            raise Stop()
        if re.search(r"ID number: $", text):
            return id_number
        if re.search(r"Student number: $", text):
            return student
        if re.search(r"PIN code: $", text):
            st["pinned"] = True
            return pin
        if re.search(r"Type yes to accept the terms of use: $", text):
            return "yes"
        if re.search(r"Type the number of a suggestion, or a password of your own: $", text):
            if hook:
                open(os.path.join(hook, "at-password"), "w").close()
                deadline = time.time() + TIMEOUT
                while not os.path.exists(os.path.join(hook, "go")):
                    if time.time() > deadline:
                        st["why"] = "the hook's go file never came"
                        raise Stop()
                    time.sleep(0.05)
            return password
        if re.search(r"Repeat the password: $", text):
            return password
        m = re.search(r"Your username is ([a-z0-9]+)\. Type it", text)
        if m:
            st["user"] = m.group(1)
            st["final"] = time.time()
            return st["user"]
        if re.search(r"Press Enter to close: $", text):
            st["said"] = squash(text[: text.rfind("Press Enter")])
            st["rc"] = 3
            return ""
        st["why"] = "a prompt the driver does not know: %r" % text
        raise Stop()

    def handler(title, instructions, prompts):
        if not prompts:	# text after the last prompt: the end of a failed round
            if instructions.strip():
                st["said"] = squash(instructions)
            return []
        return [answer(text) for text, _ in prompts]

    t = None
    try:
        sock = socket.create_connection((host, 22), timeout=TIMEOUT)
        t = paramiko.Transport(sock)
        t.start_client(timeout=TIMEOUT)
        t.auth_timeout = 3 * TIMEOUT	# paramiko's 30 s would cut off a dialogue held by --hook
        t.auth_interactive("activate", handler)
        st["why"] = "the authentication succeeded"	# the trigger user never logs in
    except Stop:
        pass
    except paramiko.AuthenticationException as e:
        st["end"] = str(e)	# every dialogue ends so: the trigger user is not let in
    except (paramiko.SSHException, UnicodeError, EOFError, OSError) as e:
        st["why"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if t is not None:
            t.close()
    t_end = time.time()
    if st["why"]:
        rc, said = 1, st["why"]
    elif st["user"] and st["final"] is not None:
        rc, said = 0, st["said"]
    elif st["rc"] == 3 or st["said"]:
        rc, said = 3, st["said"]
    else:
        rc, said = 1, "the dialogue ended with no username and no words (%s)" % st.get("end", "")
    return rc, st["user"], said, t_start, st["first"], st["final"], t_end


def one(argv):
    if len(argv) < 5:
        sys.exit("usage: campus-drive.py one HOST ID STUDENT PIN PASSWORD [--hook DIR] [--once|--first]")
    host, id_number, student, pin, password = argv[:5]
    hook, once, first, rest = None, False, False, argv[5:]
    while rest:
        if rest[0] == "--hook" and len(rest) > 1:
            hook, rest = rest[1], rest[2:]
        elif rest[0] == "--once":
            once, rest = True, rest[1:]
        elif rest[0] == "--first":
            first, rest = True, rest[1:]
        else:
            sys.exit("campus-drive.py: bad argument %r" % rest[0])
    rc, user, said, *_ = dialogue(host, id_number, student, pin, password, hook, once, first)
    if user:
        print("USERNAME=" + user)
    print("SAID: " + said)
    sys.exit(rc)


def stream(out, host, people):
    with open(out, "w") as f:
        for id_number, student, pin in people:
            rc, user, said, t0, t1, t2, t3 = dialogue(host, id_number, student, pin, "1")
            f.write("%s %s %d %s %.6f %s %s %.6f %s\n" % (
                id_number, host, rc, user or "-", t0, "%.6f" % t1 if t1 else "-",
                "%.6f" % t2 if t2 else "-", t3, said.replace("\n", " ") or "-"))
            f.flush()


def many(argv):
    if len(argv) != 2:
        sys.exit("usage: campus-drive.py many OUT HOST[,HOST...] < PEOPLE")
    out, hosts = argv[0], argv[1].split(",")
    people = [tuple(line.split()[:3]) for line in sys.stdin if line.strip()]
    children = []
    for k, host in enumerate(hosts):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                stream("%s.%d" % (out, k), host, people[k::len(hosts)])
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    ok = True
    for pid in children:
        ok = os.waitpid(pid, 0)[1] == 0 and ok
    with open(out, "w") as f:
        for k in range(len(hosts)):
            with open("%s.%d" % (out, k)) as part:
                f.write(part.read())
            os.unlink("%s.%d" % (out, k))
    sys.exit(0 if ok else 1)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("one", "many"):
        sys.exit("usage: campus-drive.py one ... | many ...")
    (one if sys.argv[1] == "one" else many)(sys.argv[2:])


main()

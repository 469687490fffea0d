#!/usr/bin/python3
# kbdint-paramiko.py: paramiko's keyboard-interactive client (Transport.auth_interactive)
# answering the activation dialogue by the text of each prompt.
#   kbdint-paramiko.py PORT USER STEP...     a dialogue; what the student sees goes to stdout
#   kbdint-paramiko.py PORT USER --login PASSWORD COMMAND
#                                            password authentication, then COMMAND's output
# Steps (a space in REGEX matches any run of white space, as wrapping puts newlines there):
#   -p REGEX ANSWER  the next prompt (its whole text, messages included) must match REGEX;
#                    answer ANSWER (\1 is REGEX's first group)
#   -x REGEX         the next prompt must match REGEX; then disconnect
#   -d               the server now ends the round with an authentication failure; steps
#                    after it start a new round (a new auth_interactive call)
# Every name, instruction and prompt must be text without control characters (a newline
# or a tab aside); paramiko itself refuses invalid UTF-8.
# Exit 0 when every step was met; 1, with the reason on stderr, when not.
import logging
import re
import socket
import sys
import unicodedata

import paramiko

logging.getLogger("paramiko").setLevel(logging.CRITICAL + 1)


class Done(Exception):
    pass


def fail(msg):
    sys.stdout.flush()
    print("kbdint-paramiko: " + msg, file=sys.stderr)
    sys.exit(1)


def pattern(text):
    return re.compile(re.sub(" +", r"\\s+", text), re.S)


def parse(args):
    rounds, cur, i = [], [], 0
    while i < len(args):
        a = args[i]
        if a == "-p" and i + 2 < len(args):
            cur.append(("p", pattern(args[i + 1]), args[i + 2]))
            i += 3
        elif a == "-x" and i + 1 < len(args):
            cur.append(("x", pattern(args[i + 1]), None))
            i += 2
        elif a == "-d":
            rounds.append(cur)
            cur = []
            i += 1
        else:
            fail("bad step at %r" % a)
    if cur and cur[-1][0] != "x":
        fail("the steps must end with -d or -x")
    if cur:
        rounds.append(cur)
    return rounds


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    t = paramiko.Transport(sock)
    t.start_client(timeout=30)
    return t


def login(port, user, password, command):
    t = connect(port)
    try:
        t.auth_password(user, password)
    except paramiko.AuthenticationException as e:
        fail("password authentication as %s failed: %s" % (user, e))
    chan = t.open_session()
    chan.exec_command(command)
    out = b""
    while True:
        data = chan.recv(4096)
        if not data:
            break
        out += data
    sys.stdout.write(out.decode("utf-8", "replace"))
    status = chan.recv_exit_status()
    t.close()
    sys.exit(0 if status == 0 else 1)


def dialogue(port, user, rounds):
    t = connect(port)
    state = {"steps": None, "error": None}

    def clean(what, text):
        for ch in text:
            if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
                state["error"] = "the %s is not clean text: %r" % (what, text)
                raise Done()

    def handler(title, instructions, prompts):
        clean("name", title)
        clean("instruction", instructions)
        for text, _ in prompts:
            clean("prompt", text)
        if title:
            print(title)
        if instructions:
            print(instructions)
        answers = []
        for text, echo in prompts:
            steps = state["steps"]
            if not steps:
                state["error"] = "a prompt no step expects: %r" % text
                raise Done()
            kind, rx, answer = steps.pop(0)
            m = rx.search(text)
            if not m:
                state["error"] = "expected a prompt matching /%s/, got %r" % (rx.pattern, text)
                raise Done()
            if kind == "x":
                sys.stdout.write(text + "\n")
                raise Done()
            if m.groups():
                answer = answer.replace("\\1", m.group(1) or "")
            sys.stdout.write(text + (answer if echo else "") + "\n")
            answers.append(answer)
        sys.stdout.flush()
        return answers

    for n, steps in enumerate(rounds):
        state["steps"] = list(steps)
        last = steps[-1][0] if steps else "d"
        try:
            t.auth_interactive(user, handler)
        except Done:
            pass
        except paramiko.BadAuthenticationType as e:
            fail("round %d: keyboard-interactive not offered (allowed: %s)" % (n + 1, e.allowed_types))
        except paramiko.AuthenticationException:
            if state["error"]:
                fail(state["error"])
            if state["steps"]:
                fail("round %d ended while a prompt matching /%s/ was still expected"
                     % (n + 1, state["steps"][0][1].pattern))
            if last == "x":
                fail("round %d ended before the -x prompt" % (n + 1))
            print("-- authentication failed --")
            continue
        except (paramiko.SSHException, UnicodeError, EOFError, OSError) as e:
            if state["error"]:
                fail(state["error"])
            if last == "x" and not state["steps"]:
                break
            fail("round %d: %s: %s" % (n + 1, type(e).__name__, e))
        else:
            fail("round %d: the authentication succeeded" % (n + 1))
        if state["error"]:
            fail(state["error"])
        if last == "x" and not state["steps"]:
            break
        fail("round %d ended unexpectedly" % (n + 1))
    t.close()


def main():
    if len(sys.argv) < 4:
        fail("usage: kbdint-paramiko.py PORT USER STEP... | PORT USER --login PASSWORD COMMAND")
    port, user = int(sys.argv[1]), sys.argv[2]
    if sys.argv[3] == "--login":
        login(port, user, sys.argv[4], sys.argv[5])
    dialogue(port, user, parse(sys.argv[3:]))


main()

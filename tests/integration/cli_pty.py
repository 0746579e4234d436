"""tdsc on a terminal, through a pseudo-terminal (cli.sh runs it): the
interactive prompt (server and database, GO ends a batch, :quit), line
editing and history when tdsc was built with libedit, the elapsed-time
indicator, and the password prompt that does not echo.

usage: cli_pty.py TDSC PORT CAFILE   (TDSC_PASSWORD in the environment)"""

import os
import pty
import re
import select
import sys
import time

tdsc, port, cafile = sys.argv[1:4]
password = os.environ["TDSC_PASSWORD"]
failed = 0


def check(name, ok):
    global failed
    print(("ok: " if ok else "FAIL: ") + name)
    if not ok:
        failed = 1


class Term:
    def __init__(self, args, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(tdsc, [tdsc] + args, env)
        self.buf = b""

    def send(self, text):
        os.write(self.fd, text.encode())

    def expect(self, pattern, timeout=20):
        """Reads until the regex matches what arrived since the last match;
        returns the match (or None after timeout)."""
        end = time.time() + timeout
        rx = re.compile(pattern.encode())
        while True:
            m = rx.search(self.buf)
            if m:
                seen, self.buf = self.buf[:m.end()], self.buf[m.end():]
                self.seen = seen
                return m
            left = end - time.time()
            if left <= 0:
                print("  (waited for %r; got %r)" % (pattern, self.buf[-300:]))
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    m = rx.search(self.buf)
                    if not m:
                        print("  (end of output waiting for %r; got %r)"
                              % (pattern, self.buf[-300:]))
                    return m
                self.buf += data

    def wait(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(st)
            try:  # drain, so that the child never blocks on a full pty
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.buf += os.read(self.fd, 4096)
            except OSError:
                pass
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        return None


env = dict(os.environ, TERM="xterm", HOME=os.environ.get("TMPDIR", "/tmp"),
           LC_ALL="C.UTF-8")
cs = "Server=tcp:localhost,%s;UID=sa;CAFile=%s" % (port, cafile)
editing = b"libedit" in os.popen("'%s' --version" % tdsc).read().encode()

t = Term(["-c", cs], env)
check("the prompt names the server and the database",
      t.expect(r"tcp:localhost,%s/\w+ 1> " % port) is not None)
t.send("SELECT 41 + 1 AS answer\r")
check("a batch's second line prompts 2>", t.expect(r"2> ") is not None)
t.send("GO\r")
check("GO runs the batch", t.expect(r"answer\r?\n-+\r?\n42\b") is not None)
t.expect(r"1> ")
if editing:
    # Ctrl-A goes to the start of the line: only an editor makes SQL of it
    t.send("7 AS v\x01SELECT \r")
    t.expect(r"2> ")
    t.send("GO\r")
    check("line editing (libedit): Ctrl-A, then typed text",
          t.expect(r"v\r?\n-\r?\n7\b") is not None)
    t.expect(r"1> ")
    # Ctrl-P twice: the history's "SELECT 7 AS v", GO being the last line
    t.send("\x10\x10\r")
    t.expect(r"2> ")
    t.send("GO\r")
    check("history (libedit): Ctrl-P recalls an earlier line",
          t.expect(r"v\r?\n-\r?\n7\b") is not None)
    t.expect(r"1> ")
else:
    print("skip: line editing (tdsc built without libedit)")
t.send("USE master\rGO\r")
check("the prompt follows USE", t.expect(r"/master 1> ") is not None)
t.send("WAITFOR DELAY '00:00:02'\rGO\r")
check("a statement that returns nothing yet shows the elapsed time",
      t.expect(r"\[waiting 1 s, Ctrl-C cancels\]") is not None)
check("... and the prompt comes back after it", t.expect(r"1> ") is not None)
t.send("WAITFOR DELAY '00:00:30'\rGO\r")
t.expect(r"\[waiting 1 s")
t.send("\x03")  # Ctrl-C: SIGINT from the terminal
check("Ctrl-C at the prompt's query cancels it (TDSC_E_CANCELLED)",
      t.expect(r"TDSC_E_CANCELLED", 15) is not None)
t.expect(r"/master 1> ")
t.send("SELECT 3 AS three\rGO\r")
check("... and the prompt comes back, the session still usable",
      t.expect(r"three\r?\n-+\r?\n3\b") is not None)
t.send("SELECT 'x' AS\r:quit\r")
check(":quit ends tdsc (exit 0) without sending the open batch",
      t.wait() == 0 and b"Incorrect syntax" not in t.buf)

# The password prompt: -U with no password anywhere, on a terminal.
penv = {k: v for k, v in env.items()
        if k not in ("TDSC_PASSWORD", "SQLCMDPASSWORD")}
t = Term(["-S", "tcp:localhost," + port, "-U", "sa", "-C", "-Q",
          "SELECT 5 AS five"], penv)
check("-U without a password prompts for it", t.expect(r"Password: ") is not None)
t.send(password + "\r")
m = t.expect(r"five\r?\n-+\r?\n5\b")
rc = t.wait()
check("the password typed logs in (exit %s)" % rc, m is not None and rc == 0)
check("the password is not echoed",
      password.encode() not in t.seen + t.buf)

sys.exit(failed)

#!/usr/bin/env python3
"""test_user_cli.py - `sipd user ...` and `sipd reg ...` (DESIGN.md §5).

    test_user_cli.py PATH/TO/sipd        (prints TAP)

Runs the real binary on a temporary database (sqlite:TMPDIR/sipd.db) and
checks what it prints, its exit status and what it leaves in the database,
read back with Python's sqlite3: the three HA1s against hashlib
(SHA-512/256 only when this Python's OpenSSL has it), the domain a user
without @DOMAIN gets (-d, the config file, the first -d replacing the
file's list), add/del/list, import (good file, a bad row, a user given
twice: nothing imported), every usage error (exit 2, exactly one stderr
line "sipd: ..."), reg list of bindings written straight into the
bindings table (future ones listed in the documented format, expired ones
not), and a write that waits for another process's lock instead of failing.

No server is started: the CLI needs none.
"""

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sip_auth import CLI_TIMEOUT, Db  # noqa: E402
from sipd_harness import Tap, binary_from_argv, expect  # noqa: E402

DOMAIN = "example.com"
PASSWORD_RE = re.compile(r"^added ([^ ]+) password ([A-Za-z0-9]{16})$")

_last = {"text": ""}  # the last run, for failure diagnostics


def run(binary, *args):
    """`sipd ARGS` → (status, stdout, stderr)."""
    cmd = [binary] + list(args)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s did not finish in %d s" % (" ".join(cmd), CLI_TIMEOUT))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    _last["text"] = "last run: %r\nstatus %d\nstdout:\n%s\nstderr:\n%s" % (
        cmd, p.returncode, out[-2000:], err[-2000:])
    return p.returncode, out, err


def ok(binary, *args):
    """Runs and expects status 0 with nothing on stderr; returns stdout."""
    status, out, err = run(binary, *args)
    expect(status == 0, "%s: status %d, stderr %r" % (" ".join(args), status, err))
    expect(err == "", "%s: stderr not empty: %r" % (" ".join(args), err))
    return out


def fails(binary, status_wanted, *args):
    """Runs and expects status_wanted, empty stdout and exactly one stderr
    line "sipd: ..."; returns that line."""
    status, out, err = run(binary, *args)
    expect(status == status_wanted, "%r: status %d, expected %d (stderr %r)"
           % (args, status, status_wanted, err))
    lines = err.splitlines()
    expect(len(lines) == 1 and err.endswith("\n"),
           "%r: expected one stderr line, got %d: %r" % (args, len(lines), err))
    expect(lines[0].startswith("sipd: "), "%r: stderr does not start with 'sipd: ': %r"
           % (args, err))
    expect(out == "", "%r: stdout not empty: %r" % (args, out))
    return lines[0]


def hash_of(alg, text):
    if alg == "sha512_256":
        try:
            return hashlib.new("sha512_256", text.encode()).hexdigest()
        except ValueError:
            return None  # this OpenSSL has no SHA-512/256: not compared
    return hashlib.new(alg, text.encode()).hexdigest()


def rows(db):
    """{(user, domain): (ha1_md5, ha1_sha256, ha1_sha512_256)}."""
    with sqlite3.connect(db.path) as con:
        return {(u, d): (m, s, t) for u, d, m, s, t in con.execute(
            "SELECT user, domain, ha1_md5, ha1_sha256, ha1_sha512_256 FROM subscribers")}


def expect_ha1s(db, user, domain, password):
    r = rows(db)
    expect((user, domain) in r, "%s@%s not in the database: %r" % (user, domain, sorted(r)))
    text = "%s:%s:%s" % (user, domain, password)
    for alg, got in zip(("md5", "sha256", "sha512_256"), r[(user, domain)]):
        want = hash_of(alg, text)
        if want is not None:
            expect(got == want, "%s HA1 of %s@%s: %s, expected %s" % (alg, user, domain, got,
                                                                     want))
        else:
            expect(re.fullmatch(r"[0-9a-f]{64}", got), "%s HA1 is not 64 hex digits: %r"
                   % (alg, got))


def user_list(binary, db):
    return ok(binary, "user", "list", "--db", db.url).splitlines()


class Fresh:
    """Each test gets its own empty database directory."""

    def __init__(self, binary, fn):
        self.binary = binary
        self.fn = fn

    def __call__(self):
        db = Db()
        try:
            self.fn(self.binary, db)
        finally:
            db.remove()


# ---------------------------------------------------------------------------
# user add, del, list


def add_with_password(binary, db):
    out = ok(binary, "user", "add", "100@example.com", "--password", "s3cret, with spaces",
             "--db", db.url)
    expect(out == "added 100@example.com\n", "stdout %r" % out)
    expect_ha1s(db, "100", DOMAIN, "s3cret, with spaces")
    expect(len(rows(db)) == 1, "rows: %r" % rows(db))


def add_generated(binary, db):
    out = ok(binary, "user", "add", "101@Example.COM", "--db", db.url)
    m = PASSWORD_RE.match(out.rstrip("\n"))
    expect(m and out.endswith("\n") and out.count("\n") == 1, "stdout %r" % out)
    expect(m.group(1) == "101@example.com", "domain not lower-cased: %r" % out)
    expect_ha1s(db, "101", DOMAIN, m.group(2))
    # a second one gets another password
    out2 = ok(binary, "user", "add", "102@example.com", "--db", db.url)
    m2 = PASSWORD_RE.match(out2.rstrip("\n"))
    expect(m2 and m2.group(2) != m.group(2), "same generated password twice: %r %r"
           % (out, out2))
    # never stored: the password is nowhere in the database files
    for name in os.listdir(db.dir):
        with open(os.path.join(db.dir, name), "rb") as f:
            expect(m.group(2).encode() not in f.read(), "password found in %s" % name)


def add_default_domain(binary, db):
    out = ok(binary, "user", "add", "200", "--password", "pw", "-d", "Voip.Example.ORG",
             "--domain", "other.example.net", "--db", db.url)
    expect(out == "added 200@voip.example.org\n", "stdout %r" % out)
    expect_ha1s(db, "200", "voip.example.org", "pw")
    conf = os.path.join(db.dir, "sipd.conf")
    with open(conf, "w") as f:
        f.write("[server]\ndomain = conf.example\ndomain = conf2.example\ndb = %s\n" % db.url)
    out = ok(binary, "user", "add", "201", "--password", "pw", "-c", conf)
    expect(out == "added 201@conf.example\n", "file domain: stdout %r" % out)
    out = ok(binary, "user", "add", "202", "--password", "pw", "-c", conf, "-d", "flag.example")
    expect(out == "added 202@flag.example\n", "the first -d replaces the file's: %r" % out)
    expect_ha1s(db, "202", "flag.example", "pw")
    # an explicit @DOMAIN wins over -d; an IP literal is a domain too
    out = ok(binary, "user", "add", "203@192.0.2.7", "--password", "pw", "-d", "x.example",
             "--db", db.url)
    expect(out == "added 203@192.0.2.7\n", "stdout %r" % out)
    expect(set(rows(db)) == {("200", "voip.example.org"), ("201", "conf.example"),
                             ("202", "flag.example"), ("203", "192.0.2.7")},
           "rows %r" % sorted(rows(db)))


def add_existing(binary, db):
    ok(binary, "user", "add", "100@example.com", "--password", "first", "--db", db.url)
    line = fails(binary, 1, "user", "add", "100@example.com", "--password", "second",
                 "--db", db.url)
    expect("100@example.com" in line and "exists" in line, "message %r" % line)
    expect_ha1s(db, "100", DOMAIN, "first")  # unchanged


def delete(binary, db):
    for u in ("100", "101"):
        ok(binary, "user", "add", u + "@example.com", "--password", "pw", "--db", db.url)
    out = ok(binary, "user", "del", "100@EXAMPLE.com", "--db", db.url)
    expect(out == "deleted 100@example.com\n", "stdout %r" % out)
    expect(set(rows(db)) == {("101", DOMAIN)}, "rows %r" % sorted(rows(db)))
    line = fails(binary, 1, "user", "del", "100@example.com", "--db", db.url)
    expect("100@example.com" in line, "message %r" % line)
    fails(binary, 1, "user", "del", "101@example.org", "--db", db.url)  # other domain
    expect(set(rows(db)) == {("101", DOMAIN)}, "rows %r" % sorted(rows(db)))


def listing(binary, db):
    expect(user_list(binary, db) == [], "empty database lists users")
    names = ["b@example.com", "a@example.com", "z@a.example", "A-b.c!~*'()&=+$,;?/_@example.com"]
    for n in names:
        ok(binary, "user", "add", n, "--password", "pw", "--db", db.url)
    got = user_list(binary, db)
    expect(sorted(got) == sorted(names), "list %r, expected %r" % (got, names))
    expect(got == sorted(got, key=lambda n: (n.split("@")[1], n.split("@")[0])),
           "not sorted by domain, user: %r" % got)
    ok(binary, "user", "del", "b@example.com", "--db", db.url)
    got = user_list(binary, db)
    expect(sorted(got) == sorted(set(names) - {"b@example.com"}), "after del: %r" % got)


# ---------------------------------------------------------------------------
# user import


def write(db, name, text):
    path = os.path.join(db.dir, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def import_good(binary, db):
    ok(binary, "user", "add", "300@example.com", "--password", "old", "--db", db.url)
    path = write(db, "users.csv",
                 "# a comment\n"
                 "300@example.com,new password\n"
                 "\n"
                 "301@example.com,pw,with,commas\r\n"
                 "   \n"
                 "302,nodomain\n"
                 "303@Other.Example,x")  # no newline at the end
    out = ok(binary, "user", "import", path, "--db", db.url, "-d", "dflt.example")
    expect(out == "imported 4 users\n", "stdout %r" % out)
    expect(sorted(user_list(binary, db)) == sorted(
        ["300@example.com", "301@example.com", "302@dflt.example", "303@other.example"]),
        "list %r" % user_list(binary, db))
    expect_ha1s(db, "300", DOMAIN, "new password")  # an existing user is replaced
    expect_ha1s(db, "301", DOMAIN, "pw,with,commas")
    expect_ha1s(db, "302", "dflt.example", "nodomain")
    expect_ha1s(db, "303", "other.example", "x")
    empty = write(db, "empty.csv", "# nothing\n\n")
    out = ok(binary, "user", "import", empty, "--db", db.url)
    expect(out == "imported 0 users\n", "empty file: %r" % out)
    expect(len(rows(db)) == 4, "empty import changed the database")


def import_bad_row(binary, db):
    ok(binary, "user", "add", "keep@example.com", "--password", "pw", "--db", db.url)
    before = user_list(binary, db)
    cases = [
        ("400@example.com,pw\n401@example.com,pw\nbad user@example.com,pw\n", "user"),
        ("400@example.com,pw\n401@example.com,pw\n402@example.com\n", "user[@domain],password"),
        ("400@example.com,pw\n# c\n402@example.com,\n", "password"),
        ("400@example.com,pw\n\n402@bad_domain!,pw\n", "domain"),
        ("400@example.com,pw\n401@example.com,pw\n402@example.com, lead\n", "space"),
        ("400@example.com,pw\n401@example.com,pw\n%s@example.com,pw\n" % ("u" * 65), "64"),
        ("400@example.com,pw\n401@example.com,pw\n403%41@example.com,pw\n", "user"),
        ("400@example.com,pw\n401@example.com,pw\n403@example.com,p\tw\n", "printable"),
    ]
    for i, (text, word) in enumerate(cases):
        path = write(db, "bad%d.csv" % i, text)
        line = fails(binary, 2, "user", "import", path, "--db", db.url)
        expect(line.startswith("sipd: %s:3: " % path), "case %d: %r does not name %s:3"
               % (i, line, path))
        expect(word in line, "case %d: %r does not mention %r" % (i, line, word))
        expect("pw" not in line[len("sipd: " + path):] or "password" in word,
               "case %d: message quotes a password? %r" % (i, line))
        expect(user_list(binary, db) == before, "case %d: database changed: %r"
               % (i, user_list(binary, db)))


def import_duplicate(binary, db):
    path = write(db, "dup.csv", "500@example.com,a\n501@example.com,b\n502,c\n"
                                "# again, other case of the domain\n500@EXAMPLE.COM,d\n")
    line = fails(binary, 2, "user", "import", path, "--db", db.url)
    expect(line.startswith("sipd: %s:5: " % path) and "500@example.com" in line and
           "given twice" in line and "first on line 1" in line, "message %r" % line)
    path = write(db, "dup2.csv", "600,a\n600@dflt.example,b\n")
    line = fails(binary, 2, "user", "import", path, "--db", db.url, "-d", "dflt.example")
    expect("given twice (first on line 1)" in line and ":2: " in line, "message %r" % line)
    expect(user_list(binary, db) == [], "something was imported: %r" % user_list(binary, db))


# ---------------------------------------------------------------------------
# usage errors, help


USAGE_ERRORS = [
    ("user",),
    ("reg",),
    ("user", "frob"),
    ("reg", "frob"),
    ("reg", "add", "x"),
    ("user", "add"),
    ("user", "del"),
    ("user", "import"),
    ("user", "add", "a@example.com", "b@example.com"),
    ("user", "del", "a@example.com", "extra"),
    ("user", "list", "extra"),
    ("reg", "list", "extra"),
    ("user", "import", "a.csv", "b.csv"),
    ("user", "add", "a b@example.com"),
    ("user", "add", "a%41@example.com"),
    ("user", "add", "a:b@example.com"),
    ("user", "add", "@example.com"),
    ("user", "add", "a@"),
    ("user", "add", "a@bad_domain!"),
    ("user", "add", "a@exa mple.com"),
    ("user", "add", "u" * 65 + "@example.com"),
    ("user", "del", "a b"),
    ("user", "add", "a@example.com", "--password", ""),
    ("user", "add", "a@example.com", "--password", " lead"),
    ("user", "add", "a@example.com", "--password", "trail "),
    ("user", "add", "a@example.com", "--password", "tab\there"),
    ("user", "add", "a@example.com", "--password", "p" * 129),
    ("user", "add", "a@example.com", "--password", "caf\u00e9"),
    ("user", "add", "a@example.com", "--password", "x", "--password", "y"),
    ("user", "list", "--password", "x"),
    ("reg", "list", "--password", "x"),
    ("user", "list", "--bogus"),
    ("user", "list", "-Z"),
    ("user", "add", "a@example.com", "--password"),
    ("user", "list", "--db"),
    ("user", "list", "-d"),
    ("user", "add", "a", "-d", "bad domain"),
    ("user", "list", "--db", "mysql://localhost/sipd"),
    ("user", "list", "--db", "sqlite:"),
    ("user", "list", "--db", "postgresql://localhost/sipd"),
    ("reg", "list", "--db", "nonsense"),
    ("user", "list", "-c", "/nonexistent/sipd.conf"),
    ("user", "list", "-c", "a.conf", "-c", "b.conf"),
    ("user", "import", "/nonexistent/users.csv"),
]


def usage_errors(binary, db):
    bad_conf = write(db, "bad.conf", "[server]\nbogus = 1\n")
    cases = list(USAGE_ERRORS) + [("user", "list", "-c", bad_conf)]
    for args in cases:
        # --db (right after the group, so that it never becomes the value of
        # a flag the case leaves without one) unless the case gives its own:
        # nothing touches a real sipd.db
        extra = [] if "--db" in args else ["--db", db.url]
        fails(binary, 2, *([args[0]] + extra + list(args[1:])))
    expect(not os.path.exists(db.path) or rows(db) == {}, "a usage error wrote to the database")
    expect(not os.path.exists("sipd.db") or os.path.getmtime("sipd.db") < START,
           "a test wrote ./sipd.db")


def runtime_errors(binary, db):
    # a database that cannot be opened: exit 1, one line
    line = fails(binary, 1, "user", "list", "--db", "sqlite:" + os.path.join(db.dir, "no", "x.db"))
    expect("x.db" in line, "message %r" % line)
    fails(binary, 1, "user", "add", "a@example.com", "--password", "pw", "--db",
          "sqlite:" + db.dir)  # a directory


def help_texts(binary, db):
    for args, words in [(("user", "--help"), ("add", "del", "list", "import", "--db")),
                        (("user", "-h"), ("add",)),
                        (("user", "add", "--help"), ("--password", "USER[@DOMAIN]", "--db")),
                        (("user", "del", "-h"), ("USER[@DOMAIN]",)),
                        (("user", "list", "--help"), ("list",)),
                        (("user", "import", "--help"), ("FILE", "given twice")),
                        (("reg", "--help"), ("list",)),
                        (("reg", "list", "--help"), ("expires=",)),
                        (("user", "add", "x", "--db", "nonsense", "-h"), ("--password",))]:
        out = ok(binary, *args)
        expect(out.startswith("usage: sipd %s" % args[0]), "%r: %r" % (args, out[:200]))
        for w in words:
            expect(w in out, "%r: help does not mention %r" % (args, w))
    expect(not os.path.exists(db.path), "--help opened the database")


# ---------------------------------------------------------------------------
# reg list


BINDING_COLUMNS = ("aor", "contact", "path", "instance", "reg_id", "q", "expires_at", "call_id",
                   "cseq", "source", "user_agent")


def insert_binding(db, **kw):
    values = {"path": "", "instance": "", "reg_id": 0, "q": 1000, "call_id": "c1", "cseq": 1,
              "source": "udp:192.0.2.1:5060", "user_agent": ""}
    values.update(kw)
    with sqlite3.connect(db.path) as con:
        con.execute("INSERT INTO bindings (%s) VALUES (%s)" % (
            ", ".join(BINDING_COLUMNS), ", ".join("?" * len(BINDING_COLUMNS))),
            [values[c] for c in BINDING_COLUMNS])


def reg_list_empty(binary, db):
    out = ok(binary, "reg", "list", "--db", db.url)
    expect(out == "", "stdout %r" % out)
    expect(os.path.exists(db.path), "the database was not created")


LINE_RE = re.compile(r"^(\S+) (\S+) expires=(\d+) q=(\S+) source=(\S+)(.*)$")


def reg_list_bindings(binary, db):
    ok(binary, "reg", "list", "--db", db.url)  # creates the schema
    now = int(time.time())
    insert_binding(db, aor="100@example.com", contact="sip:100@192.0.2.1:5060",
                   expires_at=now + 600)
    insert_binding(db, aor="101@example.com", contact="sip:101@192.0.2.2:5062;transport=tcp",
                   expires_at=now + 3600, q=500, path="<sip:edge.example.com;lr>",
                   instance="<urn:uuid:00000000-0000-1000-8000-000a95a0e128>", reg_id=2,
                   source="tcp:192.0.2.2:40000", user_agent='Phone "X" 1.0')
    insert_binding(db, aor="102@example.com", contact="sip:102@192.0.2.3", expires_at=now - 1)
    insert_binding(db, aor="102@example.com", contact="sip:102@192.0.2.4", expires_at=now - 3600)
    out = ok(binary, "reg", "list", "--db", db.url)
    lines = out.splitlines()
    expect(len(lines) == 2 and out.endswith("\n"), "expected 2 lines: %r" % out)
    m = [LINE_RE.match(l) for l in lines]
    expect(all(m), "line format: %r" % lines)
    a, b = m
    expect(a.group(1, 2, 4, 5, 6) == ("sip:100@example.com", "sip:100@192.0.2.1:5060", "1",
                                      "udp:192.0.2.1:5060", ""), "line 1: %r" % lines[0])
    expect(590 <= int(a.group(3)) <= 600, "line 1 expires: %r" % lines[0])
    expect(b.group(1, 2, 4, 5) == ("sip:101@example.com", "sip:101@192.0.2.2:5062;transport=tcp",
                                   "0.5", "tcp:192.0.2.2:40000"), "line 2: %r" % lines[1])
    expect(3590 <= int(b.group(3)) <= 3600, "line 2 expires: %r" % lines[1])
    expect(b.group(6) == ' path=<sip:edge.example.com;lr>'
           ' instance=<urn:uuid:00000000-0000-1000-8000-000a95a0e128> reg-id=2'
           ' ua="Phone \\"X\\" 1.0"', "line 2 extras: %r" % b.group(6))
    expect("102@" not in out, "an expired binding is listed: %r" % out)
    with sqlite3.connect(db.path) as con:
        left = [r[0] for r in con.execute("SELECT aor FROM bindings ORDER BY aor")]
    expect(left == ["100@example.com", "101@example.com"], "expired ones kept: %r" % left)


# ---------------------------------------------------------------------------
# another process holds the write lock


def waits_for_lock(binary, db):
    ok(binary, "user", "list", "--db", db.url)  # creates the schema
    con = sqlite3.connect(db.path, isolation_level=None, timeout=10, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO subscribers VALUES ('held', 'example.com', 'a', 'b', 'c')")
    release = threading.Timer(1.0, lambda: con.execute("COMMIT"))
    release.start()
    try:
        start = time.monotonic()
        out = ok(binary, "user", "add", "700@example.com", "--password", "pw", "--db", db.url)
        took = time.monotonic() - start
    finally:
        release.join()
        con.close()
    expect(out == "added 700@example.com\n", "stdout %r" % out)
    expect(took >= 0.5, "did not wait for the lock (%.2f s): was the lock held?" % took)
    expect(set(rows(db)) == {("held", DOMAIN), ("700", DOMAIN)}, "rows %r" % sorted(rows(db)))


START = time.time()


def main():
    binary = binary_from_argv()
    tap = Tap()
    tap.context = lambda: _last["text"]
    tests = [
        ("user add --password: one line, the right HA1s", add_with_password),
        ("user add: generated 16-character password, the right HA1s, not stored",
         add_generated),
        ("user add USER: the first -d, the file's domain, -d over the file", add_default_domain),
        ("user add of an existing user: exit 1, unchanged", add_existing),
        ("user del: deleted; a missing one exits 1", delete),
        ("user list: exactly the users, sorted", listing),
        ("user import: good file, comments, CRLF, commas in passwords, replace", import_good),
        ("user import: bad row at line 3 → exit 2 naming FILE:3, nothing imported",
         import_bad_row),
        ("user import: a user given twice → exit 2, nothing imported", import_duplicate),
        ("usage errors: exit 2, exactly one stderr line", usage_errors),
        ("runtime errors: exit 1, exactly one stderr line", runtime_errors),
        ("--help at every level: exit 0, usage on stdout", help_texts),
        ("reg list: empty database → no output, exit 0", reg_list_empty),
        ("reg list: current bindings in the documented format, expired ones not",
         reg_list_bindings),
        ("user add waits for another process's write lock", waits_for_lock),
    ]
    for name, fn in tests:
        tap.run(name, Fresh(binary, fn))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""test_torture.py - every RFC 4475 and RFC 5118 message, on the wire, to
the real sipd, over UDP and over TCP.

    test_torture.py PATH/TO/sipd          (prints TAP)

sipd answers as a server with no users and no domains yet (the registrar
and the proxy come later; today REGISTER, INVITE, MESSAGE... get a 501).
What each message must get is in EXPECT below, one line per message with
the reason; tests/data/*/index.json says what the RFCs expect. After each
message sipd must still answer an OPTIONS ping (and over TCP, when the
message left the stream intact, a ping on the same connection: that proves
the message was framed exactly by its Content-Length).

The files are sent as they are, with one exception: over UDP, ";rport" is
added to the top Via of requests that lack it. Without it the answer goes
to the source address at the Via port, 5060 when absent (RFC 3261
§18.2.2), where no test may listen; with it, back to the test's socket
(RFC 3581). The messages already name example.com hosts: sipd answers as
the server they reach. rfc4475/baddn.sip has no end of headers (an archive
defect); wire/baddn.sip, with the empty line, is sent instead. RFC 5118
files are sent from wire/ (CRLF line ends, correct Content-Length).

Some RFC messages share branch, sent-by and method (cparam01/cparam02,
escnull/regescrt, novelsc/unkscm, the RFC 5118 REGISTERs and OPTIONS):
RFC 3261 §17.2.3 makes the later one a retransmission of the earlier, and
sipd may answer it with the earlier response. Over UDP that answer is
accepted for the later message (the expectations of each pair agree).
"""

import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipd_harness import (QUIET_TIME, REPLY_TIMEOUT, ParseError, Sipd, SipdError, Tap,  # noqa: E402
                          TcpClient,
                          UdpClient, binary_from_argv, build_ack, build_request, parse_message,
                          uri_for)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


class Expect:
    """What one message must get.

    kind:  "final"   the first final response's status satisfies statuses
                     (a set) or, when statuses is None, is not in exclude;
                     provisional responses before it are allowed
           "silent"  no answer at all (responses are never answered)
           "closes"  TCP: an answer is optional (its status in statuses),
                     then sipd closes the connection
           "any"     anything or nothing; sipd must only stay alive
    finals:  how many final responses (dblreq over TCP carries two requests)
    then_silent: after the final, nothing more but retransmissions of it
    interim: {status: why} statuses that are wrong for the finished server
             but expected while a part is missing: reported as TODO
    check:   extra test on the response: fn(response) -> error text or None
    intact:  TCP: the stream is still in step afterwards, so an OPTIONS on
             the same connection must be answered (after a malformed
             message sipd may close the connection instead)
    """

    def __init__(self, kind, statuses=None, exclude=(), finals=1, then_silent=False, interim=None,
                 check=None, intact=False, why=""):
        self.kind = kind
        self.statuses = set(statuses) if statuses is not None else None
        self.exclude = set(exclude)
        self.finals = finals
        self.then_silent = then_silent
        self.interim = interim or {}
        self.check = check
        self.intact = intact
        self.why = why

    def status_ok(self, st):
        if self.statuses is not None:
            return st in self.statuses
        return st not in self.exclude


def status(*codes, **kw):
    return Expect("final", statuses=codes, **kw)


def valid(**kw):
    """Well formed: some final answer, but not the parser's 400 (nor 505 or
    413, which would also mean the message was misread)."""
    kw.setdefault("intact", True)
    return Expect("final", exclude=(400, 413, 505), **kw)


def rejected(**kw):
    """Any final status >= 400 (400 included)."""
    return Expect("final", statuses=range(400, 700), **kw)


def any_final(**kw):
    return Expect("final", exclude=(), **kw)


SILENT = Expect("silent", intact=True)  # a well-formed response: dropped, stream in step
SILENT_BAD = Expect("silent")  # a malformed response: dropped; on TCP sipd may close
ANY = Expect("any")


def closes(*codes):
    return Expect("closes", statuses=codes)


def has_allow(r):
    if r.status == 501 and not r.headers.values("Allow"):
        return "501 without an Allow header"
    return None


def unsupported_lists(*tags):
    def check(r):
        got = {t.strip().lower() for t in r.headers.values("Unsupported")}
        missing = [t for t in tags if t.lower() not in got]
        return "Unsupported lacks %s" % missing if missing else None
    return check


REGISTRAR = {501: "registrar not implemented yet"}

# name: (over UDP, over TCP or None for the same, comment)
EXPECT = {
    # RFC 4475 §3.1.1: valid messages
    "wsinv": (valid(), None, "INVITE full of folding and odd whitespace: well formed"),
    "intmeth": (status(501, 404, check=has_allow), None,
                "unknown method at a UAS: 501 with Allow (a proxy might say 404)"),
    "esc01": (valid(), None, "INVITE with escapes"),
    "escnull": (valid(), None, "REGISTER with %00 in user parts"),
    "esc02": (status(501, check=has_allow), None, "RE%47IST%45R is an unknown method: 501 with Allow"),
    "lwsdisp": (valid(), None, "OPTIONS with a token display name right before '<'"),
    "longreq": (valid(), None, "3.5 kB INVITE with dozens of Vias"),
    "dblreq": (valid(then_silent=True), valid(finals=2, intact=False),
               "UDP: one datagram, the bytes after Content-Length 0 are dropped (no answer to "
               "the INVITE); TCP: the stream holds a REGISTER, a CRLF and an INVITE, both "
               "answered; the INVITE's body is 155 bytes for Content-Length 150, so 5 bytes of "
               "garbage follow (sipd may answer 400 and close)"),
    "semiuri": (valid(), None, "OPTIONS whose user part holds ';par=u%40example.net'"),
    "transports": (valid(), None, "five Vias with odd transports"),
    "mpart01": (valid(), None, "MESSAGE with a binary multipart body"),
    "unreason": (SILENT, None, "a response: never answered"),
    "noreason": (SILENT, None, "a response with an empty reason phrase: never answered"),
    # RFC 4475 §3.1.2: invalid messages
    "badinv01": (status(400), None, "empty Via and Contact parameters"),
    "clerr": (status(400), closes(400),
              "Content-Length 9999 > the datagram: 400; on TCP sipd waits for the body and closes "
              "on limits.tcp_message_timeout"),
    "ncl": (status(400), closes(400), "Content-Length -999: 400; on TCP the stream is lost: close"),
    "scalar02": (status(400), None, "CSeq over 2^32-1"),
    "scalarlg": (SILENT_BAD, None, "a response (with absurd numbers): never answered"),
    "quotbal": (status(400), None, "unterminated quoted display name"),
    "ltgtruri": (status(400), None, "Request-URI in <>"),
    "lwsruri": (status(400), None, "whitespace inside the Request-URI"),
    "lwsstart": (any_final(), None, "extra spaces in the request line: 400 or liberal accept"),
    "trws": (any_final(), None, "trailing spaces after SIP/2.0: 400 or liberal accept"),
    "escruri": (any_final(), None, "URI headers in the Request-URI: 400 or ignore them"),
    "baddate": (any_final(), None, "non-GMT Date: 400 only if Date matters; sipd ignores Date"),
    "regbadct": (status(400, interim=REGISTRAR), None,
                 "REGISTER with an unbracketed Contact URI holding '?': 400 from a registrar"),
    "badaspec": (status(400), None, "spaces inside <> of To"),
    "baddn": (status(400), None, "unquoted display names with ',' (wire/ copy with the empty line)"),
    "badvers": (status(505), None, "SIP/7.0"),
    "mismatch01": (status(400), None, "OPTIONS with CSeq method INVITE"),
    "mismatch02": (status(501, 400, check=has_allow), None,
                   "unknown method NEWMETHOD with CSeq INVITE: 501 (with Allow) or 400"),
    "bigcode": (SILENT_BAD, None, "a response with status 4294967301: never answered"),
    # RFC 4475 §3.2: transaction layer
    "badbranch": (any_final(), None, "branch is the bare magic cookie: 400 or RFC 2543 matching"),
    # RFC 4475 §3.3: application layer
    "insuf": (status(400), None, "no From, To, Call-ID, Max-Forwards"),
    "unkscm": (status(416), None, "Request-URI scheme nobodyKnowsThisScheme"),
    "novelsc": (status(416, 404), None, "Request-URI scheme soap.beep"),
    "unksm2": (rejected(), None, "REGISTER whose To is isbn:...: a registrar says 400"),
    "bext01": (status(420, check=unsupported_lists("nothingSupportsThis",
                                                   "nothingSupportsThisEither")), None,
               "Require with unknown options: 420 listing them in Unsupported"),
    "invut": (valid(), None, "INVITE with an unknown body type: 415 at a UAS, today 501"),
    "regaut01": (valid(), None, "REGISTER with an unknown Authorization scheme"),
    "multi01": (status(400), None, "CSeq, Call-ID, To, From twice"),
    "mcl01": (status(400), closes(400), "two different Content-Lengths: 400; TCP: close"),
    "bcast": (SILENT, None, "a response whose second Via is a broadcast address"),
    "zeromf": (status(483), None, "OPTIONS to another host with Max-Forwards 0"),
    "cparam01": (valid(), None, "REGISTER, Contact with a header parameter"),
    "cparam02": (valid(), None, "REGISTER, Contact with a URI parameter"),
    "regescrt": (valid(), None, "REGISTER, Contact with an escaped Route header"),
    "sdp01": (rejected(), None, "INVITE accepting only text/nobodyKnowsThis: 406 or 400"),
    # RFC 4475 §3.4
    "inv2543": (valid(), ANY,
                "RFC 2543 INVITE: no branch, no Content-Length; on TCP the framing is unknowable, "
                "sipd must just survive"),
    # RFC 5118
    "ipv6-good": (valid(), None, "bracketed IPv6 everywhere"),
    "ipv6-bad": (status(400), None, "Request-URI sip:2001:db8::10 without brackets"),
    "port-ambiguous": (valid(), None, "sip:[2001:db8::10:5070]: the port is part of the address"),
    "port-unambiguous": (valid(), None, "sip:[2001:db8::10]:5070"),
    "via-received-param-with-delim": (valid(), None, "received=[IPv6]: accepted for robustness"),
    "via-received-param-no-delim": (valid(), None, "received=IPv6"),
    "ipv6-in-sdp": (valid(), None, "IPv6 in SDP"),
    "mult-ip-in-header": (valid(), None, "three Vias mixing IPv6 and IPv4"),
    "mult-ip-in-sdp": (valid(), None, "IPv4 and IPv6 c= lines"),
    "ipv4-mapped-ipv6": (valid(), None, "::ffff:192.0.2.x addresses"),
    "ipv6-bug-abnf-3-colons": (valid(), None, "[2001:db8:::192.0.2.1]: tolerated"),
    "ipv6-correct-abnf-2-colons": (valid(), None, "[2001:db8::192.0.2.1]"),
}


class Message:
    def __init__(self, rfc, entry, path):
        self.rfc = rfc
        self.name = entry["name"]
        self.entry = entry
        with open(path, "rb") as f:
            self.data = f.read()
        self.is_request = not self.data.startswith(b"SIP/")
        self.ruri = self.data.split(b"\r\n", 1)[0].split(b" ")[1].decode("utf-8", "replace") \
            if self.is_request else None
        self.key = txn_key(self.data) if self.is_request else None


def load_messages():
    out = []
    for rfc in ("rfc4475", "rfc5118"):
        with open(os.path.join(DATA, rfc, "index.json")) as f:
            index = json.load(f)
        for entry in index["messages"]:
            name = entry.get("wire_file") or entry["file"]
            out.append(Message(rfc, entry, os.path.join(DATA, rfc, name)))
    return out


def txn_key(data):
    """(branch, sent-by, method) of the top Via, as RFC 3261 §17.2.3 matches."""
    branch = re.search(rb"branch\s*=\s*([^;\r\n,\s]+)", data)
    sent_by = re.search(rb"(?im)^(?:via|v)\s*:\s*SIP\s*/\s*2\.0\s*/\s*[^\s]+\s+([^;\r\n,]+)", data)
    method = data.split(b" ", 1)[0]
    return (branch and branch.group(1), sent_by and sent_by.group(1).strip(), method)


HEADER_NAME = re.compile(rb"([^:\r\n]*?)[ \t]*:")  # .match() anchors at pos


def add_rport(data):
    """Insert ';rport' into the top Via of a request that has none: after the
    sent-by, before its first parameter or the end of the value."""
    head_end = data.find(b"\r\n\r\n")
    head_end = len(data) if head_end < 0 else head_end
    pos = data.find(b"\r\n") + 2
    while pos < head_end:
        eol = data.find(b"\r\n", pos)
        eol = head_end if eol < 0 or eol > head_end else eol
        m = HEADER_NAME.match(data, pos, eol)
        if data[pos:pos + 1] not in (b" ", b"\t") and m and m.group(1).strip().lower() in (b"via", b"v"):
            # the value runs over continuation lines
            end = eol
            while end < head_end and data[end + 2:end + 3] in (b" ", b"\t"):
                nxt = data.find(b"\r\n", end + 2)
                end = head_end if nxt < 0 or nxt > head_end else nxt
            value_start = m.end()
            stop = end
            for sep in (b";", b","):
                i = data.find(sep, value_start, end)
                if 0 <= i < stop:
                    stop = i
            first = data[value_start:end].split(b",")[0]
            if re.search(rb";\s*rport\b", first):
                return data
            # keep the insertion inside the value, before trailing whitespace
            while stop > value_start and data[stop - 1:stop] in (b" ", b"\t"):
                stop -= 1
            return data[:stop] + b";rport" + data[stop:]
        pos = eol + 2
    return data


# ---------------------------------------------------------------------------


class Outcome:
    def __init__(self):
        self.messages = []  # responses to this message, in order
        self.closed = False


def is_final(m):
    return m.is_response and m.status is not None and m.status >= 200


def evaluate(exp, out, transport):
    """None when out meets exp, else (error text, got status or None)."""
    finals = [m for m in out.messages if is_final(m)]
    requests = [m for m in out.messages if not m.is_response]
    if requests:
        return "sipd sent a request?", None
    for m in out.messages:
        if not is_final(m) and not (m.status and 100 <= m.status < 200):
            return "odd message %r" % m.start_line, None
    if exp.kind == "any":
        return None
    if exp.kind == "silent":
        if out.messages:
            return "answered, must not be: %s" % out.messages[0].start_line, out.messages[0].status
        return None
    if exp.kind == "closes":
        for m in finals:
            if exp.statuses and m.status not in exp.statuses:
                return "answered %s before closing" % m.start_line, m.status
        if not out.closed:
            return "connection not closed", None
        return None
    if len(finals) < exp.finals:
        got = ", ".join(m.start_line for m in out.messages) or "nothing"
        return "%d final response(s) expected, got %s%s" % (
            exp.finals, got, " (connection closed)" if out.closed else ""), None
    for m in finals[:exp.finals]:
        if not exp.status_ok(m.status):
            want = sorted(exp.statuses) if exp.statuses is not None and len(exp.statuses) < 10 else (
                ">= 400" if exp.statuses is not None else "not %s" % sorted(exp.exclude))
            return "status %d %s, expected %s" % (m.status, m.reason, want), m.status
        if exp.check:
            err = exp.check(m)
            if err:
                return err, m.status
    if exp.then_silent and len(finals) > exp.finals:
        extra = [m for m in finals[exp.finals:] if m.raw != finals[0].raw]
        if extra:
            return "more answers than requests: %s" % extra[0].start_line, None
    return None


class UdpRun:
    """All messages from one UDP socket (so a response that the RFC's
    shared branches make a retransmission still reaches it)."""

    def __init__(self, sipd):
        self.sipd = sipd
        self.dest = sipd.addr("udp")
        self.sock = UdpClient(4)
        self.finals_by = {}  # raw final response -> name of the message it answered
        self.keys = {}  # message name -> transaction key

    def close(self):
        self.sock.close()

    def stale(self, raw, msg):
        """A retransmission of an earlier message's final response (not one
        that shares this message's transaction)."""
        owner = self.finals_by.get(raw)
        return owner is not None and owner != msg.name and self.keys.get(owner) != msg.key

    def receive(self, msg, out, seconds, finals_wanted):
        deadline = time.monotonic() + seconds
        while True:
            if finals_wanted and sum(1 for m in out.messages if is_final(m)) >= finals_wanted:
                return
            got = self.sock.recv_raw(deadline - time.monotonic())
            if not got:
                return
            raw = got[0]
            if self.stale(raw, msg):
                continue
            try:
                m = parse_message(raw)
            except ParseError as e:
                raise AssertionError("unparseable datagram from sipd: %s" % e)
            out.messages.append(m)
            if is_final(m):
                self.finals_by.setdefault(raw, msg.name)
                self.ack(msg, m)

    def ack(self, msg, r):
        cseq = r.cseq()
        if msg.is_request and cseq and cseq[1] == "INVITE" and r.status >= 300:
            try:
                self.sock.send(build_ack(msg.ruri, r, self.sock.local), self.dest)
            except ParseError:
                pass

    def send(self, msg, exp):
        self.keys[msg.name] = msg.key
        for raw in self.sock.drain():
            pass
        data = add_rport(msg.data) if msg.is_request else msg.data
        out = Outcome()
        self.sock.send(data, self.dest)
        if exp.kind in ("silent", "any"):
            self.receive(msg, out, QUIET_TIME, 0)
        else:
            self.receive(msg, out, REPLY_TIMEOUT, exp.finals)
            if exp.then_silent:
                self.receive(msg, out, QUIET_TIME, 0)
        return out


def tcp_send(sipd, msg, exp):
    dest = sipd.addr("tcp")
    out = Outcome()
    with TcpClient(dest) as c:
        c.send(msg.data)
        wait = QUIET_TIME if exp.kind in ("silent", "any") else REPLY_TIMEOUT
        if exp.kind == "closes":
            wait = 5.0  # limits.tcp_message_timeout is 1 s here
        deadline = time.monotonic() + wait
        while True:
            if exp.kind == "final" and sum(1 for m in out.messages if is_final(m)) >= exp.finals:
                break
            try:
                m = c.recv_message(deadline - time.monotonic())
            except ParseError as e:
                raise AssertionError("unparseable message from sipd: %s" % e)
            if m is None:
                break
            out.messages.append(m)
            cseq = m.cseq()
            if is_final(m) and cseq and cseq[1] == "INVITE" and m.status >= 300:
                uri = msg.ruri if cseq == first_cseq(msg.data) else invite_uri_after(msg.data)
                try:
                    c.send(build_ack(uri, m, c.local, "TCP"))
                except (ParseError, OSError):
                    pass
        if exp.kind == "closes":
            out.closed = c.wait_closed(max(0.0, deadline - time.monotonic()))
        else:
            out.closed = c.closed
        err = evaluate(exp, out, "tcp")
        # the stream must still be in step: a ping on the same connection
        if err is None and exp.intact:
            ping = build_request("OPTIONS", uri_for(dest), c.local, "TCP", cseq=424242)
            try:
                c.send(ping)
                r = c.recv_final()
            except OSError as e:
                r = None
                err = ("ping on the same connection: %s" % e, None)
            if err is None:
                if r is None or r.status != 200 or r.cseq() != (424242, "OPTIONS"):
                    err = ("the ping after it on the same connection got %s: the message was "
                           "not framed by its Content-Length" % (r.start_line if r else "nothing"),
                           None)
    return out, err


def first_cseq(data):
    m = re.search(rb"(?im)^cseq\s*:\s*(\d+)\s+(\S+)", data)
    return (int(m.group(1)), m.group(2).decode()) if m else None


def invite_uri_after(data):
    """dblreq: the Request-URI of the INVITE that follows the REGISTER."""
    m = re.search(rb"\r\nINVITE (\S+) SIP/2.0", data)
    return m.group(1).decode() if m else "sip:invalid"


def report(tap, name, exp, err, sipd, extra=""):
    if err is None:
        tap.ok(True, name)
        if os.environ.get("SIPD_TEST_VERBOSE"):
            print("# " + extra, flush=True)
        return
    text, got = err
    diag = text + ("\n" + extra if extra else "") + "\nexpected: " + exp.why
    if got is not None and got in exp.interim:
        tap.todo(name, exp.interim[got], diag=diag)
        return
    tap.ok(False, name, diag + "\n" + sipd.stderr_tail(10))


def main():
    binary = binary_from_argv()
    tap = Tap()
    messages = load_messages()
    names = {m.name for m in messages}
    missing = sorted(names - set(EXPECT))
    extra = sorted(set(EXPECT) - names)
    tap.ok(not missing and not extra, "every RFC 4475/5118 message has an expectation",
           "no expectation for %s; expectations for unknown %s" % (missing, extra))

    settings = {"timers.t1": "50ms", "limits.tcp_message_timeout": "1s"}
    for transport in ("udp", "tcp"):
        sipd = Sipd(binary, listen=("udp:127.0.0.1:0", "tcp:127.0.0.1:0"), settings=settings)
        try:
            sipd.start()
        except SipdError as e:
            tap.ok(False, "start sipd for the %s run" % transport.upper(), str(e))
            continue
        try:
            run = UdpRun(sipd) if transport == "udp" else None
            try:
                for msg in messages:
                    udp_exp, tcp_exp, why = EXPECT[msg.name]
                    exp = udp_exp if transport == "udp" or tcp_exp is None else tcp_exp
                    exp.why = why
                    name = "%s %s over %s" % (msg.rfc, msg.name, transport.upper())
                    if not sipd.alive():
                        # the previous message killed it (and failed on its
                        # ping): a new sipd for the rest
                        sipd.stop()
                        sipd = Sipd(binary, listen=("udp:127.0.0.1:0", "tcp:127.0.0.1:0"),
                                    settings=settings).start()
                        if run:
                            run.close()
                            run = UdpRun(sipd)
                    try:
                        if run:
                            out = run.send(msg, exp)
                            err = evaluate(exp, out, "udp")
                        else:
                            out, err = tcp_send(sipd, msg, exp)
                        got = "; ".join(m.start_line for m in out.messages) or "no answer"
                        if err is None:
                            try:
                                sipd.ping("udp")
                            except AssertionError as e:
                                err = ("after it: %s" % e, None)
                    except (AssertionError, OSError) as e:
                        err, got = ("%s: %s" % (type(e).__name__, e), None), ""
                    report(tap, name, exp, err, sipd, "got: %s" % got)
            finally:
                if run:
                    run.close()
        finally:
            status = sipd.stop()
        tap.ok(status == 0, "sipd (%s run) exits 0 on SIGTERM" % transport.upper(),
               "exit status %s\n%s" % (status, sipd.stderr_tail()))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())

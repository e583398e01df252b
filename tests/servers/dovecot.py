"""A real Dovecot 2.3 for one test session, configured as ../shared/LAB.md describes.

Runs as root (the master), mail as the ``vmail`` OS user. Each ``start()`` uses a fresh folder,
hence a fresh ``base_dir``: a stale socket from an earlier run delays the first greeting by 5 s.
IMAP listens in clear text with STARTTLS (``port``) and with implicit TLS (``tls_port``), on a
self-signed certificate that ``ssl_context()`` trusts. LMTP is on ``lmtp_port``; the submission
service only when a relay port is given (it must relay somewhere).

Test setup goes through the stdlib ``imaplib`` (sync, independent of the client under test), or
through Maildir files written directly for big mailboxes (10,000 messages in about 2 s).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from plugin_email_manager.mailsync.imap import encode_mutf7
from tests.servers.net import free_port, wait_port

_CONF = """\
protocols = {protocols}
listen = 127.0.0.1
base_dir = {run}/run
state_dir = {run}/state
instance_name = test-dovecot-{port}
log_path = {run}/dovecot.log
ssl = yes
ssl_cert = <{run}/cert.pem
ssl_key = <{run}/key.pem
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login xoauth2 oauthbearer
mail_location = maildir:{mail}/%u/Maildir
mail_fsync = never
mail_uid = vmail
mail_gid = vmail
first_valid_uid = {vmail_uid}
mail_max_userip_connections = 500
hostname = mail.example.test
postmaster_address = postmaster@example.test
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {run}/passwd.d/%u
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {run}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid=vmail gid=vmail home={mail}/%u allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
{submission}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

_SUBMISSION = """\
service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {submission_port}
  }}
}}
submission_relay_host = 127.0.0.1
submission_relay_port = {relay_port}
submission_relay_trusted = no
"""

_OAUTH2 = """\
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""

SPECIAL_MAILBOXES = {
    "Drafts": "\\Drafts",
    "Sent": "\\Sent",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}


def _self_signed(run: Path) -> None:
    """A certificate for 127.0.0.1 / localhost, made with ``cryptography`` (a project dependency)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (run / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (run / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (run / "key.pem").chmod(0o600)


def _descendants(pid: int) -> list[int]:
    """The processes under ``pid`` (children, theirs, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Dovecot:
    host = "127.0.0.1"

    def __init__(
        self,
        users: dict[str, str] | None = None,
        *,
        introspection_url: str | None = None,
        submission_relay_port: int | None = None,
        extra_conf: str = "",
    ):
        """``extra_conf``: lines appended to the configuration (e.g. ``mailbox_idle_check_interval``
        for hundreds of IDLE connections, bench/accounts.py)."""
        self.users = dict(users or {})
        self.extra_conf = extra_conf
        # Nothing listens on a fresh free port: OAuth logins then fail as "temporarily unavailable".
        self.introspection_url = introspection_url or f"http://127.0.0.1:{free_port()}/introspect"
        self.submission_relay_port = submission_relay_port
        self.dir: Path | None = None
        self.port = self.tls_port = self.lmtp_port = 0
        self.submission_port: int | None = None
        vmail = pwd.getpwnam("vmail")
        self._uid, self._gid = vmail.pw_uid, vmail.pw_gid

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> "Dovecot":
        if os.geteuid() != 0:
            raise RuntimeError("the test Dovecot runs as root (mail as vmail)")
        self.dir = Path(tempfile.mkdtemp(prefix="ec-dovecot-"))
        self.dir.chmod(0o755)  # the imap processes (vmail) must reach mail/
        run, mail = self.dir, self.dir / "mail"
        mail.mkdir()
        shutil.chown(mail, self._uid, self._gid)
        self.port, self.tls_port, self.lmtp_port = free_port(), free_port(), free_port()
        submission, protocols = "", "imap lmtp"
        if self.submission_relay_port is not None:
            self.submission_port = free_port()
            submission = _SUBMISSION.format(submission_port=self.submission_port, relay_port=self.submission_relay_port)
            protocols += " submission"
        mailboxes = "".join(
            f"  mailbox {name} {{\n    special_use = {use}\n    auto = subscribe\n  }}\n"
            for name, use in SPECIAL_MAILBOXES.items()
        )
        _self_signed(run)
        (run / "oauth2.conf.ext").write_text(_OAUTH2.format(url=self.introspection_url))
        self._write_passwd()
        self.conf = run / "dovecot.conf"
        self.conf.write_text(
            _CONF.format(
                protocols=protocols,
                run=run,
                mail=mail,
                vmail_uid=self._uid,
                port=self.port,
                tls_port=self.tls_port,
                lmtp_port=self.lmtp_port,
                submission=submission,
                mailboxes=mailboxes,
            )
            + self.extra_conf
        )
        # The daemon keeps its stdout/stderr open: capturing them through pipes would never end.
        with open(run / "start.log", "wb") as out:
            started = subprocess.run(
                ["dovecot", "-c", str(self.conf)], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        if started.returncode:
            raise RuntimeError(f"dovecot did not start: {(run / 'start.log').read_text()}{self.log()}")
        for port in (self.port, self.tls_port, self.lmtp_port, self.submission_port):
            if port:
                wait_port(port, 15)
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        # SIGTERM to the master is what `doveadm stop` sends; waiting here takes 1 s, doveadm 3 s.
        pid_file = self.dir / "run" / "master.pid"
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            subprocess.run(
                ["doveadm", "-c", str(self.conf), "stop"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        end = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < end:
            time.sleep(0.02)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def halt(self) -> None:
        """Stops the server (every IMAP connection is closed) but keeps its mail, users and ports
        for ``resume()``: a mail server going down for maintenance."""
        pid_file = self.dir / "run" / "master.pid"
        master = int(pid_file.read_text())
        children = _descendants(master)
        os.kill(master, signal.SIGTERM)
        # an imap process busy with a client outlives its master by seconds, serving it to the
        # end: killed here, so that the client sees the server go away at once
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < end:
            time.sleep(0.02)

    def resume(self) -> None:
        """Starts the halted server again with the same configuration, mail and ports."""
        with open(self.dir / "start.log", "ab") as out:
            started = subprocess.run(
                ["dovecot", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if started.returncode:
            raise RuntimeError(f"dovecot did not start again: {self.log()}")
        for port in (self.port, self.tls_port, self.lmtp_port, self.submission_port):
            if port:
                wait_port(port, 15)

    def log(self) -> str:
        """Dovecot's log so far (handy in assertion messages)."""
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.dir / "cert.pem"))

    # -- users --------------------------------------------------------------------------------

    def _write_passwd(self) -> None:
        # One passwd-file per user (the passdb path holds %u): Dovecot opens a new user's file on
        # first use, so a new login works at once. A changed file is noticed by its mtime or size,
        # looked at once a second at most: the mtime moves on by a second each time, and
        # add_user() waits until the login works.
        folder = self.dir / "passwd.d"
        folder.mkdir(exist_ok=True)
        for email, password in self.users.items():
            if "/" in email or email.startswith("."):
                raise ValueError(f"unusable test login {email!r}")
            path, line = folder / email, f"{email}:{{PLAIN}}{password}\n"
            if path.exists() and path.read_text() == line:
                continue
            tmp = folder / (email + ".tmp")
            tmp.write_text(line)
            mtime = max(time.time(), path.stat().st_mtime + 1) if path.exists() else time.time()
            os.utime(tmp, (mtime, mtime))
            os.replace(tmp, path)

    def add_user(self, email: str, password: str) -> None:
        """Adds (or changes) a login; returns once Dovecot accepts it."""
        self.users[email] = password
        self._write_passwd()
        end = time.monotonic() + 5
        while True:
            try:
                self.imap(email).logout()
                return
            except imaplib.IMAP4.error:
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)

    def imap(self, user: str) -> imaplib.IMAP4:
        """A logged-in stdlib client for test setup; close it with ``logout()``."""
        client = imaplib.IMAP4(self.host, self.port, timeout=30)
        password = self.users[user]
        if (user + password).isascii():
            client.login(user, password)
        else:  # imaplib's LOGIN sends ASCII only; SASL PLAIN carries UTF-8
            client.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
        return client

    # -- content ------------------------------------------------------------------------------

    def append(
        self,
        user: str,
        message: bytes | EmailMessage,
        mailbox: str = "INBOX",
        flags: str = "",
        when: dt.datetime | float | None = None,
    ) -> int:
        """APPENDs one message; answers its UID (from APPENDUID)."""
        raw = message.as_bytes() if isinstance(message, EmailMessage) else message
        if isinstance(when, dt.datetime) and when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        date = imaplib.Time2Internaldate(when) if when is not None else None
        client = self.imap(user)
        try:
            typ, data = client.append(_quote(mailbox), f"({flags})" if flags else None, date, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data}")
            match = re.search(rb"APPENDUID \d+ (\d+)", data[0])
            return int(match.group(1))
        finally:
            client.logout()

    def deliver(self, user: str, message: bytes | EmailMessage, sender: str = "sender@example.test") -> None:
        """Delivers to the INBOX over LMTP, as a mail server's delivery would (IDLE sees it)."""
        raw = message.as_bytes() if isinstance(message, EmailMessage) else message
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=30) as lmtp:
            lmtp.sendmail(sender, [user], raw)

    def maildir(self, user: str, mailbox: str = "INBOX") -> Path:
        """The Maildir++ folder of a mailbox (``a/b`` is stored as ``.a.b``)."""
        root = self.dir / "mail" / user / "Maildir"
        return root if mailbox.upper() == "INBOX" else root / ("." + encode_mutf7(mailbox).replace("/", "."))

    def write_maildir(
        self, user: str, messages: list[bytes], mailbox: str = "INBOX", seen_every: int = 0, start: float | None = None
    ) -> None:
        """Writes messages as Maildir files, which Dovecot picks up on its next look at the mailbox.

        Message ``i`` gets \\Seen when ``seen_every`` and ``i % seen_every == 0``; its internal date
        (the file's mtime) is ``start + i`` seconds (default: now minus one second per message).
        """
        folder = self.maildir(user, mailbox)
        for path in (folder.parent.parent, folder.parent, folder, folder / "cur", folder / "new", folder / "tmp"):
            if not path.exists():
                path.mkdir(mode=0o700)
                shutil.chown(path, self._uid, self._gid)
        if start is None:
            start = time.time() - len(messages)
        host = socket.gethostname().replace("/", "_").replace(":", "_")
        stamp = int(time.time())
        cur = folder / "cur"
        for i, raw in enumerate(messages):
            flags = "S" if seen_every and i % seen_every == 0 else ""
            # Dovecot keeps the ",S=<size>" hint as the message's size: it must be exact.
            path = cur / f"{stamp}.M{i}P{os.getpid()}{self._counter()}.{host},S={len(raw)}:2,{flags}"
            path.write_bytes(raw)
            os.chown(path, self._uid, self._gid)
            os.utime(path, (start + i, start + i))
        # The new files must be noticed even if cur/ got them within the mtime granularity.
        os.utime(cur, None)

    _written = 0

    def _counter(self) -> str:
        Dovecot._written += 1
        return f"_{Dovecot._written}"

    def status(self, user: str, mailbox: str = "INBOX") -> dict[str, int]:
        client = self.imap(user)
        try:
            typ, data = client.status(_quote(mailbox), "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
            pairs = re.findall(rb"([A-Z]+) (\d+)", data[0].split(b"(", 1)[1])
            return {k.decode().lower(): int(v) for k, v in pairs}
        finally:
            client.logout()

    def bump_uidvalidity(self, user: str, mailbox: str = "INBOX") -> int:
        """Gives the mailbox a new, larger UIDVALIDITY (its messages get new UIDs); answers it.

        What a server does after its index is lost: here the uidlist is rewritten with a new
        UIDVALIDITY and the indexes (the mailbox's and the list index caching it) are removed.
        """
        old = self.status(user, mailbox)["uidvalidity"]
        folder = self.maildir(user, mailbox)
        uidlist = folder / "dovecot-uidlist"
        new = max(old + 1, int(time.time()))
        if uidlist.exists():
            lines = uidlist.read_text().splitlines()
            header = re.sub(r"\bV\d+", f"V{new}", lines[0])
            # UIDs restart at 1 as under a fresh uidlist; the records are dropped for a rescan.
            header = re.sub(r"\bN\d+", "N1", header)
            uidlist.write_text(header + "\n")
            os.chown(uidlist, self._uid, self._gid)
        for index in [*folder.glob("dovecot.index*"), *self.maildir(user).glob("dovecot.list.index*")]:
            index.unlink()
        got = self.status(user, mailbox)["uidvalidity"]
        if got == old:
            raise RuntimeError(f"UIDVALIDITY of {mailbox} did not change ({old})")
        return got


def _quote(mailbox: str) -> str:
    mailbox = encode_mutf7(mailbox)  # imaplib sends ASCII only
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def start_dovecot(users: dict[str, str] | None = None, **kwargs) -> Dovecot:
    """For a session fixture: ``d = start_dovecot(USERS); yield d; d.stop()``."""
    return Dovecot(users, **kwargs).start()

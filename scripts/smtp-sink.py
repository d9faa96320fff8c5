#!/usr/bin/env python3
"""A real SMTP server for Steadfast's email tests (Debian package: python3-aiosmtpd).

Listens on one loopback port and saves every message it accepts in FOLDER as two files:
NAME.eml (the message as received) and then NAME.json (the envelope and session:
{"mail_from", "rcpt_tos", "tls", "login"}); the .json appears last, so a reader that sees it
also sees the whole .eml.

Options: --tls-cert/--tls-key offer STARTTLS with that certificate (or, with --implicit-tls,
speak TLS from the first byte); --user/--password require AUTH PLAIN or LOGIN with exactly
those credentials. A recipient whose local part starts with "refuse" is refused with 550,
one starting with "busy" gets 451, so tests can see both kinds of failure.

Prints "READY <port>" on standard output once it accepts connections, then runs until it is
killed or its standard input closes.
"""

import argparse
import json
import logging
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    """Saves each accepted message, refusing the test recipients meant to fail."""

    def __init__(self, folder):
        self.folder = folder

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("refuse"):
            return "550 5.1.1 No mailbox by that name here"
        if local.startswith("busy"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = "%019d-%d" % (time.time_ns(), os.getpid())
        login = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            # session.ssl is set by STARTTLS; an implicit-TLS transport carries an ssl_object.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "login": login,
        }
        write_atomically(os.path.join(self.folder, name + ".eml"), envelope.original_content)
        write_atomically(
            os.path.join(self.folder, name + ".json"), json.dumps(record).encode("utf-8")
        )
        return "250 Message accepted"


def write_atomically(path, data):
    temporary = path + ".part"
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode("utf-8")
            and auth_data.password == password.encode("utf-8")
        )
        # handled=False: aiosmtpd itself answers 535 to a failed login.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # quiet deprecation notices

    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    smtp_options = {}
    controller_options = {}
    if context is not None and args.implicit_tls:
        controller_options["ssl_context"] = context
    elif context is not None:
        smtp_options["tls_context"] = context
    if args.user is not None:
        smtp_options["authenticator"] = make_authenticator(args.user, args.password or "")
        smtp_options["auth_required"] = True
        smtp_options["auth_require_tls"] = context is not None

    os.makedirs(args.folder, exist_ok=True)
    controller = Controller(
        Sink(args.folder),
        hostname=args.host,
        port=args.port,
        **controller_options,
        **smtp_options,
    )
    controller.start()
    print("READY %d" % args.port, flush=True)
    try:
        sys.stdin.read()  # returns when the test harness closes our standard input
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

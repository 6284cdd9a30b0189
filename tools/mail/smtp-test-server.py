"""A real SMTP server for FinFlow's mail tests: aiosmtpd on 127.0.0.1 that requires STARTTLS and AUTH PLAIN (with
the one user named on the command line) and writes each message it accepts to a Maildir. Recipients at
refused.example are refused with 550, as a server refuses a mailbox that does not exist.

    python3 smtp-test-server.py PORT CERT KEY MAILDIR USER PASSWORD

It prints "ready" once it listens and serves until it is killed.
"""
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


class Maildir(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def main():
    port, cert, key, maildir, user, password = sys.argv[1:7]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok)

    controller = Controller(
        Maildir(maildir), hostname="127.0.0.1", port=int(port), tls_context=context, require_starttls=True,
        authenticator=authenticator, auth_required=True, auth_require_tls=True)
    controller.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

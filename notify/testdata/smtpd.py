"""A loopback SMTP server for the notify tests, on Debian's aiosmtpd.

usage: smtpd.py DIR [--tls CERT KEY | --smtps CERT KEY] [--auth USER PASSWORD]

Listens on 127.0.0.1 on a port the kernel picks and prints it on the first line of stdout. Each mail is
written to DIR/<n>.eml, preceded by "X-Envelope-To: <rcpt>" lines. With --tls it offers and requires
STARTTLS; it exits when its stdin closes; with --smtps it speaks TLS from the start; with --auth it requires AUTH (after STARTTLS) with USER and PASSWORD.
"""
import asyncio
import os
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Handler:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        path = os.path.join(self.out, "%d.eml" % self.n)
        with open(path + ".tmp", "wb") as f:
            for r in envelope.rcpt_tos:
                f.write(b"X-Envelope-To: " + r.encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    args = sys.argv[1:]
    out = args.pop(0)
    tls = None
    smtps = None
    creds = None
    while args:
        a = args.pop(0)
        if a == "--tls":
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(args.pop(0), args.pop(0))
        elif a == "--smtps":
            smtps = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            smtps.load_cert_chain(args.pop(0), args.pop(0))
        elif a == "--auth":
            creds = (args.pop(0), args.pop(0))
    handler = Handler(out)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = creds is not None and auth_data.login.decode() == creds[0] and auth_data.password.decode() == creds[1]
        return AuthResult(success=ok, handled=False)

    def factory():
        kw = {}
        if tls:
            kw.update(tls_context=tls, require_starttls=True)
        if creds:
            kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls is not None)
        return SMTP(handler, hostname="localhost", **kw)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(factory, sock=sock, ssl=smtps))
    print(sock.getsockname()[1], flush=True)
    # Stop when stdin closes: the test that started this server has ended, even if it died.
    loop.add_reader(sys.stdin.fileno(), lambda: loop.stop() if not os.read(sys.stdin.fileno(), 4096) else None)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()

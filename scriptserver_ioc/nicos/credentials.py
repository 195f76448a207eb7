"""Logins the NICOS bridge accepts: a file of `login:scheme:secret` lines.

The IBEX GUI logs in with one fixed account; this project never contains it. An instrument
writes it into `<data-dir>/nicos-credentials.txt` (or the file given by
`--nicos-credentials`), one login per line::

    # login:sha256:<hex of sha256(password)>   or   login:plain:<password>
    ibex:sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

`python -m scriptserver_ioc.nicos.credentials LOGIN` prints such a line, reading the
password without echo.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import sys
from pathlib import Path

FILE_NAME = "nicos-credentials.txt"
SCHEMES = ("sha256", "plain")


class CredentialsError(Exception):
    """The credentials file cannot be used; the message names the file and line."""


def hash_line(login: str, password: str) -> str:
    """The file line for a login and its password (sha256 scheme)."""
    digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
    return f"{login}:sha256:{digest}"


class Credentials:
    """The accepted logins.

    Args:
        entries: login -> (scheme, secret).
    """

    def __init__(self, entries: dict[str, tuple[str, str]]) -> None:
        self.entries = entries

    @classmethod
    def load(cls, path: Path) -> Credentials:
        """Read a credentials file.

        Raises:
            CredentialsError: it is missing, unreadable, empty or has a bad line.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialsError(
                f"cannot read the NICOS credentials file {path}: {exc}"
            ) from None
        entries: dict[str, tuple[str, str]] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(":", 2)
            if len(parts) != 3 or not parts[0].strip() or parts[1] not in SCHEMES:
                raise CredentialsError(
                    f"{path} line {number}: expected login:sha256:<hex> or login:plain:<password>"
                )
            login, scheme, secret = parts[0].strip(), parts[1], parts[2]
            if scheme == "sha256":
                secret = secret.strip().lower()
                if len(secret) != 64 or any(c not in "0123456789abcdef" for c in secret):
                    raise CredentialsError(
                        f"{path} line {number}: a sha256 secret is 64 hex digits"
                    )
            entries[login] = (scheme, secret)
        if not entries:
            raise CredentialsError(f"the NICOS credentials file {path} lists no login")
        return cls(entries)

    def check(self, login: str, password: str) -> bool:
        """True if the login exists and the password matches (constant-time compare)."""
        entry = self.entries.get(login)
        if entry is None:
            return False
        scheme, secret = entry
        if scheme == "sha256":
            given = hashlib.sha256(password.encode("utf-8", "surrogatepass")).hexdigest()
        else:
            given = password
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.encode())


def main(argv: list[str] | None = None) -> int:
    """Print a credentials line for LOGIN; the password is read without echo."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0] or ":" in args[0]:
        print("usage: python -m scriptserver_ioc.nicos.credentials LOGIN", file=sys.stderr)
        return 2
    password = getpass.getpass(f"password for {args[0]}: ")
    print(hash_line(args[0], password))
    return 0


if __name__ == "__main__":
    sys.exit(main())

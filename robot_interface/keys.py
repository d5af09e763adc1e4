"""CurveZMQ key pairs: created by ``cog robot keygen``, loaded by server and client.

Layout of a key directory (the server needs the first two and ``authorized_clients/``; a client
on another machine needs ``client.key_secret`` and ``server.key`` only):

    server.key, server.key_secret          the server's public / secret key
    client.key, client.key_secret          one client's public / secret key
    authorized_clients/*.key               public keys the server accepts

Files use ZeroMQ's certificate text format, so ``zmq.auth.load_certificate`` reads them.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from envs.atomic import write_text_atomic

AUTHORIZED_DIR = "authorized_clients"


def _cert_text(public: bytes, secret: bytes | None) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    lines = [
        f"#   ****  CURVE certificate written by cog robot keygen, {stamp}  ****",
        "#   ZeroMQ CURVE certificate; keep *.key_secret files private.",
        "",
        "metadata",
        "curve",
        f'    public-key = "{public.decode("ascii")}"',
    ]
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode("ascii")}"')
    return "\n".join(lines) + "\n"


def write_keypair(directory: Path, name: str, *, force: bool = False) -> tuple[Path, Path]:
    import zmq

    directory.mkdir(parents=True, exist_ok=True)
    public_file, secret_file = directory / f"{name}.key", directory / f"{name}.key_secret"
    if not force and (public_file.exists() or secret_file.exists()):
        raise ValueError(f"{public_file} already exists; pass --force to replace the key pair")
    public, secret = zmq.curve_keypair()
    write_text_atomic(public_file, _cert_text(public, None), mode=0o644)
    write_text_atomic(secret_file, _cert_text(public, secret), mode=0o600)
    return public_file, secret_file


def keygen(directory: str | Path, client_name: str = "client", *, force: bool = False) -> dict:
    """Create a server key pair (if missing or forced) and one authorised client key pair."""
    directory = Path(directory)
    if not client_name.isidentifier():
        raise ValueError(f"client name {client_name!r} must be a simple identifier")
    made = {}
    if force or not (directory / "server.key_secret").exists():
        made["server"] = write_keypair(directory, "server", force=force)
    made[client_name] = write_keypair(directory, client_name, force=force)
    authorized = directory / AUTHORIZED_DIR
    authorized.mkdir(exist_ok=True)
    public_text = (directory / f"{client_name}.key").read_text()
    write_text_atomic(authorized / f"{client_name}.key", public_text, mode=0o644)
    return made


def load_keypair(path: Path) -> tuple[bytes, bytes | None]:
    import zmq.auth

    if not path.is_file():
        raise FileNotFoundError(f"CURVE key file {path} not found (run `cog robot keygen`)")
    try:
        return zmq.auth.load_certificate(str(path))
    except Exception as exc:
        raise ValueError(f"{path} is not a CURVE certificate: {exc}") from None


def server_keys(directory: str | Path) -> tuple[bytes, bytes, Path]:
    directory = Path(directory)
    public, secret = load_keypair(directory / "server.key_secret")
    if secret is None:
        raise ValueError(f"{directory / 'server.key_secret'} has no secret key")
    authorized = directory / AUTHORIZED_DIR
    if not authorized.is_dir():
        raise FileNotFoundError(f"{authorized} not found: no client is authorised")
    return public, secret, authorized


def client_keys(directory: str | Path, name: str = "client") -> tuple[bytes, bytes, bytes]:
    directory = Path(directory)
    public, secret = load_keypair(directory / f"{name}.key_secret")
    if secret is None:
        raise ValueError(f"{directory / f'{name}.key_secret'} has no secret key")
    server_public, _ = load_keypair(directory / "server.key")
    return public, secret, server_public

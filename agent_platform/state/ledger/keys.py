"""The ed25519 key that signs ledger checkpoints, kept in a file the database never sees.

A checkpoint is only worth something if whoever can rewrite the database cannot also sign a
new one, so the key lives on the file system of the machines that run the platform, never in
a table. :func:`load_key` reads a PEM file: a private key (signs and verifies) or a public key
(verifies only, for a machine that checks but never appends). A private key readable by group
or others is refused, as ssh refuses one. :func:`generate_key` creates a key with mode 0600,
atomically, so two processes starting at once end up with the same key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agent_platform.errors import ConfigError
from agent_platform.inputs import read_text_bounded

__all__ = ["CheckpointKey", "generate_key", "load_key"]

_KEY_LIMIT_BYTES = 16 * 1024
_ALLOWED = "an ed25519 private or public key in PEM (agent-platform generates one)"


@dataclass(frozen=True)
class CheckpointKey:
    """An ed25519 key pair (or its public half) and where it came from.

    ``key_id`` (16 hex digits of the SHA-256 of the raw public key) is written into every
    checkpoint, so a verifier can tell "signed by another key" from "signature broken".
    """

    path: Path
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None

    @property
    def key_id(self) -> str:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        """The base64 signature of ``message``; ConfigError for a public-only key."""
        if self.private is None:
            raise ConfigError(
                str(self.path), "<key>", "a public key", "the private key, to sign checkpoints"
            )
        return base64.b64encode(self.private.sign(message)).decode("ascii")

    def verifies(self, signature: str, message: bytes) -> bool:
        """True when ``signature`` (base64) is this key's signature of ``message``."""
        try:
            raw = base64.b64decode(signature, validate=True)
            self.public.verify(raw, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def load_key(path: Path) -> CheckpointKey:
    """Read the key at ``path``.

    Raises:
        InputFileError: missing, not a regular file, too large, not UTF-8.
        ConfigError: not an ed25519 PEM key, or a private key others may read.
    """
    text = read_text_bounded(path, limit_bytes=_KEY_LIMIT_BYTES, what="ledger checkpoint key")
    data = text.encode("ascii", "replace")
    if "PRIVATE KEY" in text:
        private = _load_private(path, data)
        _check_private_mode(path)
        return CheckpointKey(path, private.public_key(), private)
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(path), "<key>", "not a PEM key", _ALLOWED) from exc
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigError(str(path), "<key>", type(public).__name__, _ALLOWED)
    return CheckpointKey(path, public, None)


def _load_private(path: Path, data: bytes) -> Ed25519PrivateKey:
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(path), "<key>", "not an unencrypted PEM key", _ALLOWED) from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(str(path), "<key>", type(private).__name__, _ALLOWED)
    return private


def _check_private_mode(path: Path) -> None:
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise ConfigError(
            str(path), "<file mode>", oct(mode), "0600 or stricter (chmod 600 the key file)"
        )


def generate_key(path: Path) -> CheckpointKey:
    """Create a new private key at ``path`` (mode 0600), or load the one another process
    created first. The file appears complete or not at all (written aside, then linked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, aside = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # created with mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(aside, path)
        except FileExistsError:
            return load_key(path)
    finally:
        os.unlink(aside)
    return CheckpointKey(path, private.public_key(), private)

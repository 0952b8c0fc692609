"""The log's checkpoint key: configured, or a development key generated once in the state directory.

The signed-note key name is the log's origin (the C2SP spec says it SHOULD be). Only the verifier key
(``name+id+base64``) is ever printed or logged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from streams.audit.checkpoint import load_private_key, parse_verifier_key, private_key_from_seed, verifier_key

DEV_KEY_FILE = Path("audit") / "checkpoint-signing.key"


def dev_key_path(state_dir: Path) -> Path:
    return state_dir / DEV_KEY_FILE


def ensure_dev_signing_key(state_dir: Path) -> Ed25519PrivateKey:
    """Load the development key, creating it on first use (mode 0600; safe when processes race)."""
    path = dev_key_path(state_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(os.urandom(32).hex() + "\n")
            # link() refuses an existing target: the first process to get here wins, the others read its key.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return private_key_from_seed(path.read_text().strip())


def signing_key(secret: str | None, state_dir: Path) -> Ed25519PrivateKey:
    """The configured key (hex seed or PEM), else the development key of ``state_dir``."""
    return load_private_key(secret) if secret else ensure_dev_signing_key(state_dir)


def log_verifier_key(origin: str, configured: str | None, secret: str | None, state_dir: Path) -> str | None:
    """The public key readers check checkpoints with: configured, else derived; None if there is no key yet."""
    if configured:
        return configured
    if secret:
        return verifier_key(origin, load_private_key(secret).public_key())
    if dev_key_path(state_dir).exists():
        return verifier_key(origin, ensure_dev_signing_key(state_dir).public_key())
    return None


def read_verifier_key(text_or_path: str) -> tuple[str, Ed25519PublicKey]:
    """(key name, public key) from a verifier key, given inline or as the path of a file holding one."""
    candidate = Path(text_or_path)
    text = candidate.read_text().strip() if "+" not in text_or_path and candidate.exists() else text_or_path
    return parse_verifier_key(text.strip())

"""Checking a member's public keys without any crypto library (pure).

* an age recipient: ``age1`` + bech32 data with a valid checksum (BIP 173),
  a 32-byte X25519 key, as ``age-keygen -y`` prints it;
* an OpenSSH public key line: a known type, base64 data whose own type
  string matches, an optional comment.

Used where a nomination file is validated (``policies.nomination``) and
where an operator adds a member, so both refuse the same values with the same
words.  What this module deliberately does not do: encrypt, or accept private
keys (a line that is not a public key is refused, never echoed in full).
"""

from __future__ import annotations

import base64
import binascii

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
AGE_RULE = "expected an age public key like age1… (as age-keygen -y prints it)"
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
SSH_RULE = "expected one OpenSSH public key line (ssh-ed25519 AAAA… comment, or ssh-rsa, ecdsa-…)"


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def check_age_recipient(text: str) -> str:
    """``text`` stripped if it is an age X25519 recipient; ValueError otherwise."""
    key = text.strip()
    lower = key.lower()
    if key not in (lower, key.upper()) or not lower.startswith("age1") or len(lower) != 62:
        raise ValueError(AGE_RULE)
    hrp, data = "age", lower[4:]
    if any(c not in _CHARSET for c in data):
        raise ValueError(AGE_RULE)
    values = [_CHARSET.index(c) for c in data]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _polymod(expanded + values) != 1:
        raise ValueError(f"{AGE_RULE}; its checksum is wrong")
    return lower


def check_ssh_key(text: str) -> str:
    """The normalised public key line (type, data, comment); ValueError otherwise."""
    line = text.strip()
    parts = line.split()
    if "\n" in line or len(line) > 4000 or len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise ValueError(SSH_RULE)
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{SSH_RULE}; the key data is not base64") from exc
    n = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if n <= 0 or blob[4 : 4 + n] != parts[0].encode():
        raise ValueError(f"{SSH_RULE}; the key data does not match its type")
    return " ".join(parts[:3])


def shown(text: str) -> str:
    """A key as a problem may show it: at most 60 characters."""
    return text if len(text) <= 60 else text[:57] + "..."

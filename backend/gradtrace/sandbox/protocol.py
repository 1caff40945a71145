"""Wire formats between supervisor, zygote and worker (torch-free, imported by all three).

* supervisor -> zygote: one JSON object per SOCK_SEQPACKET message, fds attached with
  SCM_RIGHTS (a `spawn` carries the worker's job-pipe read end and result-pipe write end).
* zygote -> supervisor and supervisor -> worker: length-prefixed JSON on a pipe,
  4-byte big-endian length then the payload.
* worker -> supervisor (the result pipe, UNTRUSTED: the snippet can write to it): frames of
  one type byte + 4-byte big-endian length + payload. `L` layers report (sent before any
  snippet code runs), `E` one timeline event, `R` the final trace document.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

LEN = struct.Struct("!I")
FRAME = struct.Struct("!cI")

FRAME_LAYERS = b"L"
FRAME_EVENT = b"E"
FRAME_RESULT = b"R"
# Not a frame: the worker's faulthandler writes its report ("Fatal Python error: ...", the
# Python stack) straight onto the result pipe when native code crashes. Read to the end.
FAULT_HEAD = b"Fatal"
FAULT_BYTES = 16 << 10

# Bound at import: a snippet that monkeypatches os.write/os.read must not be able to make the
# worker's own writes spin or lie.
_os_write = os.write
_os_read = os.read

# Control messages are tiny; anything bigger is a bug (or an attack) and is refused.
MAX_CONTROL_BYTES = 1 << 20


def encode_message(obj: dict[str, Any]) -> bytes:
    """Length-prefixed JSON (zygote notifications and the worker's job)."""
    payload = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    return LEN.pack(len(payload)) + payload


def encode_frame(kind: bytes, payload: bytes) -> bytes:
    return FRAME.pack(kind, len(payload)) + payload


def write_all(fd: int, data: bytes) -> None:
    """os.write until everything is written (pipes may take less than asked)."""
    view = memoryview(data)
    while view:
        n = _os_write(fd, view)
        if n <= 0:
            raise OSError("write made no progress")
        view = view[n:]


def read_exact(fd: int, n: int) -> bytes | None:
    """Blocking read of exactly n bytes; None on EOF before that."""
    chunks: list[bytes] = []
    while n:
        chunk = _os_read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, limit: int = MAX_CONTROL_BYTES) -> dict[str, Any] | None:
    """Blocking read of one length-prefixed JSON object; None on EOF. Raises on oversize."""
    head = read_exact(fd, LEN.size)
    if head is None:
        return None
    (size,) = LEN.unpack(head)
    if size > limit:
        raise ValueError(f"message of {size} bytes exceeds {limit}")
    body = read_exact(fd, size)
    if body is None:
        return None
    obj = json.loads(body)
    if not isinstance(obj, dict):
        raise ValueError("message is not a JSON object")
    return obj

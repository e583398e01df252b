"""How this process's C heap is kept: one malloc arena instead of glibc's eight per core.

Python's own objects live in its small-object allocator, but every buffer over 512 bytes (a
message's bytes, its decoded text and HTML) comes from glibc's malloc, which gives each thread
that allocates its own arena. The server's threads (the parse pool's result thread unpickling
decoded messages, ``asyncio.to_thread`` work) then fill arenas that the event loop's thread frees
into, and the freed space stays scattered over them: a first sync of 30,000 messages grew this
process by 13 MB (107 -> 122 MB), of 100,000 by about 34 MB (bench/sync.py, "this process when
the account was created" against its peak). With one arena (this call, in ``create_app``) the
30,000 grew it by 8 MB (107 -> 115 MB), no slower (bench/README).
The threads allocate little and seldom at once, so sharing one arena costs no measurable time.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int = 1) -> bool:
    """Ask glibc for at most ``arenas`` malloc arenas (before threads allocate); answers whether
    it took. Elsewhere (musl, macOS) there is nothing to ask and this does nothing."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))

"""Who holds the other end of a pipe, FIFO or terminal that the loop watches.

An fd registered with the loop is *real work in flight* when what arrives on it comes from outside the
loop: another process, a device, a peer the test does not drive.  For sockets ``realwork`` compares
addresses; for the other kinds this module looks at who holds the other end, by mechanism (no names):

- a **pipe or FIFO** (``os.pipe``, ``connect_read_pipe``, ``mkfifo``): its two ends are fds on one inode
  (same ``st_dev``/``st_ino``), told apart by their access mode (read end / write end);
- a **pty master** (``pty.fork``, ``pty.openpty``, ``os.openpty``): its other end is the slave
  ``/dev/pts/N`` (``TIOCGPTN`` gives N); a **pty slave**: the master whose ``TIOCGPTN`` is N;
- any **other character device** (a terminal, a serial line): the other end is the device itself.

The verdict, from the fds of this process (``/proc/self/fd``, or ``/dev/fd``):

- the other end is registered in the same loop: the loop drives both sides (``IN_LOOP``);
- this process holds the other end but the loop does not watch it: code of the test, or a thread, writes
  it; a *wake-up source*, unless a child process holds it too (``SOURCE``);
- no fd of this process is the other end, or a child process holds it: a foreign peer (``EXTERNAL``),
  which holds virtual time to real time like any real work.

Child processes are found on Linux through ``/proc/<pid>/task/<tid>/children`` and named in reports
("other end held by process 4242 (sh)"); elsewhere the report says the other end is outside this process.
All of this runs once per registered fd (the answer is cached by ``realwork`` until the registrations of
non-socket fds change), never on the loop's hot path.
"""

from __future__ import annotations

import os
import stat
import struct
import sys
from collections.abc import Collection

__all__ = ["EXTERNAL", "IN_LOOP", "SOURCE", "classify"]

IN_LOOP = "in-loop"
SOURCE = "source"
EXTERNAL = "external"

_MAX_DESCENDANTS = 64   # child processes looked at (depth first), to bound the cost of one classification

_TIOCGPTN: int | None = None
_HAVE_FCNTL = False
try:
    import fcntl
    import termios
    _TIOCGPTN = getattr(termios, "TIOCGPTN", None)
    _HAVE_FCNTL = True
except ImportError:  # pragma: no cover - not POSIX
    pass


def _own_fd_dir() -> str | None:
    for path in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(path):
            return path
    return None


def _own_fds() -> list[int]:
    path = _own_fd_dir()
    if path is None:
        return []
    try:
        return [int(name) for name in os.listdir(path) if name.isdigit()]
    except OSError:
        return []


def _access(fd: int) -> int:
    """O_RDONLY, O_WRONLY or O_RDWR; -1 if unknown."""
    if not _HAVE_FCNTL:
        return -1
    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        return -1


def _pty_number(fd: int) -> int | None:
    """N when *fd* is a pty master whose slave is /dev/pts/N (Linux ``TIOCGPTN``), else None."""
    if not _HAVE_FCNTL or _TIOCGPTN is None:
        return None
    try:
        return int(struct.unpack("I", fcntl.ioctl(fd, _TIOCGPTN, b"\0\0\0\0"))[0])
    except OSError:
        return None


def _path_of(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
    if _HAVE_FCNTL and hasattr(fcntl, "F_GETPATH"):  # macOS
        try:
            raw = fcntl.fcntl(fd, fcntl.F_GETPATH, b"\0" * 1024)
            return bytes(raw).split(b"\0", 1)[0].decode(errors="replace") or None
        except OSError:
            return None
    return None


def _complements(mine: int, other: int) -> bool:
    """Whether an fd opened with access *other* can be the other end of one opened with *mine*."""
    if mine == os.O_RDONLY:
        return other in (os.O_WRONLY, os.O_RDWR, -1)
    if mine == os.O_WRONLY:
        return other in (os.O_RDONLY, os.O_RDWR, -1)
    return True


class _Target:
    """What the other end of one fd looks like: how to recognise it among fds (own and of children)."""

    def __init__(self, fd: int, st: os.stat_result) -> None:
        self.fd = fd
        self.fifo = stat.S_ISFIFO(st.st_mode)
        self.inode = (st.st_dev, st.st_ino)
        self.access = _access(fd) if self.fifo else -1
        self.peer_rdev: int | None = None    # the device number of the other end, for a pty
        self.slave_number: int | None = None  # for a pty slave: the N its master reports
        self.label = ""
        path = _path_of(fd)
        if self.fifo:
            self.label = "pipe" if path is None or path.startswith("pipe:") else f"FIFO {path}"
            return
        number = _pty_number(fd)
        if number is not None:
            self.label = f"pty master of /dev/pts/{number}"
            try:
                self.peer_rdev = os.stat(f"/dev/pts/{number}").st_rdev
            except OSError:
                self.peer_rdev = None
            return
        if path is not None and path.startswith("/dev/pts/") and path[9:].isdigit():
            self.label = f"pty {path}"
            self.slave_number = int(path[9:])
            return
        self.label = f"character device {path}" if path else "character device"

    def is_own_peer(self, fd: int) -> bool:
        """Whether fd *fd* of this process is the other end."""
        if fd == self.fd:
            return False
        try:
            st = os.fstat(fd)
        except OSError:
            return False
        if self.fifo:
            return stat.S_ISFIFO(st.st_mode) and (st.st_dev, st.st_ino) == self.inode \
                and _complements(self.access, _access(fd))
        if not stat.S_ISCHR(st.st_mode):
            return False
        if self.peer_rdev is not None:
            return st.st_rdev == self.peer_rdev
        if self.slave_number is not None:
            return _pty_number(fd) == self.slave_number
        return False

    def matches_path(self, path: str) -> bool:
        """Whether an fd of another process, opened on *path* (``/proc/<pid>/fd/<n>``), is the other end."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        if self.fifo:
            return stat.S_ISFIFO(st.st_mode) and (st.st_dev, st.st_ino) == self.inode
        return self.peer_rdev is not None and stat.S_ISCHR(st.st_mode) and st.st_rdev == self.peer_rdev


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
        except (OSError, ValueError):
            continue
    return found


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def _child_holder(target: _Target) -> int | None:
    """The pid of a descendant of this process that holds the other end (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    stack = _children(os.getpid())
    seen = 0
    while stack and seen < _MAX_DESCENDANTS:
        pid = stack.pop()
        seen += 1
        base = f"/proc/{pid}/fd"
        try:
            names = os.listdir(base)
        except OSError:
            continue
        if any(target.matches_path(f"{base}/{name}") for name in names):
            return pid
        stack.extend(_children(pid))
    return None


def classify(fd: int, st: os.stat_result, registered: Collection[int]) -> tuple[str, str, int | None]:
    """The verdict for a non-socket fd of kind FIFO or character device, the text a report shows, the holder.

    *registered* holds the fds the loop watches.  Returns ``(IN_LOOP | SOURCE | EXTERNAL, description,
    pid)``, e.g. ``(EXTERNAL, "pipe; other end held by process 4242 (sh)", 4242)``; the pid is that of the
    child process holding the other end, when one was found.
    """
    target = _Target(fd, st)
    own = [other for other in _own_fds() if target.is_own_peer(other)]
    if any(other in registered for other in own):
        return IN_LOOP, f"{target.label}; other end watched by this loop", None
    holder = _child_holder(target)
    if holder is not None:
        return EXTERNAL, f"{target.label}; other end held by process {holder} ({_command(holder)})", holder
    if own:
        return SOURCE, f"{target.label}; other end held by this process (fd {own[0]})", None
    if target.label.startswith("character device"):
        return EXTERNAL, target.label, None
    return EXTERNAL, f"{target.label}; other end held outside this process", None

"""Atomic file writing: a target is either left as it was or replaced by a complete new file.

Every output is written to a hidden temporary file beside its target (same folder, so the final
move is a rename within one file system), flushed to disk, and only when every output of the
call is complete are they moved into place with :func:`os.replace`. On any failure, an
exception, Ctrl-C or a signal that a program turns into an exception, the temporary files are
removed, and so are the folders this call created for its targets; a target never holds half a
file.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pkmodel.errors import PKModelError

#: (field, path, writer): ``writer(temporary_path)`` writes the whole content; ``field`` names
#: the argument or option in the :class:`PKModelError` raised when the file cannot be written.
Output = tuple[str, "str | os.PathLike[str]", Callable[[str], None]]


def write_files(outputs: Sequence[Output]) -> None:
    """Write every output atomically, all or none (see the module docstring).

    Missing parent folders are created (and removed again if the call fails). An
    :class:`OSError` (no permission, no space, a file where a folder should be, ...) becomes a
    :class:`PKModelError` naming the field and the path; any other exception from a writer is
    raised as it is, after the clean-up.
    """
    targets = [(field, _target(field, path), write) for field, path, write in outputs]
    created: list[Path] = []  # folders made here, outermost first
    staged: list[tuple[str, Path, str]] = []
    committed = False
    field, path = "", Path()
    try:
        for field, path, write in targets:
            _make_parents(field, path, created)
            with _signals_deferred():  # a file made is a file recorded, to be removed on failure
                fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
                staged.append((field, path, temp))
            os.close(fd)
            write(temp)
            _flush(temp)
            os.chmod(temp, _mode(path))
        with _signals_deferred():  # all targets are replaced, or (if a rename fails) as few as possible
            for field, path, temp in staged:
                os.replace(temp, path)
        committed = True
        for folder in {p.parent for _, p, _ in staged}:
            _flush_folder(folder)
    except OSError as err:
        raise PKModelError(field, str(path), f"cannot write the file ({err.strerror or err})") from None
    finally:
        for _, _, temp in staged:
            _remove(temp)
        if not committed:
            for folder in reversed(created):
                try:
                    folder.rmdir()  # only if empty: never removes anything this call did not make
                except OSError:
                    break


def _target(field: str, path: str | os.PathLike[str]) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise PKModelError(field, path, "a file path (str or os.PathLike)")
    if os.fspath(path) == "":
        raise PKModelError(field, "", "a file name is needed, e.g. out/result.csv")
    target = Path(path)
    if os.path.isdir(target):
        raise PKModelError(field, str(path), "is a folder; give a file name")
    return target


def _make_parents(field: str, path: Path, created: list[Path]) -> None:
    """Create the missing folders above ``path``, appending each to ``created`` (outermost first)."""
    missing: list[Path] = []
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            with _signals_deferred():  # a folder made is a folder recorded
                folder.mkdir()
                created.append(folder)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise PKModelError(field, str(path), f"cannot create the folder {folder}: a file has its name") from None
            # made meanwhile by someone else: not ours to remove
        except OSError as err:
            raise PKModelError(
                field, str(path), f"cannot create the folder {folder} ({err.strerror or err})"
            ) from None


def _mode(path: Path) -> int:
    """A replaced file keeps its permissions; a new one gets the usual ones (0o666 less umask),
    not the owner-only ones of a temporary file."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _flush(temp: str) -> None:
    """Make the content durable before the rename, so that a crash cannot leave an empty target."""
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _flush_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible everywhere (e.g. Windows); the rename is done either way
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(temp: str) -> None:
    try:
        os.remove(temp)
    except FileNotFoundError:
        pass


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while a few system calls run (a file or folder made and recorded,
    the targets renamed), so that a signal cannot leave a file unrecorded or some targets new and
    others old; they are delivered right after, to the handlers there were before.

    Held by Python handlers that only note the signal: blocking it in the main thread's signal
    mask is not enough, since the system may hand a signal sent to the process to any other
    thread (numpy's BLAS starts some), whose note then interrupts the main thread all the same.
    Only the main thread can set handlers (and only it is interrupted); elsewhere this holds
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def note(signum: int, frame: object) -> None:
        held.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler set outside Python, which cannot be put back; the default then.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for noted in held:
            signal.raise_signal(noted)

"""Output folders and files that stay the user's: what `bayesmeta run`, `review` and `batch` write, and how.

Rules (the same for every command):

* A symbolic link as `--out` is refused (its target is named, to give explicitly); a file where a folder is
  expected is refused.
* A folder that exists and is not empty is refused unless `overwrite=True` (`--overwrite`). Then only the
  package's own outputs are replaced: those listed in the folder's manifest (`.bayesmeta-manifest.json`, written
  with every output). Every other file stays; an output whose name is taken by a file the package did not write
  stops the run before anything is changed.
* Everything is first written into a staging folder beside `--out` (`.NAME.partial-*`); only when all of it
  succeeded are the files moved in (os.replace, one file at a time) and the outputs of the previous run that
  this one did not write again removed. A failure, Ctrl-C or SIGTERM removes the staging folder and leaves
  `--out` as it was.
* File names are shown with undecodable bytes replaced (`display_path`), so that names that are not UTF-8 can
  be printed and written into pages.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from .errors import DataError

MANIFEST = ".bayesmeta-manifest.json"


def display_path(path) -> str:
    """A path as text that can be printed and written as UTF-8 (undecodable bytes shown as U+FFFD)."""
    return os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_target(out: Path, option: str = "--out", folder: bool = True) -> None:
    """Refuse a symbolic link, and a file where a folder is expected (or a folder where a file is)."""
    shown = display_path(out)
    if out.is_symlink():
        target = display_path(os.path.realpath(out))
        raise DataError(f"{option} {shown!r} is a symbolic link (to {target!r}); give the real path if you mean it")
    if folder and out.exists() and not out.is_dir():
        raise DataError(f"{option} {shown!r} is a file, not a folder")
    if not folder and out.is_dir():
        raise DataError(f"{option} {shown!r} is a folder; give a file name")


def read_manifest(out: Path) -> set[str]:
    """The outputs a previous run wrote into `out` (relative paths), from its manifest; empty without one."""
    try:
        files = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {f for f in files if isinstance(f, str) and ".." not in Path(f).parts and not Path(f).is_absolute()}


class _Signals:
    """SIGTERM raises SystemExit (so that `with` blocks clean up) while active; `hold()` defers it."""

    def __init__(self):
        self.previous, self.pending, self.held = None, None, False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.held:
            self.pending = signum
            return
        raise SystemExit(128 + signum)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False

    def release(self):
        self.held = False
        if self.pending is not None:
            raise SystemExit(128 + self.pending)


class OutputFolder:
    """`with OutputFolder(out, overwrite) as stage:` write every output into `stage`; on success they replace the
    package's earlier outputs in `out` (see the module docstring). `written` lists them (relative paths)."""

    def __init__(self, out, overwrite: bool = False, option: str = "--out"):
        self.out, self.option, self.overwrite = Path(out), option, overwrite
        check_target(self.out, option)
        if self.out.is_dir() and any(self.out.iterdir()) and not overwrite:
            raise DataError(f"{option} {display_path(self.out)!r} exists and is not empty; give a new folder, or "
                            "--overwrite (overwrite=True) to replace the outputs bayesmeta wrote there (other files "
                            "are kept)")
        self.made = [p for p in [self.out.parent, *self.out.parent.parents] if not p.exists()]
        self.written: list[str] = []
        self._signals = _Signals()

    def __enter__(self) -> Path:
        self._signals.__enter__()
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.stage = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.partial-", dir=self.out.parent))
        except OSError as err:
            self._signals.__exit__(None, None, None)
            raise DataError(f"{self.option} {display_path(self.out)!r}: cannot create the folder "
                            f"({err.strerror or err})") from None
        return self.stage

    def __exit__(self, kind, value, tb):
        try:
            if kind is None:
                self._signals.held = True
                self._commit()
        finally:
            shutil.rmtree(self.stage, ignore_errors=True)
            if kind is not None or not self.out.exists():
                self._remove_made()
            self._signals.__exit__(None, None, None)
        if kind is None:
            self._signals.release()
        return False

    def _remove_made(self):
        for folder in self.made:  # nearest first; only folders this run made, and only while empty
            try:
                folder.rmdir()
            except OSError:
                break

    def _commit(self):
        new = sorted(p.relative_to(self.stage).as_posix() for p in self.stage.rglob("*") if p.is_file())
        self.written = new
        (self.stage / MANIFEST).write_text(json.dumps({"written_by": "bayesmeta", "files": new}, indent=1),
                                           encoding="utf-8")
        if not self.out.exists():
            self.stage.rename(self.out)
            return
        old = read_manifest(self.out)
        taken = [rel for rel in new if (self.out / rel).exists() and rel not in old]
        if taken:
            raise DataError(f"{self.option} {display_path(self.out)!r}: {display_path(taken[0])!r} is there and was "
                            "not written by bayesmeta; move it away (nothing was changed)")
        for rel in sorted(old - set(new)):
            self._remove(rel)
        for rel in new + [MANIFEST]:
            target = self.out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.stage / rel, target)

    def _remove(self, rel: str):
        """An output of the previous run that this one did not write again; then its folders, if left empty."""
        path = self.out / rel
        if path.is_file() and not path.is_symlink():
            path.unlink()
        for parent in Path(rel).parents:
            if str(parent) == ".":
                break
            try:
                (self.out / parent).rmdir()
            except OSError:
                break


def write_file(target, write, overwrite: bool = False, option: str = "--out") -> Path:
    """Write one output file atomically: `write(tmp_path)` writes a temporary file beside `target`, which then
    replaces it. An existing `target` is refused unless `overwrite`; a symbolic link always."""
    target = Path(target)
    check_target(target, option, folder=False)
    if target.exists() and not overwrite:
        raise DataError(f"{option} {display_path(target)!r} exists; give another name, or --overwrite "
                        "(overwrite=True) to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        with _Signals():
            write(tmp)
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target

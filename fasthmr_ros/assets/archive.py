"""Checked unpacking of a downloaded `.tar.gz` into a directory that may already hold user files.

Why so careful: the archive comes from the network and unpacks into `~/.cache/4DHumans`, where
the user's licensed SMPL file already lives. So every member is checked (no absolute paths, no
`..`, no links or special files pointing outside), the archive is extracted into a staging folder
inside the target first (read end to end, which checks the gzip CRC), and only when all of it
read cleanly are the files moved into place: a corrupt or hostile archive leaves the target as it
was. Existing files the archive does not contain are never touched.
"""

from __future__ import annotations

import errno
import gzip
import logging
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from fasthmr_ros.errors import FastHMRError

log = logging.getLogger(__name__)

STAGING_PREFIX = ".fasthmr-unpack-"
# tarfile's "data" filter errors exist from Python 3.11.4 / 3.12 on.
_FILTER_ERRORS: tuple[type[Exception], ...] = (
    (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()
)


class ArchiveError(FastHMRError):
    """The archive is corrupt or truncated; deleting it and downloading again fixes it."""


class UnsafeArchiveError(ArchiveError):
    """The archive holds members that would land outside the target directory."""


class ExtractDiskFullError(ArchiveError):
    """The disk filled up while unpacking; nothing was moved into the target."""


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why extracting `member` would be unsafe, or None when it stays inside the target."""
    name = member.name
    path = PurePosixPath(name)
    if path.is_absolute():
        return "absolute path"
    if ".." in path.parts:
        return "'..' in path"
    if member.ischr() or member.isblk() or member.isfifo():
        return "device or fifo"
    if member.issym():
        link = PurePosixPath(member.linkname)
        if link.is_absolute():
            return f"symlink to absolute path {member.linkname}"
        if _escapes(path.parent / link):
            return f"symlink escaping the target ({member.linkname})"
    link_target = PurePosixPath(member.linkname)
    if member.islnk() and (link_target.is_absolute() or _escapes(link_target)):
        return f"hard link escaping the target ({member.linkname})"
    return None


def _escapes(relative: PurePosixPath) -> bool:
    """Does a relative path climb above its root once `..` parts are applied?"""
    depth = 0
    for part in relative.parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, staging: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        # The stdlib's own safety filter on top of our checks (also drops setuid bits etc.).
        tar.extract(member, staging, filter="data")
    else:
        tar.extract(member, staging)


def unpack_archive(archive: Path, target: Path, progress: bool = True) -> list[tuple[str, int]]:
    """Unpack `archive` (tar.gz) into `target` after reading all of it cleanly.

    Returns (relative path, size) of every regular file unpacked, for the download manifest.
    Raises UnsafeArchiveError, ArchiveError or ExtractDiskFullError; in each case `target` holds
    exactly what it held before.
    """
    target.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target))
    try:
        files = _extract_to_staging(archive, staging, progress)
        _move_tree(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return files


def _extract_to_staging(archive: Path, staging: Path, progress: bool) -> list[tuple[str, int]]:
    files: list[tuple[str, int]] = []
    unsafe: list[str] = []
    size = archive.stat().st_size
    try:
        with (
            open(archive, "rb") as raw,
            tarfile.open(fileobj=raw, mode="r:gz") as tar,
            tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"unpack {archive.name}",
                disable=not progress,
            ) as bar,
        ):
            for member in tar:
                problem = member_problem(member)
                if problem:
                    unsafe.append(f"{member.name} ({problem})")
                    continue
                if unsafe:
                    # Keep reading only to report every bad member at once.
                    continue
                _extract_one(tar, member, staging)
                if member.isfile():
                    files.append((PurePosixPath(member.name).as_posix(), member.size))
                bar.update(raw.tell() - bar.n)
    except _FILTER_ERRORS as exc:
        raise UnsafeArchiveError(f"{archive} holds an unsafe member and was not unpacked: {exc}") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ExtractDiskFullError(
                f"disk full while unpacking {archive} into {staging.parent}; free some space and run the "
                "command again (the archive is kept, nothing is downloaded again)"
            ) from None
        if isinstance(exc, gzip.BadGzipFile):
            raise ArchiveError(_corrupt_message(archive, exc)) from None
        raise ArchiveError(f"cannot unpack {archive} into {staging.parent}: {exc}") from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ArchiveError(_corrupt_message(archive, exc)) from None
    if unsafe:
        listed = "; ".join(unsafe[:5]) + (f"; and {len(unsafe) - 5} more" if len(unsafe) > 5 else "")
        raise UnsafeArchiveError(f"{archive} was not unpacked: it holds members outside the target: {listed}")
    return files


def _corrupt_message(archive: Path, exc: BaseException) -> str:
    return (
        f"{archive} is corrupt or truncated ({type(exc).__name__}: {exc}); nothing was unpacked. "
        "Delete it and download again (`fasthmr download hmr2 --force`)."
    )


def _move_tree(staging: Path, target: Path) -> None:
    """Move every file of `staging` to the same relative place under `target` (same filesystem)."""
    for dirpath, dirnames, filenames in os.walk(staging):
        relative = Path(dirpath).relative_to(staging)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            destination = target / relative / name
            if destination.is_dir() and not destination.is_symlink():
                raise ArchiveError(f"cannot unpack {relative / name}: {destination} is a directory")
            os.replace(Path(dirpath) / name, destination)


def _remove_stale_staging(target: Path) -> None:
    for stale in target.glob(STAGING_PREFIX + "*"):
        log.info("removing leftover staging folder %s from an interrupted unpack", stale)
        shutil.rmtree(stale, ignore_errors=True)

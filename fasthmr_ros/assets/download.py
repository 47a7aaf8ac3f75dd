"""Resumable, verified downloads, and fetching the public HMR 2.0 archive.

Why resumable: the archive is several GB from a university web server; a dropped connection
must not mean starting over. Bytes go to `<name>.part`; a rerun asks for the rest with an HTTP
Range request and appends, or starts cleanly over when the server ignores Range. The finished
file is checked against the announced length (and a sha256 when one is given), and its sha256 is
written to `<name>.json` beside it so a user can compare it with a published or colleague's hash.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fasthmr_ros import __version__
from fasthmr_ros.assets.archive import unpack_archive
from fasthmr_ros.assets.paths import (
    HMR2_CHECKPOINT_REL,
    J19_REGRESSOR_REL,
    MEAN_PARAMS_REL,
    fourdhumans_dir,
    hmr2_archive_path,
)
from fasthmr_ros.errors import FastHMRError

log = logging.getLogger(__name__)

HMR2_ARCHIVE_URL = "https://people.eecs.berkeley.edu/~jathushan/projects/4dhumans/hmr2_data.tar.gz"
# What the archive must provide for this project; all present means nothing needs fetching.
HMR2_REQUIRED_FILES = (
    HMR2_CHECKPOINT_REL,
    HMR2_CHECKPOINT_REL.parent.parent / "model_config.yaml",
    MEAN_PARAMS_REL,
    J19_REGRESSOR_REL,
)
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")


class DownloadError(FastHMRError):
    """Network or HTTP failure; the partial file is kept, so the same command resumes."""


class IntegrityError(DownloadError):
    """The downloaded bytes are not what was expected (length or sha256)."""


class DiskFullError(DownloadError):
    """Not enough free space for the download."""


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str
    fetched_bytes: int  # received over the network by this call (less than `size` after a resume)
    resumed: bool  # part of the file came from an earlier, interrupted call


class _CutShortError(Exception):
    """One attempt ended early after receiving `fetched` bytes (a retry can resume)."""

    def __init__(self, reason: str, fetched: int) -> None:
        super().__init__(reason)
        self.fetched = fetched


class _RestartNeededError(Exception):
    """The partial file cannot be continued (it was removed); start the download over."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def manifest_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".json")


def read_manifest(dest: Path) -> dict[str, Any] | None:
    """The manifest written beside a finished download, or None if absent or unreadable."""
    try:
        return json.loads(manifest_path(dest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(dest: Path, data: dict[str, Any]) -> None:
    tmp = manifest_path(dest).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path(dest))


def sha256_of(path: Path, progress: bool = False) -> str:
    digest = hashlib.sha256()
    with (
        open(path, "rb") as f,
        tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"sha256 {path.name}",
            disable=not progress,
        ) as bar,
    ):
        while chunk := f.read(DEFAULT_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    retries: int = 3,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = True,
) -> DownloadResult:
    """Download `url` to `dest`, resuming a previous `.part` file, and verify it.

    An attempt that drops after receiving data is resumed up to `retries` times; one that gets
    nothing fails at once (retrying a refused connection or a 404 helps no one). On failure the
    `.part` file stays, so calling again continues where it stopped.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    fetched = 0
    attempt = 0
    restarted = False
    while True:
        try:
            fetched += _attempt(url, part, timeout, chunk_size, progress)
            break
        except _RestartNeededError as why:
            if restarted:
                raise DownloadError(f"download of {url} cannot be resumed: {why}") from None
            log.info("%s; starting the download over", why)
            restarted = True
        except _CutShortError as stop:
            fetched += stop.fetched
            have = part.stat().st_size if part.exists() else 0
            if stop.fetched == 0 or attempt >= retries:
                raise DownloadError(
                    f"download of {url} stopped ({stop}); {have} bytes are kept in {part}: "
                    "run the same command again to resume"
                ) from None
            attempt += 1
            log.warning(
                "download interrupted (%s); resuming from byte %d (retry %d/%d)", stop, have, attempt, retries
            )
            time.sleep(min(attempt, 5) * 0.5)
    return _finish(url, dest, part, expected_sha256, fetched, progress)


def _finish(
    url: str, dest: Path, part: Path, expected_sha256: str | None, fetched: int, progress: bool
) -> DownloadResult:
    size = part.stat().st_size
    digest = sha256_of(part, progress=progress and size > 64 * DEFAULT_CHUNK)
    if expected_sha256 and digest != expected_sha256.lower():
        rejected = dest.with_name(dest.name + ".rejected")
        os.replace(part, rejected)
        raise IntegrityError(
            f"sha256 of the file downloaded from {url} is {digest}, expected {expected_sha256.lower()}; "
            f"nothing was unpacked. The file was moved to {rejected}: delete it, or check the expected hash"
        )
    os.replace(part, dest)
    write_manifest(
        dest,
        {
            "url": url,
            "file": dest.name,
            "size": size,
            "sha256": digest,
            "sha256_verified": bool(expected_sha256),
            "downloaded_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    return DownloadResult(dest, size, digest, fetched, resumed=fetched < size)


def _attempt(url: str, part: Path, timeout: float, chunk_size: int, progress: bool) -> int:
    """Fetch what is missing of `part`; returns bytes received. Raises _CutShortError on a cut."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"fasthmr_ros/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return _handle_unsatisfiable(exc, part, offset)
        raise DownloadError(f"HTTP {exc.code} {exc.reason} for {url}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot reach {url}: {exc.reason}") from None
    except TimeoutError:
        raise DownloadError(f"no answer from {url} within {timeout:g} s") from None
    except (ConnectionError, http.client.HTTPException) as exc:
        raise _CutShortError(f"connection failed: {exc}", 0) from None
    with response:
        try:
            total, append = _plan(response, offset)
        except _RestartNeededError:
            part.unlink()
            raise
        if offset and not append:
            log.info("the server ignored the resume request; starting %s over", part.name)
        start = offset if append else 0
        if total is not None:
            _check_space(part.parent, total - start)
        return _stream(response, part, append, start, total, chunk_size, progress)


def _plan(response: http.client.HTTPResponse, offset: int) -> tuple[int | None, bool]:
    """(total size or None, append?) from the response status and headers."""
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        match = _CONTENT_RANGE.match(content_range)
        if match and int(match.group(1)) == offset:
            return (int(match.group(3)) if match.group(3) != "*" else None), True
        raise _RestartNeededError(f"the server answered with Content-Range {content_range!r}")
    length = response.headers.get("Content-Length")
    return (int(length) if length and length.isdigit() else None), False


def _handle_unsatisfiable(exc: urllib.error.HTTPError, part: Path, offset: int) -> int:
    """416 on resume: the part is already whole (done) or longer than the file (stale: restart)."""
    match = _UNSATISFIED_RANGE.match(exc.headers.get("Content-Range", "") if exc.headers else "")
    if match and int(match.group(1)) == offset:
        return 0
    part.unlink()
    raise _RestartNeededError(f"{part.name} is longer than the file on the server; it was discarded")


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DiskFullError(
            f"not enough disk space in {folder}: {needed / 1e9:.2f} GB more needed, {free / 1e9:.2f} GB free"
        )


def _stream(
    response: http.client.HTTPResponse,
    part: Path,
    append: bool,
    start: int,
    total: int | None,
    chunk_size: int,
    progress: bool,
) -> int:
    received = 0
    with (
        open(part, "ab" if append else "wb") as out,
        tqdm(
            total=total,
            initial=start,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name.removesuffix(".part"),
            disable=not progress,
        ) as bar,
    ):
        while True:
            try:
                chunk = response.read(chunk_size)
            except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
                raise _CutShortError(f"{type(exc).__name__}: {exc}", received) from None
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise DiskFullError(
                        f"disk full while writing {part}; free some space and run again to resume"
                    ) from None
                raise
            received += len(chunk)
            bar.update(len(chunk))
    size = start + received
    if total is not None and size < total:
        raise _CutShortError(f"connection closed after {size} of {total} bytes", received)
    if total is not None and size > total:
        part.unlink()
        raise IntegrityError(
            f"the server sent {size} bytes but announced {total}; the partial file was removed"
        )
    return received


@dataclass(frozen=True)
class FetchReport:
    target: Path
    action: str  # "present", "unpacked", "downloaded"
    download: DownloadResult | None


def hmr2_files_present(target: Path) -> bool:
    """Is everything we need from the archive already unpacked in `target`?"""
    manifest = read_manifest(hmr2_archive_path(target))
    if manifest and "unpacked" in manifest:
        try:
            return all(
                (target / name).is_file() and (target / name).stat().st_size == size
                for name, size in manifest["unpacked"]
            )
        except (TypeError, ValueError):
            log.warning("ignoring the unreadable file list in %s", manifest_path(hmr2_archive_path(target)))
    return all((target / rel).is_file() for rel in HMR2_REQUIRED_FILES)


def _archive_complete(archive: Path, expected_sha256: str | None, progress: bool) -> bool:
    """Is a whole archive already here? One without our manifest (4D-Humans' own download) is
    adopted: hashed and given a manifest; unpacking then proves it reads end to end."""
    if not archive.is_file():
        return False
    manifest = read_manifest(archive)
    if manifest is None:
        manifest = {
            "url": None,
            "file": archive.name,
            "size": archive.stat().st_size,
            "sha256": sha256_of(archive, progress=progress),
            "sha256_verified": False,
            "note": "found in the cache, not downloaded by fasthmr",
        }
        write_manifest(archive, manifest)
    if archive.stat().st_size != manifest.get("size"):
        return False
    return not expected_sha256 or manifest.get("sha256") == expected_sha256.lower()


def fetch_hmr2(
    target: str | os.PathLike[str] | None = None,
    *,
    url: str = HMR2_ARCHIVE_URL,
    expected_sha256: str | None = None,
    force: bool = False,
    keep_archive: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
    retries: int = 3,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = True,
) -> FetchReport:
    """Make the HMR 2.0 archive's files present in the 4D-Humans cache (or `target`).

    Skips the network when the files are already unpacked (a 4D-Humans user's cache counts) or
    when a complete archive is already downloaded and only needs unpacking.
    """
    base = Path(target).expanduser() if target is not None else fourdhumans_dir()
    archive = hmr2_archive_path(base)
    if not force and hmr2_files_present(base):
        return FetchReport(base, "present", None)
    result = None
    if force or not _archive_complete(archive, expected_sha256, progress):
        if force:
            part_path(archive).unlink(missing_ok=True)
        result = download(
            url,
            archive,
            expected_sha256=expected_sha256,
            timeout=timeout,
            retries=retries,
            chunk_size=chunk_size,
            progress=progress,
        )
    files = unpack_archive(archive, base, progress=progress)
    manifest = read_manifest(archive) or {}
    manifest["unpacked"] = files
    write_manifest(archive, manifest)
    if not keep_archive:
        archive.unlink()
    return FetchReport(base, "downloaded" if result else "unpacked", result)

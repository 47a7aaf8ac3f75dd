"""Real-file plumbing against a real HTTP server on 127.0.0.1.

The server is our own threaded handler so a test can make it cut a response short, ignore Range,
stall, or announce an impossible size; it serves small tar.gz archives built here with the exact
layout of the official hmr2_data.tar.gz.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pickle
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from fasthmr_ros.assets import paths
from fasthmr_ros.assets.archive import ArchiveError, UnsafeArchiveError, member_problem, unpack_archive
from fasthmr_ros.assets.download import (
    DiskFullError,
    DownloadError,
    IntegrityError,
    download,
    fetch_hmr2,
    part_path,
    read_manifest,
)
from fasthmr_ros.cli import download as download_cli
from fasthmr_ros.errors import MissingFileError

pytestmark = pytest.mark.timeout(30)

CHUNK = 16 * 1024


# --------------------------------------------------------------------------- the test server


@dataclass
class ServerControl:
    """What the handler serves and how it misbehaves; `requests` records what happened."""

    payload: bytes = b""
    cut_after: list[int] = field(default_factory=list)  # per response, consumed in order
    ignore_range: bool = False
    status: int = 200
    announce_length: int | None = None
    stall: threading.Event | None = None
    requests: list[dict] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        ctl = self.server.control
        record = {"range": self.headers.get("Range"), "status": None, "sent": 0}
        ctl.requests.append(record)
        if ctl.stall is not None:
            ctl.stall.wait(5)
            return
        if ctl.status != 200:
            record["status"] = ctl.status
            self.send_error(ctl.status)
            return
        data, total = ctl.payload, len(ctl.payload)
        start = 0
        wanted = self.headers.get("Range")
        if wanted and not ctl.ignore_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= total:
                record["status"] = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
            record["status"] = 206
        else:
            self.send_response(200)
            record["status"] = 200
        body = data[start:]
        self.send_header("Content-Length", str(ctl.announce_length or len(body)))
        self.end_headers()
        if ctl.cut_after:
            body = body[: ctl.cut_after.pop(0)]
        try:
            self.wfile.write(body)
            self.wfile.flush()
            record["sent"] = len(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    control: ServerControl


@pytest.fixture
def server() -> Iterator[tuple[str, ServerControl]]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.control = ServerControl()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hmr2_data.tar.gz", httpd.control
    finally:
        if httpd.control.stall is not None:
            httpd.control.stall.set()
        httpd.shutdown()
        httpd.server_close()


# --------------------------------------------------------------------------- archives


def _official_layout_files() -> dict[str, bytes]:
    """Small stand-ins at the exact paths of the official archive (random bytes do not compress,
    so the archive is large enough for a download to be cut in the middle)."""
    rng = np.random.default_rng(0)
    mean = io.BytesIO()
    np.savez(mean, pose=np.zeros(144), shape=np.zeros(10), cam=np.array([0.9, 0.0, 0.0]))
    return {
        paths.HMR2_CHECKPOINT_REL.as_posix(): rng.bytes(300_000),
        (paths.HMR2_CHECKPOINT_REL.parent.parent / "model_config.yaml").as_posix(): b"MODEL: {}\n",
        paths.MEAN_PARAMS_REL.as_posix(): mean.getvalue(),
        paths.J19_REGRESSOR_REL.as_posix(): pickle.dumps(np.zeros((19, 6890), dtype=np.float32)),
    }


def _targz(files: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME with no overrides, so the default cache paths point into tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(paths.ENV_4DHUMANS_DIR, raising=False)
    monkeypatch.delenv(paths.ENV_CACHE_DIR, raising=False)
    return home


def _unpacked_anything(target: Path) -> bool:
    return any((target / name).exists() for name in ("logs", "data")) or any(
        p.name.startswith(".fasthmr-unpack-") for p in target.iterdir()
    )


# --------------------------------------------------------------------------- tests


def test_full_download_unpacks_where_paths_finds_it(server, home: Path) -> None:
    url, ctl = server
    files = _official_layout_files()
    ctl.payload = _targz(files)
    fourd = home / ".cache" / "4DHumans"
    user_smpl = fourd / paths.SMPL_NEUTRAL_REL
    user_smpl.parent.mkdir(parents=True)
    user_smpl.write_bytes(b"the user's own licensed file")

    report = fetch_hmr2(url=url, progress=False, chunk_size=CHUNK)

    assert report.action == "downloaded" and report.target == fourd
    checkpoint = paths.find_hmr2_checkpoint()
    assert checkpoint == fourd / paths.HMR2_CHECKPOINT_REL
    assert checkpoint.read_bytes() == files[paths.HMR2_CHECKPOINT_REL.as_posix()]
    assert (checkpoint.parent.parent / "model_config.yaml").is_file()
    assert np.load(fourd / paths.MEAN_PARAMS_REL)["cam"][0] == pytest.approx(0.9)
    assert pickle.loads(paths.find_j19_regressor().read_bytes()).shape == (19, 6890)
    assert user_smpl.read_bytes() == b"the user's own licensed file"
    assert paths.find_smpl_model() == user_smpl
    manifest = read_manifest(paths.hmr2_archive_path())
    assert manifest["sha256"] == hashlib.sha256(ctl.payload).hexdigest()
    assert manifest["size"] == len(ctl.payload) and manifest["sha256_verified"] is False

    # Complete and unpacked: a second run touches no network.
    assert fetch_hmr2(url=url, progress=False).action == "present"
    assert len(ctl.requests) == 1
    # Archive complete but a file lost: unpack again, still without the network.
    checkpoint.unlink()
    assert fetch_hmr2(url=url, progress=False).action == "unpacked"
    assert len(ctl.requests) == 1 and checkpoint.is_file()


def test_archive_left_by_4dhumans_is_unpacked_without_network(server, home: Path) -> None:
    url, ctl = server
    archive = paths.hmr2_archive_path()
    archive.parent.mkdir(parents=True)
    archive.write_bytes(_targz(_official_layout_files()))  # as 4D-Humans leaves it: no manifest
    report = fetch_hmr2(url=url, progress=False)
    assert report.action == "unpacked" and ctl.requests == []
    assert paths.find_hmr2_checkpoint() is not None
    assert read_manifest(archive)["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()


def test_interrupted_download_resumes_with_range(server, tmp_path: Path) -> None:
    url, ctl = server
    ctl.payload = _targz(_official_layout_files())
    ctl.cut_after = [100_000]
    dest = tmp_path / "a.tar.gz"

    with pytest.raises(DownloadError, match="resume"):
        download(url, dest, retries=0, progress=False, chunk_size=CHUNK)
    assert part_path(dest).stat().st_size == 100_000 and not dest.exists()

    result = download(url, dest, progress=False, chunk_size=CHUNK)
    assert ctl.requests[1]["range"] == "bytes=100000-" and ctl.requests[1]["status"] == 206
    assert result.resumed and result.fetched_bytes == len(ctl.payload) - 100_000 < len(ctl.payload)
    assert dest.read_bytes() == ctl.payload and not part_path(dest).exists()
    assert result.sha256 == hashlib.sha256(ctl.payload).hexdigest()


def test_cut_inside_one_call_is_retried(server, tmp_path: Path) -> None:
    url, ctl = server
    ctl.payload = _targz(_official_layout_files())
    ctl.cut_after = [50_000, 70_000]
    dest = tmp_path / "a.tar.gz"
    result = download(url, dest, retries=3, progress=False, chunk_size=CHUNK)
    assert dest.read_bytes() == ctl.payload
    assert [r["range"] for r in ctl.requests] == [None, "bytes=50000-", "bytes=120000-"]
    assert sum(r["sent"] for r in ctl.requests) == len(ctl.payload) == result.fetched_bytes


def test_server_ignoring_range_restarts_cleanly(server, tmp_path: Path) -> None:
    url, ctl = server
    ctl.payload = _targz(_official_layout_files())
    ctl.cut_after = [100_000]
    dest = tmp_path / "a.tar.gz"
    with pytest.raises(DownloadError):
        download(url, dest, retries=0, progress=False, chunk_size=CHUNK)

    ctl.ignore_range = True
    result = download(url, dest, progress=False, chunk_size=CHUNK)
    assert ctl.requests[1]["range"] == "bytes=100000-" and ctl.requests[1]["status"] == 200
    assert not result.resumed and result.fetched_bytes == len(ctl.payload)
    assert dest.read_bytes() == ctl.payload


def test_stale_part_longer_than_file_is_discarded(server, tmp_path: Path) -> None:
    url, ctl = server
    ctl.payload = b"abc" * 1000
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(b"z" * 5000)
    result = download(url, dest, progress=False)
    assert [r["status"] for r in ctl.requests] == [416, 200]
    assert dest.read_bytes() == ctl.payload and result.size == 3000


def test_sha256_mismatch_is_an_error_and_unpacks_nothing(server, home: Path) -> None:
    url, ctl = server
    ctl.payload = _targz(_official_layout_files())
    target = home / ".cache" / "4DHumans"
    with pytest.raises(IntegrityError, match="sha256"):
        fetch_hmr2(url=url, expected_sha256="0" * 64, progress=False)
    assert not _unpacked_anything(target)
    assert not paths.hmr2_archive_path().exists() and not part_path(paths.hmr2_archive_path()).exists()
    assert paths.find_hmr2_checkpoint() is None

    good = hashlib.sha256(ctl.payload).hexdigest()
    report = fetch_hmr2(url=url, expected_sha256=good.upper(), progress=False)
    assert report.download is not None and report.download.sha256 == good
    assert read_manifest(paths.hmr2_archive_path())["sha256_verified"] is True
    assert paths.find_hmr2_checkpoint() is not None


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 4
    return info


EVIL = [
    _file("../escaped.txt"),
    _file("data/../../escaped.txt"),
    _file("/tmp/fasthmr-absolute-escape.txt"),
    _link("data/passwd", "/etc/passwd", tarfile.SYMTYPE),
    _link("data/up", "../../escaped.txt", tarfile.SYMTYPE),
    _link("data/hard", "../escaped.txt", tarfile.LNKTYPE),
]
EVIL_IDS = ["dotdot", "nested-dotdot", "absolute", "symlink-abs", "symlink-up", "hardlink-up"]


def test_member_checks_of_our_own() -> None:
    """Our checks alone (tarfile's data filter is a second layer where Python has it)."""
    for evil in EVIL:
        assert member_problem(evil) is not None, evil.name
    fine = [
        _file("data/a.npz"),
        _file("./logs/x"),
        _link("data/b", "a.npz", tarfile.SYMTYPE),
        _link("data/smpl/c", "../a.npz", tarfile.SYMTYPE),
        _link("data/d", "data/a.npz", tarfile.LNKTYPE),
    ]
    for ok in fine:
        assert member_problem(ok) is None, ok.name


@pytest.mark.parametrize("evil", EVIL, ids=EVIL_IDS)
def test_traversal_archive_is_rejected(server, home: Path, evil: tarfile.TarInfo) -> None:
    url, ctl = server
    ctl.payload = _targz(_official_layout_files(), extra=[evil])
    target = home / ".cache" / "4DHumans"
    with pytest.raises(UnsafeArchiveError, match=r"outside the target|unsafe"):
        fetch_hmr2(url=url, progress=False)
    assert not _unpacked_anything(target)
    assert not (home / ".cache" / "escaped.txt").exists() and not (home / "escaped.txt").exists()
    assert not Path("/tmp/fasthmr-absolute-escape.txt").exists()


@pytest.mark.parametrize("damage", ["truncated", "html-page"])
def test_corrupt_archive_is_an_error_and_unpacks_nothing(tmp_path: Path, damage: str) -> None:
    whole = _targz(_official_layout_files())
    archive = tmp_path / "broken.tar.gz"
    # A server that moved the file often answers 200 with an HTML page instead.
    archive.write_bytes(whole[: len(whole) - 5000] if damage == "truncated" else b"<html>moved</html>" * 50)
    target = tmp_path / "target"
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        unpack_archive(archive, target, progress=False)
    assert not _unpacked_anything(target)


def test_http_error_is_clear(server, tmp_path: Path) -> None:
    url, ctl = server
    ctl.status = 404
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(url, tmp_path / "x.bin", progress=False)


def test_no_answer_times_out(server, tmp_path: Path) -> None:
    url, ctl = server
    ctl.stall = threading.Event()
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"timed out|within"):
        download(url, tmp_path / "x.bin", timeout=0.5, progress=False)
    assert time.monotonic() - started < 4


def test_not_enough_disk_space_is_caught_before_writing(server, tmp_path: Path) -> None:
    url, ctl = server
    ctl.payload = b"x" * 100
    ctl.announce_length = 10**15  # a petabyte: more than any test machine has free
    with pytest.raises(DiskFullError, match="disk space"):
        download(url, tmp_path / "x.bin", progress=False)


def test_explicit_paths_win_and_missing_ones_are_named(home: Path, tmp_path: Path, monkeypatch) -> None:
    given = tmp_path / "my_smpl.pkl"
    given.write_bytes(b"x")
    assert paths.find_smpl_model(given) == given
    assert paths.find_smpl_model() is None
    with pytest.raises(MissingFileError, match=r"nowhere\.ckpt"):
        paths.find_camerahmr_checkpoint(tmp_path / "nowhere.ckpt")

    monkeypatch.setenv(paths.ENV_4DHUMANS_DIR, str(tmp_path / "elsewhere"))
    monkeypatch.setenv(paths.ENV_CACHE_DIR, str(tmp_path / "ours"))
    camerahmr = tmp_path / "ours" / "checkpoints" / paths.CAMERAHMR_CHECKPOINT_NAME
    camerahmr.parent.mkdir(parents=True)
    camerahmr.write_bytes(b"x")
    assert paths.find_camerahmr_checkpoint() == camerahmr
    assert paths.fourdhumans_dir() == tmp_path / "elsewhere"


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    download_cli.add_arguments(parser)
    return download_cli.run(parser.parse_args(argv))


def test_status_names_the_missing_smpl_file(server, home: Path, capsys) -> None:
    url, ctl = server
    ctl.payload = _targz(_official_layout_files())
    assert _cli(["hmr2", "--url", url]) == 0  # the download succeeded even though SMPL is missing
    capsys.readouterr()

    assert _cli(["status"]) == 1
    out = capsys.readouterr().out
    smpl = home / ".cache" / "4DHumans" / "data" / "smpl" / "SMPL_NEUTRAL.pkl"
    assert "[MISSING] SMPL model" in out and str(smpl) in out
    assert "https://smpl.is.tue.mpg.de" in out
    assert "[found  ] HMR 2.0 checkpoint" in out

    smpl.parent.mkdir(parents=True, exist_ok=True)
    smpl.write_bytes(b"x")
    assert _cli(["status"]) == 0  # CameraHMR is optional: absent is not a failure
    assert "[found  ] SMPL model" in capsys.readouterr().out


def test_cli_cache_dir_and_bad_sha(server, home: Path, tmp_path: Path, capsys) -> None:
    url, ctl = server
    ctl.payload = _targz(_official_layout_files())
    custom = tmp_path / "custom"
    _cli(["hmr2", "--url", url, "--cache-dir", str(custom), "--delete-archive"])
    out = capsys.readouterr().out
    assert f"{paths.ENV_4DHUMANS_DIR}={custom}" in out
    assert (custom / paths.HMR2_CHECKPOINT_REL).is_file() and not (custom / paths.HMR2_ARCHIVE_NAME).exists()
    with pytest.raises(SystemExit):
        _cli(["hmr2", "--sha256", "not-hex"])
    assert "not a sha256" in capsys.readouterr().err


def test_download_command_is_registered() -> None:
    from fasthmr_ros.cli.main import COMMANDS

    assert COMMANDS["download"][0] == download_cli.__name__

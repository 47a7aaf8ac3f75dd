"""`fasthmr download`: fetch the public HMR 2.0 archive, or report which real files are where.

`fasthmr download hmr2 [--cache-dir DIR] [--url URL] [--sha256 HEX] [--force]`
`fasthmr download status`   (exit status 1 while a required file is missing)
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from fasthmr_ros.assets import paths
from fasthmr_ros.assets.download import DEFAULT_TIMEOUT_S, HMR2_ARCHIVE_URL, fetch_hmr2


def _sha256_hex(text: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise argparse.ArgumentTypeError(f"not a sha256 (64 hex digits): {text!r}")
    return text.lower()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True, metavar="WHAT")
    hmr2 = sub.add_parser(
        "hmr2",
        help="download and unpack the public HMR 2.0 data archive",
        description="Download the HMR 2.0 archive (checkpoint, mean parameters, J19 "
        "regressor) with resume and integrity checks, and unpack it into the 4D-Humans "
        "cache, where it is found without flags.",
    )
    hmr2.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"unpack here instead of the 4D-Humans cache ({paths.fourdhumans_dir()})",
    )
    hmr2.add_argument("--url", default=HMR2_ARCHIVE_URL, help="archive URL (default: the official one)")
    hmr2.add_argument(
        "--sha256",
        type=_sha256_hex,
        default=None,
        help="expected sha256 of the archive; a mismatch is an error and nothing is unpacked",
    )
    hmr2.add_argument("--force", action="store_true", help="download and unpack again even if present")
    hmr2.add_argument(
        "--delete-archive",
        action="store_true",
        help="remove the .tar.gz after unpacking (saves its size on disk)",
    )
    hmr2.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds to wait for the server before giving up (default %(default)s)",
    )
    sub.add_parser("status", help="list which real files are found where, and how to get the missing ones")


def run(args: argparse.Namespace) -> int:
    if args.what == "hmr2":
        return _run_hmr2(args)
    return print_status()


def _run_hmr2(args: argparse.Namespace) -> int:
    report = fetch_hmr2(
        args.cache_dir,
        url=args.url,
        expected_sha256=args.sha256,
        force=args.force,
        keep_archive=not args.delete_archive,
        timeout=args.timeout,
    )
    if report.action == "present":
        print(f"HMR 2.0 files are already in {report.target} (use --force to download again)")
    else:
        if report.download is not None:
            print(
                f"downloaded {report.download.path} ({report.download.size} bytes, "
                f"sha256 {report.download.sha256})"
            )
        print(f"unpacked into {report.target}")
    if args.cache_dir is not None and report.target.resolve() != paths.fourdhumans_dir().resolve():
        print(f"note: to find these files without flags, set {paths.ENV_4DHUMANS_DIR}={report.target}")
    print()
    print_status()  # its exit status is for `download status`; the download itself succeeded
    return 0


def print_status() -> int:
    """Print every real file's state; 1 when a required one is missing (useful in scripts)."""
    print(f"4D-Humans cache: {paths.fourdhumans_dir()}  (override: ${paths.ENV_4DHUMANS_DIR})")
    print(f"fasthmr_ros cache: {paths.cache_dir()}  (override: ${paths.ENV_CACHE_DIR})")
    statuses = paths.file_statuses()
    width = max(len(s.name) for s in statuses)
    for status in statuses:
        mark = "found  " if status.found else ("MISSING" if status.required else "absent ")
        print(f"  [{mark}] {status.name:<{width}}  {status.expected}")
    missing = paths.describe_missing()
    if missing:
        print("\nHow to get what is missing:\n" + missing)
    else:
        print("\nAll files are present.")
    return 1 if any(s.required and not s.found for s in statuses) else 0

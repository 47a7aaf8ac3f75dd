"""CMakeLists.txt builds and installs the package as colcon would (Python code included), against
the ROS 2 in .venv: code and generated messages end up in one package that imports and works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import rclpy_peer  # noqa: F401  (needs ROS 2: skips, or fails under scripts/test.sh, without)

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
SOURCES = ("CMakeLists.txt", "package.xml", "cmake", "msg", "fasthmr_ros", "scripts", "launch", "config")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_cmake_install_puts_code_and_messages_in_one_package(tmp_path: Path) -> None:
    source, build, prefix = tmp_path / "src" / "fasthmr_ros", tmp_path / "build", tmp_path / "install"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True, ignore=ignore)
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    build.mkdir()
    env = dict(os.environ, AMENT_PREFIX_PATH=str(VENV), PATH=f"{VENV / 'bin'}:{os.environ['PATH']}")
    _run(
        [
            "cmake",
            str(source),
            f"-DCMAKE_PREFIX_PATH={VENV}",
            f"-DCMAKE_INSTALL_PREFIX={prefix}",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DBUILD_TESTING=OFF",
        ],
        build,
        env,
    )
    _run(["make", f"-j{os.cpu_count() or 1}", "install"], build, env)
    # ament's Python folder for this interpreter, holding both halves of the package.
    (pydir,) = {p.parents[2] for p in prefix.rglob("fasthmr_ros/msg/__init__.py")}
    assert (pydir / "fasthmr_ros" / "ros" / "node.py").is_file()
    assert not (pydir / "fasthmr_ros" / "ros" / "msg").exists()  # the pip-only symlink stays out
    assert (prefix / "share" / "fasthmr_ros" / "msg" / "HumanMeshArray.msg").is_file()
    assert (prefix / "lib" / "fasthmr_ros" / "fasthmr_node").is_file()
    check = (
        "import fasthmr_ros, fasthmr_ros.msg, fasthmr_ros.ros.node as n;"
        "print(fasthmr_ros.__file__, fasthmr_ros.msg.__file__, n.__file__);"
        "print(n.message_class('fasthmr_ros/msg/HumanMeshArray')().humans)"
    )
    libs = f"{prefix / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}"
    env_run = dict(env, PYTHONPATH=str(pydir), LD_LIBRARY_PATH=libs)
    out = _run([sys.executable, "-c", check], tmp_path, env_run).split()
    assert all(path.startswith(str(pydir)) for path in out[:3]), out
    assert out[3] == "[]"

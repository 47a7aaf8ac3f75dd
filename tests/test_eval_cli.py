"""`fasthmr eval` in a plain install: the report and the table without the optional plot extra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fasthmr_ros.samples.synth import SynthConfig, write_synth_set

# Runs `fasthmr eval` with matplotlib made unimportable, as in `pip install fasthmr_ros` without [plot].
WITHOUT_MATPLOTLIB = (
    "import sys; sys.modules['matplotlib'] = None; "
    "from fasthmr_ros.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def test_eval_writes_its_report_without_matplotlib(tmp_path: Path) -> None:
    data = tmp_path / "set"
    write_synth_set(data, images=2, seed=5, cfg=SynthConfig(width=160, height=120), progress=False)
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MATPLOTLIB, "eval", str(data), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "matplotlib is not installed" in done.stdout
    assert "MPJPE (mm)" in done.stdout
    report = json.loads(out.read_text())
    assert report["persons"] > 0 and report["mpjpe_mm"] > 0
    assert not out.with_suffix(".png").exists()

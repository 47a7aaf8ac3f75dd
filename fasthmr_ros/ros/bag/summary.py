"""What one run of the bag tool did: frames in and out, skips by reason, frames left in the
camera frame, records copied through."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from fasthmr_ros.ros.frames import SKIP_REASONS

MAX_EXAMPLES = 3  # distinct skip details kept per reason for the summary

@dataclass
class BagSummary:
    frames_in: int = 0
    frames_out: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skip_examples: dict[str, list[str]] = field(default_factory=dict)  # first distinct details per reason
    persons: int = 0
    max_persons: int = 0
    unreadable: Counter[str] = field(default_factory=Counter)  # corrupt non-image records per topic
    not_copied: dict[str, str] = field(default_factory=dict)  # input topic -> why it was not copied
    target_frame: str = ""
    # Frames published in the camera frame because no transform to target_frame was usable.
    camera_frame: Counter[str] = field(default_factory=Counter)  # by reason (TransformError.reason)
    camera_frame_examples: dict[str, list[str]] = field(default_factory=dict)
    records_copied: int = 0
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames_out / self.seconds if self.seconds > 0 else 0.0

    def skip(self, key: str, detail: str) -> None:
        self.skipped[key] += 1
        examples = self.skip_examples.setdefault(key, [])
        if detail not in examples and len(examples) < MAX_EXAMPLES:
            examples.append(detail)

    def lines(self) -> list[str]:
        out = [
            f"frames in: {self.frames_in}, out: {self.frames_out}, skipped: {sum(self.skipped.values())}",
        ]
        for key, count in sorted(self.skipped.items()):
            examples = " | ".join(self.skip_examples[key])
            out.append(f"  skipped {count} x {key} ({SKIP_REASONS[key]}), e.g.: {examples}")
        out.append(f"persons: {self.persons} in total, at most {self.max_persons} in one frame")
        if self.target_frame:
            kept = sum(self.camera_frame.values())
            out.append(
                f"frames in {self.target_frame}: {self.frames_out - kept}; left in the camera frame: {kept}"
            )
        for key, count in sorted(self.camera_frame.items()):
            out.append(f"  camera frame {count} x {key}, e.g.: {' | '.join(self.camera_frame_examples[key])}")
        for topic, count in sorted(self.unreadable.items()):
            out.append(f"unreadable records on {topic}: {count} (copied through unchanged)")
        for topic, why in sorted(self.not_copied.items()):
            out.append(f"input topic {topic} not copied: {why}")
        out.append(f"records copied through: {self.records_copied}")
        out.append(f"time: {self.seconds:.1f} s, {self.fps:.2f} frames/s")
        return out

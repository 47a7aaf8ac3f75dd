"""Tracker: stable ids through crossing paths and occlusion, track states, eviction, known ids."""

from __future__ import annotations

import numpy as np

from fasthmr_ros.pipeline.detection import Detection
from fasthmr_ros.pipeline.tracking import Tracker, TrackState


def _box(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _crossing_frames(frames: int = 60, hidden: range = range(27, 34)) -> list[dict[str, np.ndarray]]:
    """Person A walks right, B walks left on nearly the same line; B is hidden behind A mid-way."""
    rng = np.random.default_rng(7)
    out = []
    for f in range(frames):
        people = {"A": _box(150 + 17 * f, 400, 120, 300), "B": _box(1150 - 17 * f, 390, 110, 280)}
        if f in hidden:
            del people["B"]
        out.append({k: b + rng.normal(0, 2.0, 4) for k, b in people.items()})
    return out


def _ids_per_person(tracker: Tracker, freeze_velocity: bool = False) -> dict[str, set[int]]:
    ids: dict[str, set[int]] = {"A": set(), "B": set()}
    for f, people in enumerate(_crossing_frames()):
        if freeze_velocity:
            for track in tracker.tracks:
                track.velocity[:] = 0.0
        names = list(people)[:: 1 if f % 2 else -1]  # detection order must not matter
        update = tracker.update([Detection(people[n]) for n in names])
        assert len(update.tracked) <= len(people)
        for td in update.tracked:
            # Which person is this? The true box closest to the tracked detection.
            name = min(people, key=lambda n: np.abs(people[n] - td.detection.bbox).sum())
            ids[name].add(td.track_id)
    return ids


def test_ids_stable_when_two_people_cross() -> None:
    tracker = Tracker(iou_threshold=0.2, min_hits=1, max_age=15)
    ids = _ids_per_person(tracker)
    assert len(ids["A"]) == 1 and len(ids["B"]) == 1, ids
    assert ids["A"] != ids["B"]
    assert {t.track_id for t in tracker.tracks} == ids["A"] | ids["B"]


def test_crossing_needs_the_velocity_prediction() -> None:
    """The same sequence with static box predictions breaks ids: the test above can fail."""
    ids = _ids_per_person(Tracker(iou_threshold=0.2, min_hits=1, max_age=15), freeze_velocity=True)
    assert len(ids["A"]) + len(ids["B"]) > 2, ids


def test_tentative_tracks_need_min_hits() -> None:
    tracker = Tracker(min_hits=3)
    person = _box(300, 300, 100, 200)
    ghost = Detection(_box(900, 300, 100, 200))
    first = tracker.update([Detection(person), ghost])
    assert first.tracked == []
    assert {t.status for t in tracker.tracks} == {TrackState.TENTATIVE}
    second = tracker.update([Detection(person + 2)])  # the ghost is gone: dropped at once
    assert second.tracked == [] and len(second.removed_ids) == 1 and len(tracker.tracks) == 1
    third = tracker.update([Detection(person + 4)])
    assert len(third.tracked) == 1 and third.tracked[0].status is TrackState.CONFIRMED


def test_lost_tracks_coast_then_get_evicted() -> None:
    tracker = Tracker(max_age=3)
    for f in range(5):
        tracker.update([Detection(_box(200 + 10 * f, 300, 100, 200))])
    (track,) = tracker.tracks
    for missed in range(1, 4):
        update = tracker.update([])
        assert update.tracked == [] and update.removed_ids == []
        assert track.status is TrackState.LOST
        np.testing.assert_allclose(track.state[0], 240 + 10 * missed, atol=1.0)  # coasting
    assert tracker.update([]).removed_ids == [track.track_id]
    assert tracker.tracks == []
    again = tracker.update([Detection(_box(290, 300, 100, 200))])
    assert again.tracked[0].track_id != track.track_id


def test_lost_track_recovers_same_id() -> None:
    tracker = Tracker(max_age=5)
    for f in range(4):
        tracker.update([Detection(_box(200 + 20 * f, 300, 100, 200))])
    track_id = tracker.tracks[0].track_id
    tracker.update([])
    tracker.update([])
    update = tracker.update([Detection(_box(200 + 20 * 6, 300, 100, 200))])
    assert [td.track_id for td in update.tracked] == [track_id]
    assert tracker.tracks[0].status is TrackState.CONFIRMED


def test_known_ids_skip_association() -> None:
    tracker = Tracker()
    update = tracker.update([Detection(_box(200, 300, 100, 200)), Detection(_box(600, 300, 100, 200))])
    a, b = (td.track_id for td in update.tracked)
    # Boxes handed over with ids, deliberately swapped in position: ids are taken as given.
    swapped = [Detection(_box(600, 300, 100, 200)), Detection(_box(200, 300, 100, 200))]
    update = tracker.update(swapped, [a, b])
    assert {td.track_id: td.detection.bbox[0] for td in update.tracked} == {a: 550.0, b: 150.0}
    assert len(tracker.tracks) == 2

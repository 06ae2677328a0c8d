"""Leftovers of a crash are swept at start (issue 11): `.partial-` storage files."""

from __future__ import annotations

import os
import time

from app.cli.serve import prepare
from app.core.config import Settings
from app.core.storage import TEMP_MARK, Storage


def test_partial_files_from_a_crash_are_swept_at_start(settings: Settings) -> None:
    storage = Storage.from_settings(settings)
    folder = settings.data_path / "storage" / "datasets" / "1"
    folder.mkdir(parents=True)
    old = folder / f"rows.jsonl{TEMP_MARK}abc"
    young = folder / f"rows.jsonl{TEMP_MARK}def"  # another replica may be writing it
    kept = folder / "rows.jsonl"
    for path in (old, young, kept):
        path.write_text("x")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    before = sorted(p.name for p in folder.iterdir())
    assert storage.root  # local storage under the data dir
    prepare(settings)
    after = sorted(p.name for p in folder.iterdir())
    assert len(before) == 3 and after == sorted([young.name, kept.name])

"""What grew in the steady process's heap between two tracemalloc snapshots (bench/soak/traced.py):
the allocation sites that grew most, with their Parley-side frames, and the object types whose
count grew most."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

SNAPSHOT_DEADLINE = 120.0  # seconds a loaded machine may take to write a snapshot
TOP = 15


def wait_for_snapshot(folder: Path, number: int) -> Path:
    path = folder / f"{number}.tracemalloc"
    deadline = time.monotonic() + SNAPSHOT_DEADLINE
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path.name} within {SNAPSHOT_DEADLINE} s")
        time.sleep(0.2)
    return path


def heap_growth(folder: Path, first: int, last: int) -> dict:
    """The traced heap's growth from snapshot `first` to `last`, largest sites and types first."""
    filters = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")]
    before = tracemalloc.Snapshot.load(str(folder / f"{first}.tracemalloc")).filter_traces(filters)
    after = tracemalloc.Snapshot.load(str(folder / f"{last}.tracemalloc")).filter_traces(filters)
    sites = after.compare_to(before, "traceback")
    types_before = json.loads((folder / f"{first}.types.json").read_text())
    types_after = json.loads((folder / f"{last}.types.json").read_text())
    type_growth = {name: count - types_before.get(name, 0) for name, count in types_after.items()}
    return {
        "traced_before_bytes": sum(stat.size for stat in before.statistics("filename")),
        "traced_after_bytes": sum(stat.size for stat in after.statistics("filename")),
        "sites": [
            {"bytes": stat.size_diff, "blocks": stat.count_diff, "traceback": stat.traceback.format(limit=8)}
            for stat in sites[:TOP]
        ],
        "types": dict(sorted(type_growth.items(), key=lambda item: -item[1])[:TOP]),
    }

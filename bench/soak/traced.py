"""`python -m bench.soak.traced <folder> [server options]`: `python -m chatsite.server` tracing its
Python allocations, for `python -m bench.soak --trace-memory`.

The first SIGUSR2 starts tracing; each one writes the next `<n>.tracemalloc` snapshot and
`<n>.types.json` (live objects by type, as objgraph counts them) into the folder. Tracing from the
end of the warm-up keeps start-up at full speed (tracing every import made it too slow to answer in
time on a loaded machine), and what the last snapshot holds is then what was allocated after the
warm-up and is still alive. The tracing lives here, outside the product: a shipped server pays nothing.
"""

from __future__ import annotations

import collections
import gc
import itertools
import json
import signal
import sys
import tracemalloc
from pathlib import Path

FRAMES = 12  # frames kept per allocation: enough to see which of Parley's calls made it


def dumper(folder: Path):
    numbers = itertools.count()

    def dump(signum: int, frame: object) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)
        number = next(numbers)
        types = collections.Counter(type(item).__qualname__ for item in gc.get_objects())
        (folder / f"{number}.types.json").write_text(json.dumps(dict(types.most_common(400))))
        partial = folder / f"{number}.tracemalloc.part"
        tracemalloc.take_snapshot().dump(str(partial))
        partial.rename(folder / f"{number}.tracemalloc")  # whole, or not there: the soak waits for it

    return dump


def main() -> None:
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGUSR2, dumper(folder))
    sys.argv = [sys.argv[0], *sys.argv[2:]]
    from chatsite import server

    server.main()


if __name__ == "__main__":
    main()

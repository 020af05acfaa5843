"""A CPU profile of a benchmarked process that syscalls do not distort, in collapsed-stack format.

py-spy pauses its target through ptrace to read each sample, and on the benchmark machines (a
Firecracker VM) the pause lands on syscalls: a loop that spends 2% of its time in getpid() was
sampled there 96% of the time (docs/performance.md, "Profiling"). This sampler asks the kernel
for a signal per tick of the process's CPU time (ITIMER_PROF) and records the main
thread's stack when the interpreter handles it, so a sample falls where Python code was running,
and time in a C call or syscall is counted on the line that made it.

Enabled only when PARLEY_CPU_SAMPLES names an output path, for example:
    python -m bench.run --impls parley --n 300 \\
        --parley-env PYTHONPATH=bench/cpu_sampler --parley-env PARLEY_CPU_SAMPLES=/tmp/cpu
Each process writes <path>-<pid>.txt every second: one "frame;frame;... count" line per stack,
which speedscope and flamegraph.pl read as they are.
"""

from __future__ import annotations

import atexit
import collections
import os
import signal
import threading
import time

INTERVAL = 0.001  # seconds of the process's CPU time between samples; the kernel rounds it up to its tick
WRITE_EVERY = 1.0  # seconds of wall time between writes of the file


def _stack(frame) -> str:
    names = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_qualname} ({code.co_filename}:{frame.f_lineno})")
        frame = frame.f_back
    return ";".join(reversed(names))


def _start(path: str) -> None:
    samples: collections.Counter[str] = collections.Counter()

    def sample(signum, frame) -> None:
        samples[_stack(frame)] += 1

    def write() -> None:
        with open(f"{path}.tmp", "w") as out:
            out.writelines(f"{stack} {count}\n" for stack, count in list(samples.items()))
        os.replace(f"{path}.tmp", path)

    def keep_writing() -> None:
        while True:
            time.sleep(WRITE_EVERY)
            write()

    def stop() -> None:  # before the interpreter tears down the handler: a late SIGPROF would kill it
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, signal.SIG_IGN)
        write()

    signal.signal(signal.SIGPROF, sample)
    signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)
    atexit.register(stop)
    threading.Thread(target=keep_writing, name="cpu-sampler", daemon=True).start()


if os.environ.get("PARLEY_CPU_SAMPLES"):
    _start(f"{os.environ['PARLEY_CPU_SAMPLES']}-{os.getpid()}.txt")

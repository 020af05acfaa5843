"""bench/ttft.py: issue 14's verdicts from the steps' results (the steps themselves are
`bench.run`, whose harness tests/bench/test_smoke.py runs for real)."""

from __future__ import annotations

import json

from bench import ttft


def write_steps(out, parley: dict, floor: dict) -> None:
    """Every step's latest.json, with the same row for each N it measures, per implementation."""
    for step in ttft.STEPS:
        sweep = {}
        for impl, values in (("parley", parley), ("floor", floor)):
            if impl in step.impls.split(","):
                sweep[impl] = [{"n": int(n), "lost": 0, "duplicates": 0, **values} for n in step.n.split(",")]
        (out / step.name).mkdir(parents=True)
        (out / step.name / "latest.json").write_text(json.dumps({"sweep": sweep}))


def by_target(out) -> dict[str, bool | None]:
    return {target: met for target, _, met in ttft.verdicts(ttft.Results(out))}


def test_every_target_is_judged_against_the_same_runs_floor(tmp_path):
    parley = {"first_token_p50_ms": 25, "first_token_p99_ms": 700, "latency_p50_ms": 4, "latency_p99_ms": 150}
    write_steps(tmp_path, {**parley, "starts_per_s": 800}, {"first_token_p50_ms": 20, "first_token_p99_ms": 400})
    verdicts = by_target(tmp_path)
    assert verdicts["TTFT p50 at N=1 ≤ the floor's + 10 ms"] is True  # 25 against 20 + 10
    assert verdicts["TTFT p99 at N=300 ≤ twice the floor's, one owner"] is True  # 700 against 800
    assert verdicts["TTFT p99 at N=1,000 ≤ 1,500 ms, many owners"] is True
    assert verdicts["added latency p50 at N=100 ≤ 5 ms, one owner"] is True
    assert verdicts["added latency p99 at N=300 ≤ 100 ms, many owners"] is False
    assert verdicts["starts/s in a burst of 300 ≥ 1,000, many owners"] is False
    assert verdicts["starts/s in a burst of 300 ≥ 500, one owner"] is True
    assert verdicts["nothing lost or duplicated"] is True


def test_a_lost_token_or_a_missing_step_is_reported(tmp_path):
    write_steps(tmp_path, {"first_token_p50_ms": 5, "lost": 3}, {})
    verdicts = by_target(tmp_path)
    assert verdicts["nothing lost or duplicated"] is False
    assert verdicts["TTFT p50 at N=1 ≤ the floor's + 10 ms"] is None  # the floor measured nothing
    assert "**not met**" in ttft.render(ttft.Results(tmp_path))


def test_a_setting_given_for_parley_reaches_every_step_and_the_report(tmp_path):
    for step in ttft.STEPS:
        argv = step.argv(tmp_path, "postgres", ["LLM_FAST_TRANSPORT=1"])
        assert argv[argv.index("--parley-env") + 1] == "LLM_FAST_TRANSPORT=1"
    write_steps(tmp_path, {"first_token_p50_ms": 5}, {"first_token_p50_ms": 5})
    assert "Parley ran with `LLM_FAST_TRANSPORT=1`." in ttft.render(ttft.Results(tmp_path), ["LLM_FAST_TRANSPORT=1"])


def test_several_runs_are_judged_on_their_median_and_show_their_range(tmp_path):
    slow, middle, fast = ({"latency_p99_ms": p99, "lost": lost} for p99, lost in ((180, 0), (90, 0), (60, 1)))
    runs = ttft.run_dirs(tmp_path, 3)
    for out, parley in zip(runs, (slow, middle, fast), strict=True):
        write_steps(out, parley, {"latency_p99_ms": 120})
    verdicts = {target: (measured, met) for target, measured, met in ttft.verdicts(ttft.Results(*runs))}
    measured, met = verdicts["added latency p99 at N=300 ≤ 100 ms, many owners"]
    assert met is True and measured == "90.0 ms (60.0-180.0) (floor 120.0)"  # the median, not the first, last or best
    assert verdicts["nothing lost or duplicated"][1] is False  # a token lost in any run counts
    assert "Every step ran 3 times" in ttft.render(ttft.Results(*runs))
    assert ttft.run_dirs(tmp_path, 1) == [tmp_path]  # one run writes where it always did

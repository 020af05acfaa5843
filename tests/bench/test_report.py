"""bench/report.py: the knee table names each implementation's knee with its first tokens there,
judging a step run more than once on its median."""

from __future__ import annotations

from bench import report


def step(n: int, p99: float, ok: bool = True) -> dict:
    return {
        "n": n,
        "ok": ok,
        "latency_p50_ms": p99 / 4,
        "latency_p99_ms": p99,
        "first_token_p50_ms": n / 10,
        "first_token_p99_ms": n / 5,
    }


def test_the_knee_row_carries_the_first_tokens_of_the_knees_step():
    rows = [step(100, 40.0), step(300, 90.0), step(1000, 400.0)]
    assert report.knee_row("parley", rows) == ["parley", "300", "30.0 / 60.0", "22.5 / 90.0"]


def test_a_sweep_that_never_broke_is_a_lower_bound_and_one_that_never_held_has_no_knee():
    assert report.knee_row("floor", [step(10, 5), step(300, 80)])[1] == "≥300"
    assert report.knee_row("naive", [step(10, 150), step(100, 90, ok=False)]) == ["naive", "none", "-", "-"]


def test_a_repeated_step_is_judged_on_the_median_of_its_runs_not_its_best_one():
    rows = [step(300, 60.0), step(300, 130.0), step(300, 120.0), step(100, 40.0)]
    assert report.knee_row("parley", rows) == ["parley", "100", "10.0 / 20.0", "10.0 / 40.0"]
    rows = [step(300, 60.0), step(300, 130.0), step(300, 90.0)]
    assert report.knee_row("parley", rows) == ["parley", "≥300", "30.0 / 60.0", "22.5 / 90.0"]
    assert report.knee_row("parley", [step(300, 60.0), step(300, 60.0, ok=False)])[1] == "none"

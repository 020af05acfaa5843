"""Issue 12's budget verdicts: absolute limits on the working tree, ratios to the baseline."""

from __future__ import annotations

import pytest

from bench.budget import evaluate

BASE = "parley@abc1234"


def step(impl: str, n: int = 300, *, ok: bool = True, cpu: float = 0.1, p99: float = 60.0) -> dict:
    return {
        "impl": impl,
        "n": n,
        "processes": 1,
        "ok": ok,
        "tokens_delivered": 30000 if ok else 29990,
        "tokens_expected": 30000,
        "latency_p99_ms": p99,
        "cpu_per_1k_tokens": cpu,
        "first_token_p50_ms": 50.0,
        "first_token_p99_ms": 300.0,
        "bottlenecks": [],
    }


def idle_step(impl: str, kb: float, ok: bool = True) -> dict:
    return {"impl": impl, "n": 10000, "ok": ok, "rss_per_conn_kb": kb}


def results(new: dict | None, old: dict | None, idle: list[dict] = ()) -> dict:
    sweep = {"parley": [new] if new else [], BASE: [old] if old else []}
    workload = {"tokens": 100, "tps": 50.0, "ttft": 0.2, "ramp": 1.0}
    return {"meta": {"workload": workload, "database": "postgres"}, "sweep": sweep, "idle": list(idle)}


def verdicts(budget: dict) -> dict[str, str]:
    return {row["budget"].split(" ≤")[0]: row["verdict"] for row in budget["rows"]}


@pytest.mark.parametrize(("cpu", "verdict"), [(0.119, "met"), (0.121, "not met")])
def test_cpu_per_token_may_rise_at_most_twenty_percent(cpu: float, verdict: str) -> None:
    budget = evaluate(results(step("parley", cpu=cpu), step(BASE, cpu=0.1)), BASE, 300)

    assert verdicts(budget)["CPU s per 1k tokens"] == verdict
    assert budget["rows"][2]["ratio"] == pytest.approx(cpu / 0.1)


@pytest.mark.parametrize(("kb", "verdict"), [(34.4, "met"), (34.6, "not met")])
def test_idle_memory_per_socket_may_rise_at_most_fifteen_percent(kb: float, verdict: str) -> None:
    idle = [idle_step("parley", kb), idle_step(BASE, 30.0)]

    budget = evaluate(results(step("parley"), step(BASE), idle), BASE, 300)

    assert verdicts(budget)["idle RSS KB per socket at 10000"] == verdict


def test_latency_is_an_absolute_limit_whatever_the_baseline_did() -> None:
    budget = evaluate(results(step("parley", p99=101.0), step(BASE, p99=150.0)), BASE, 300)

    assert verdicts(budget)["p99 added latency"] == "not met"


def test_a_lost_token_fails_delivery_and_the_cpu_ratio_however_cheap() -> None:
    budget = evaluate(results(step("parley", ok=False, cpu=0.05), step(BASE, cpu=0.1)), BASE, 300)

    assert verdicts(budget)["every token delivered"] == "not met"
    assert budget["rows"][0]["current"] == "29990/30000 FAIL"
    assert verdicts(budget)["CPU s per 1k tokens"] == "not met"


def test_a_step_not_run_at_the_budget_n_is_not_measured() -> None:
    budget = evaluate(results(step("parley", n=100), step(BASE, n=100)), BASE, 300)

    assert set(verdicts(budget).values()) <= {"not measured", "-"}


def test_a_workload_other_than_the_issues_is_named() -> None:
    data = results(step("parley"), step(BASE))
    data["meta"]["workload"]["tokens"] = 200

    assert evaluate(data, BASE, 300)["workload_differs"] == ["tokens 200 (the issue: 100)"]
    assert evaluate(results(step("parley"), step(BASE)), BASE, 300)["workload_differs"] == []


def test_repeated_runs_give_medians_and_the_median_of_same_time_ratios() -> None:
    # The machine slows down between pairs; each pair is run close together, so its ratio holds.
    new = [step("parley", cpu=c) for c in (0.11, 0.26, 0.15)]
    old = [step(BASE, cpu=c) for c in (0.10, 0.20, 0.10)]
    data = results(None, None)
    data["sweep"] = {"parley": new, BASE: old}

    cpu = evaluate(data, BASE, 300)["rows"][2]

    assert (cpu["current"], cpu["baseline"]) == (0.15, 0.10)
    assert cpu["ratio"] == pytest.approx(1.3)  # of 1.1, 1.3 and 1.5
    assert cpu["ratio_range"] == pytest.approx([1.1, 1.5])
    assert cpu["verdict"] == "not met"
    assert evaluate(data, BASE, 300)["runs"] == {"parley": 3, BASE: 3}

"""The benchmark's command line: presets, explicit options over them, and what --baseline adds."""

from __future__ import annotations

import pytest

from bench.run import parse


def test_the_issue12_preset_is_the_issues_workload_and_options_still_win() -> None:
    args = parse(["--preset", "issue12"])
    assert (args.impls, args.tokens, args.tps, args.idle_n, args.scale_n) == (["parley"], 100, 50.0, 10000, 0)
    assert args.n[-1] == 300 and args.thread_n == [] and args.repeat == 3

    assert parse(["--preset", "issue12", "--tokens", "200", "--idle-n", "2000"]).tokens == 200


def test_without_a_preset_the_mode_and_the_old_defaults_apply() -> None:
    args = parse([])
    assert (args.tokens, args.tps, args.repeat) == (200, 50.0, 1)
    assert args.impls == ["parley", "naive", "threads", "floor"]
    assert parse(["--full"]).idle_n == 10000


def test_a_baseline_sweeps_parley_first_and_adds_the_budget_n() -> None:
    args = parse(["--impls", "floor", "--n", "10,100", "--baseline", "HEAD", "--budget-n", "50"])

    assert args.impls == ["parley", "floor"]
    assert args.n == [10, 50, 100]


def test_an_unknown_implementation_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse(["--impls", "parley,parley@abc"])

"""One per-host budget for the whole job (issue 16, item 1): the plan (lanes, groups, shards) and the shares
downloaders take, in plain Python; `wit build` with 1, 2 and 4 Beam workers and `wit download` with 1, 2 and
4 processes against several loopback hosts that record what they see.

The hosts are 127.0.0.2..5 (HostsWeb), one of them holding most of the rows. What must hold: no host ever has
more requests in flight than --per-host-concurrency, and none is sent more than --per-host-rate requests per
second. The server timestamps a request when its event loop gets to it, on a 2-core machine shared with up to
4 worker processes, so starts one slot apart can be stamped closer together: over a whole run the rate must
be within the budget (2%), and in any one second within a quarter of it. Without the shared budget, 4 workers
would bring 4 budgets. No wall-clock thresholds.
"""
import collections
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.download import plan
from transforms.download.budget import HostShare, Pacer
from wit_pipeline.testbed.hosts import HostsWeb

BUDGET, RATE = 4, 80
ROWS = (160, 60, 30, 30)  # per host: the first one is large (4 lanes at shards of 10), the second 2, then 1


def test_shares_of_a_host_never_add_up_past_its_budget():
    for of in range(1, 9):
        for budget in range(of, 20):  # lanes are never more than the budget
            assert sum(HostShare((lane,), of).concurrency(budget) for lane in range(of)) <= budget
            assert all(HostShare((lane,), of).concurrency(budget) >= 1 for lane in range(of))
    with pytest.raises(ValueError):
        HostShare((3,), 3)


def test_pacers_of_different_lanes_never_share_a_slot():
    of, rate = 3, 10.0
    now = [100.0]
    pacers = [Pacer(rate, HostShare((lane,), of), clock=lambda: now[0]) for lane in range(of)]
    both = Pacer(rate, HostShare((0, 2), of), clock=lambda: now[0])
    slots = collections.Counter()
    for pacer in pacers:
        taken = []
        for _ in range(20):
            pacer.last = pacer.next_slot(now[0])
            taken.append(pacer.last)
        assert all(slot % of == pacer.share.lanes[0] for slot in taken)
        assert taken == sorted(set(taken)) and taken[0] >= 100.0 * rate
        slots.update(taken)
    assert max(slots.values()) == 1  # every slot of the grid has at most one request start
    taken = []
    for _ in range(6):
        both.last = both.next_slot(now[0])
        taken.append(both.last % of)
    assert set(taken) == {0, 2}


def rows_for(web: HostsWeb, rows=ROWS):
    out = []
    for host, n in enumerate(rows):
        for i in range(n):
            out.append({"url": web.url(host, f"/img/{host}_{i}.jpg"), "caption": f"a red bicycle by the road {i}"})
    random.Random(0).shuffle(out)
    return out


def test_plan_lanes_groups_and_shards():
    web = HostsWeb(4)  # not started: only its URLs are used
    web.hosts = [f"127.0.0.{i + 2}:8000" for i in range(4)]
    from transforms.candidate import candidate
    rows = [candidate(r["url"], r["caption"]) for r in rows_for(web)]
    shard_size, groups = 12, plan.n_groups(len(rows), 12)
    counts = collections.Counter(plan.host_of(r["url"]) for r in rows)
    big = {h: n for h, n in counts.items() if n > plan.lane_rows(shard_size)}
    planned = collections.defaultdict(list)
    for row in rows:
        group, with_lane = plan.plan_row(plan.host_of(row["url"]), row, big, groups, shard_size, BUDGET)
        planned[group].append(with_lane)
    lanes = {(plan.host_of(r["url"]), r[plan.LANE], r[plan.LANES]) for g in planned.values() for r in g}
    assert {h: of for h, _, of in lanes} == {"127.0.0.2": 4, "127.0.0.3": 2, "127.0.0.4": 1, "127.0.0.5": 1}
    where = collections.defaultdict(set)  # every lane lies in exactly one group
    for g, group_rows in planned.items():
        for r in group_rows:
            where[(plan.host_of(r["url"]), r[plan.LANE])].add(g)
    assert all(len(gs) == 1 for gs in where.values())
    offsets = plan.shard_offsets([(g, len(rs)) for g, rs in planned.items()], shard_size)
    shards = [s for g, rs in sorted(planned.items()) for s in plan.split_group(g, rs, offsets[g], shard_size)]
    assert [i for i, _ in shards] == list(range(len(shards)))  # shard ids run from 0, no gaps
    assert sum(len(rs) for _, rs in shards) == len(rows)
    for g, group_rows in planned.items():
        shares = plan.shares_of(group_rows)
        assert all(share.of == {"127.0.0.2": 4, "127.0.0.3": 2}.get(host, 1) for host, share in shares.items())


@pytest.fixture(scope="module")
def hosts():
    with HostsWeb(4, delay=0.05) as web:
        yield web


def check(web: HostsWeb):
    stats = web.stats()
    assert set(stats) == set(web.hosts)
    for host, seen in stats.items():
        assert seen["max_in_flight"] <= BUDGET, (host, seen)
        assert seen["max_in_any_second"] <= 1.25 * RATE, (host, seen)
        if seen["requests"] > RATE:
            assert (seen["requests"] - 1) / (seen["last"] - seen["first"]) <= 1.02 * RATE, (host, seen)
    return stats


def manifest(web, tmp_path):
    path = tmp_path / "manifest.parquet"
    rows = rows_for(web)
    pq.write_table(pa.table({"url": [r["url"] for r in rows], "caption": [r["caption"] for r in rows]}), path)
    return path


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow), 4])
def test_build_keeps_the_budget_whatever_the_workers(hosts, tmp_path, workers):
    from wit_pipeline.pipeline import run
    hosts.reset()
    (tmp_path / "queries.json").write_text(json.dumps(["bicycle"]))
    beam = ["--runner=FnApiRunner"] if workers == 1 else [
        "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    summary = run(["--input", str(manifest(hosts, tmp_path)), "--input-kind", "manifest",
                   "--queries", str(tmp_path / "queries.json"), "--output", str(tmp_path / "out"),
                   "--shard-size", "10", "--image-size", "32", "--allow-network", "127.0.0.0/8",
                   "--per-host-concurrency", str(BUDGET), "--per-host-rate", str(RATE), *beam])
    assert summary["stages"]["download"]["success"] == sum(ROWS)  # the skewed host set finishes
    stats = check(hosts)
    if workers == 1:  # the cost of a static plan: one worker fetches the large host's 4 lanes in turn, 1 each
        assert stats[hosts.hosts[0]]["max_in_flight"] == 1


@pytest.mark.parametrize("processes", [1, pytest.param(2, marks=pytest.mark.slow), 4])
def test_download_keeps_the_budget_whatever_the_processes(hosts, tmp_path, processes):
    from wit_pipeline.cli import main
    hosts.reset()
    assert main(["download", str(manifest(hosts, tmp_path)), "--output", str(tmp_path / "out"), "--no-progress",
                 "--image-size", "32", "--shard-size", "10", "--allow-network", "127.0.0.0/8",
                 "--processes", str(processes), "--per-host-concurrency", str(BUDGET),
                 "--per-host-rate", str(RATE)]) == 0
    sizes = json.loads((tmp_path / "out" / "sizes.json").read_text())
    assert sum(sizes.values()) == sum(ROWS)
    check(hosts)


def test_download_refuses_more_processes_than_the_budget(tmp_path, capsys):
    from wit_pipeline.cli import main
    (tmp_path / "m.csv").write_text("url,caption\nhttp://127.0.0.2/a.jpg,a\n")
    assert main(["download", str(tmp_path / "m.csv"), "--output", str(tmp_path / "out"), "--processes", "5",
                 "--per-host-concurrency", "4"]) != 0
    assert "per-host budget" in capsys.readouterr().err


def test_hand_edited_lanes_are_folded_into_the_host_s_lanes():
    rows = [{"url": "http://127.0.0.2/a.jpg", plan.LANE: 9, plan.LANES: 4},
            {"url": "http://127.0.0.2/b.jpg", plan.LANE: -1, plan.LANES: 4},
            {"url": "http://127.0.0.3/c.jpg", plan.LANE: 3, plan.LANES: 0}]
    assert plan.shares_of(rows) == {"127.0.0.2": HostShare((1, 3), 4), "127.0.0.3": HostShare((0,), 1)}


def test_rates_and_pilots_out_of_range_are_refused():
    from transforms.balance.core import BalanceOptions
    from transforms.download.options import FetchOptions
    for rate in (-1, 0.001):
        with pytest.raises(ValueError, match="per_host_rate"):
            FetchOptions(per_host_rate=rate)
    assert FetchOptions(per_host_rate=0).per_host_rate == 0
    with pytest.raises(ValueError, match="pilot_sample"):
        BalanceOptions(pilot_sample=10**9)

"""The bench's scripts and payloads work: a tiny run against modelserve alone (not the peers)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bench import latency, load, protocols, report, run, servers
from bench.workloads import WORKLOADS

# `make unit` installs wrk and h2load (nghttp2-client) first; without them these tests fail.


def options(server: servers.Server) -> run.Options:
    return run.Options([server], [WORKLOADS["W1"]], [1], duration=1, warmup=1, reps=1)


def test_modelserve_rows_are_measured() -> None:
    cells = run.run(options(servers.MODELSERVE))[1]
    assert [c.protocol for c in cells] == ["seldon-rest", "seldon-grpc", "v2-rest", "v2-grpc", "v1-rest",
                                           "v2-rest-binary", "v2-grpc-raw"]
    for cell in cells:
        assert not cell.problems, cell.problems
        assert cell.median("rps") > 0 and cell.median("p99_ms") >= cell.median("p50_ms") > 0


def test_wrong_answers_are_flagged_not_reported() -> None:
    cells = run.run(options(servers.modelserve_with(Path(__file__).parent / "wrong_models")))[1]
    assert len(cells) == len(servers.MODELSERVE.protocols)
    for cell in cells:
        assert cell.problems and "wrong answer" in cell.problems[0]
        assert cell.runs == []


@pytest.mark.parametrize("protocol", sorted(protocols.PROTOCOLS))
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_payloads_are_checked(protocol: str, workload: str) -> None:
    """Each protocol's check accepts the right answer and rejects another (by the Seldon encoders)."""
    w, proto = WORKLOADS[workload], protocols.PROTOCOLS[protocol]
    assert proto.request(w)
    if protocol == "seldon-rest":
        assert proto.check(w, protocols.seldon_rest_answer(w)) is None
        assert proto.check(w, b'{"data": {"ndarray": [[0.5]]}}') is not None
    if protocol == "seldon-grpc":
        assert proto.check(w, protocols.seldon_grpc_answer(w)) is None
    assert proto.check(w, b"garbage") is not None


def test_the_batching_workload_is_checked() -> None:
    """W4 (bench/batching.py, not one of the peers' workloads): its answer is the forest's predict_proba."""
    from bench.workloads import FOREST

    answer = FOREST.expected()
    assert len(answer) == 3 and abs(sum(answer) - 1) < 1e-9
    proto = protocols.PROTOCOLS["seldon-rest"]
    assert proto.check(FOREST, protocols.seldon_rest_answer(FOREST)) is None
    assert proto.check(FOREST, b'{"data": {"ndarray": [[1, 0, 0]]}}') is not None


def test_upi_messages_round_trip() -> None:
    """The hand-written UPI descriptor: the request carries the row as one table row; an answer decodes."""
    from bench import upi

    request = upi.PredictValuesRequest.FromString(upi.request([1.5, -2.0]))
    table = request.prediction_table
    assert [c.name for c in table.columns] == ["f0", "f1"] and [c.type for c in table.columns] == [1, 1]
    assert [[v.double_value for v in row.values] for row in table.rows] == [[1.5, -2.0]]
    assert upi.values(upi.answer([1.5, -2.0])) == [1.5, -2.0]
    proto = protocols.PROTOCOLS["merlin-upi"]
    w = WORKLOADS["W1"]
    assert proto.check(w, upi.answer(list(w.row))) is None
    assert proto.check(w, upi.answer([0.0])) is not None


def test_a_server_that_cannot_start_is_a_failed_check(tmp_path: Path) -> None:
    """`modelserve serve --model-dir` on an empty directory (or before the option exists): a FLAGGED row, no crash."""
    def command(x: servers.Launch) -> servers.Command:
        return ([str(x.bin / "python"), "-m", "modelserve", "serve", "--model-dir", str(tmp_path)], x.scratch,
                {"CARAML_HTTP_PORT": str(x.http), "CARAML_GRPC_PORT": str(x.grpc),
                 "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(x.metrics)})

    server = servers.Server("modelserve --model-dir (HTTP_JSON)", ("merlin-http",), command, ours=True)
    cells = run.run(options(server))[1]
    assert len(cells) == 1 and cells[0].runs == []
    assert cells[0].problems and cells[0].problems[0].startswith("check: ")


def test_servers_are_selected_by_name_or_prefix() -> None:
    names = [s.name for s in servers.select("merlin,modelserve")]
    assert names == ["merlin-pyfunc-server 0.50.0 (HTTP_JSON)", "merlin-pyfunc-server 0.50.0 (UPI_V1)", "modelserve"]
    with pytest.raises(SystemExit):
        servers.select("nothing-like-this")


@pytest.mark.parametrize("rate", [20, 97, 1000, 3333, 13500])
def test_pacing_spreads_the_connections_evenly(rate: float) -> None:
    """The open-loop schedule: enough connections, none idle over 0.5 s, phases no more than 2x the ideal gap apart."""
    connections, period = load.pacing(rate)
    interval = connections / rate * 1000
    assert 4 <= connections <= 96 and interval <= 500 + 1e-9 and period >= 1
    phases = sorted((k * period) % interval for k in range(connections))
    gaps = [b - a for a, b in itertools.pairwise(phases)] + [interval - phases[-1] + phases[0]]
    assert max(gaps) <= 2 * interval / connections


def test_latency_rows_at_a_fixed_rate() -> None:
    """--latency: modelserve's REST and gRPC rows get open-loop runs at 50 % and 90 % of their maximum."""
    server = servers.Server("modelserve", ("seldon-rest", "seldon-grpc"), servers.MODELSERVE.command, ours=True)
    opts = options(server)
    opts.latency = True
    cells = run.run(opts)[1]
    for cell in cells:
        assert not cell.problems, cell.problems
        assert sorted(cell.paced) == [0.5, 0.9]
        for share, runs in cell.paced.items():
            (paced,) = runs
            assert paced.offered == pytest.approx(share * cell.median("rps"))
            assert paced.connections >= 4 and paced.p99_ms >= paced.p50_ms > 0
            if not paced.problems:  # a held rate: what was sent is what was asked
                assert paced.rps == pytest.approx(paced.offered, rel=0.1)
    text = "\n".join(latency.table(cells))
    assert "| W1 | modelserve | seldon-rest |" in text and "| W1 | modelserve | seldon-grpc |" in text


def test_the_summary_compares_with_the_best_peer_and_the_ceiling() -> None:
    from bench.load import Run
    from bench.run import Cell

    w = WORKLOADS["W1"]
    by_name = {s.name: s for s in servers.SERVERS.values()}

    def cell(name: str, protocol: str, rps: float) -> Cell:
        return Cell(by_name[name], protocol, w, runs=[Run(rps, 1.0, 2.0)])

    cells = [cell("modelserve", "seldon-rest", 9000), cell("seldon-core 1.19.0", "seldon-rest", 1000),
             cell("modelserve without built-in metrics", "seldon-rest", 9500),  # a variant, not a peer
             cell("kserve 0.21.0", "v1-rest", 3000), cell("kserve 0.21.0", "v2-grpc", 5000),
             cell("ceiling: bare ASGI on uvicorn", "seldon-rest", 12000)]
    (row,) = report.summary(cells)[2:]
    assert "kserve 0.21.0 v1-rest 3,000 | 3.00x" in row and "ceiling: bare ASGI on uvicorn 12,000 | 75% |" in row


def test_binary_v2_bodies_reach_the_server_intact() -> None:
    """V2 REST with the binary extension: wrk sends the raw doubles of W3 (bytes such as \\r included) unchanged."""
    server = servers.Server("modelserve", ("v2-rest-binary",), servers.MODELSERVE.command, ours=True)
    cells = run.run(run.Options([server], [WORKLOADS["W3"]], [1], duration=1, warmup=1, reps=1))[1]
    (cell,) = cells
    assert not cell.problems, cell.problems
    assert cell.median("rps") > 0
    assert b"\r" in protocols.PROTOCOLS["v2-rest-binary"].request(WORKLOADS["W3"])


def test_payload_records_and_table() -> None:
    """bench/payload.py: the V2 binary row is added beside V2 JSON; a failed point is FLAGGED in the table."""
    from bench import payload
    from bench.load import Run
    from bench.run import Cell
    from bench.workloads import sized

    assert payload.with_binary(servers.MODELSERVE) is servers.MODELSERVE  # its binary rows are its own
    assert payload.with_binary(servers.SERVERS["kserve 0.21.0"]).protocols == (
        "v1-rest", "v2-rest", "v2-rest-binary", "v2-grpc")
    small, big = sized(4), sized(1000)
    assert len(big.row) == 1000 and big.timeout > small.timeout
    cells = [Cell(servers.MODELSERVE, "v1-rest", small, runs=[Run(9000.0, 1.0, 2.0)]),
             Cell(servers.MODELSERVE, "v1-rest", big, problems=["check: boom"])]
    records = payload.points(cells)
    assert [r["rps"] for r in records] == [9000.0, None]
    assert payload.table(records, [4, 1000])[2] == "| modelserve | v1-rest | 9,000 | FLAGGED |"


def test_startup_is_timed_to_health_and_first_answer() -> None:
    """bench/startup.py: modelserve on the iris example is timed; a server that cannot start is its row's problem."""
    from bench import startup

    def broken(x: servers.Launch, kind: str) -> servers.Command:
        return [str(x.bin / "python"), "-c", "raise SystemExit(3)"], x.scratch, {}

    failing = startup.Starter("broken", None, broken, lambda w: "/health/ping", "seldon-rest")
    ok, bad = startup.run([startup.STARTERS["modelserve"], failing], 1, kinds=("iris",))
    assert ok.kind == "iris" and len(ok.starts) == 1 and ok.starts[0].problem is None
    ready, answer = ok.median("ready_s"), ok.median("answer_s")
    assert ready is not None and answer is not None and 0 < ready <= answer < 60
    assert bad.median("ready_s") is None and "exited with 3" in (bad.starts[0].problem or "")
    assert "| iris | modelserve |" in "\n".join(startup.table([ok, bad]))


def test_a_server_that_cannot_be_launched_is_flagged() -> None:
    """A peer whose venv or model cannot be made: its rows say why, the others are measured."""
    def unlaunchable(x: servers.Launch) -> servers.Command:
        raise RuntimeError("no such venv")

    broken = servers.Server("broken peer", ("seldon-rest",), unlaunchable)
    fine = servers.Server("modelserve", ("seldon-rest",), servers.MODELSERVE.command, ours=True)
    cells = run.run(run.Options([broken, fine], [WORKLOADS["W1"]], [1], duration=1, warmup=1, reps=1))[1]
    assert cells[0].problems == ["not launched: RuntimeError: no such venv"] and not cells[0].runs
    assert not cells[1].problems and cells[1].runs

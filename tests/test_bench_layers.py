"""``bench/`` imports one way (issue 24 item 8): the driver on top, then the parts, then
what they share, with no circle (``report`` and ``sweep`` imported each other). Checked with
grimp, the graph library under import-linter, so that a new import that closes a loop fails
here with the modules named."""

from __future__ import annotations

import grimp

#: Top to bottom; modules of one layer do not import each other.
LAYERS = (
    grimp.Layer("bench", "readme", "soak"),
    grimp.Layer("app", "sweep"),
    grimp.Layer("processes", "baselines"),
    grimp.Layer("phases"),
    grimp.Layer("bulk", "validation"),
    grimp.Layer("report", "db", "results"),
    grimp.Layer("common"),
)


def test_bench_imports_one_way() -> None:
    graph = grimp.build_graph("bench")
    problems = graph.find_illegal_dependencies_for_layers(layers=LAYERS, containers={"bench"})
    assert not problems, sorted(
        f"{d.importer} -> {d.imported}: {[r.chains for r in d.routes]}" for d in problems
    )


def test_every_module_has_a_layer() -> None:
    graph = grimp.build_graph("bench")
    placed = {f"bench.{tail}" for layer in LAYERS for tail in layer.module_tails}
    settings = {
        "bench",
        "bench.settings",
        "bench.rq_settings",
        "bench.soak_settings",
        "bench.urls",
    }
    assert graph.modules - placed - settings == set()

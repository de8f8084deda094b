"""Every monitoring statistic of the catalogue reaches the plots, the canvas tint and its legend
by itself: nothing in the designer lists them."""
import pytest

from designer.canvas.live_legend import LiveLegend
from designer.live_stats import LIVE_STATS, format_stat
from designer.plots import GradientPlot, NodePlots
from designer.run_data import RunRecord
from runtime.training import events as ev
from runtime.training.statistics import HISTOGRAMS, STATISTICS, StatSpec

PLOTTED = [s for s in STATISTICS.values() if s.per_node and s.group is not None]


def monitored_run() -> RunRecord:
    """A run whose one monitor sample has every statistic (node and tensor level)."""
    bins = [1.0, 2.0, 3.0, 4.0]
    tensor = {s.key: 0.2 for s in STATISTICS.values() if s.source != "activation"}
    tensor.update({h.key: bins for h in HISTOGRAMS.values() if h.source != "activation"})
    node = {s.key: 0.3 for s in PLOTTED}
    node.update({s.key: -0.5 if s.key.endswith("min") else 0.5 for s in STATISTICS.values()
                 if s.source == "activation" and s.group is None})
    node.update({h.key: bins for h in HISTOGRAMS.values() if h.source == "activation"})
    node["params"] = {"weight": tensor}
    document = {"nodes": [{"id": "x", "type": "Input"}, {"id": "fc", "type": "Linear"}]}
    run = RunRecord(1, document)
    run.apply([ev.FitStart("t", "spirals", "cpu", 1, 1, 1, 8, 8, 0, 10, 10, "classification", 2,
                           0.1, False),
               ev.Monitor(1, 1, {"fc": node})])
    return run


@pytest.mark.parametrize("stat", PLOTTED, ids=lambda s: s.key)
def test_every_plotted_statistic_has_a_curve_with_its_values(qtbot, stat: StatSpec):
    plots = NodePlots()
    gradients = GradientPlot()
    for widget in [*plots.stat_plots.values(), *plots.histograms.values(), gradients]:
        qtbot.addWidget(widget)
    run = monitored_run()
    plots.set_node("fc")
    plots.show_run(run)
    gradients.show_run(run)
    if stat.group == "gradient":
        curve = gradients.curves["fc"]
    else:
        curve = plots.stat_plots[stat.group].curves[stat.key]
    x, y = curve.xData, curve.yData  # as fed (getData is in log10 units on a log axis)
    assert len(x) == 1 and y[0] == pytest.approx(0.3)


def test_every_histogram_is_drawn(qtbot):
    plots = NodePlots()
    for widget in plots.histograms.values():
        qtbot.addWidget(widget)
    plots.set_node("fc")
    plots.show_run(monitored_run())
    for key, plot in plots.histograms.items():
        x, y = plot.bars.getData()
        assert list(y) == [1.0, 2.0, 3.0, 4.0], key
        assert x[0] == pytest.approx(-0.5 if key == "act_hist" else 0.2), key


def test_every_statistic_with_a_scale_tints_the_canvas_and_is_in_the_legend(qtbot):
    with_scale = [s.key for s in STATISTICS.values() if s.scale]
    assert sorted(LIVE_STATS) == sorted(with_scale) and "weight_std" in LIVE_STATS
    legend = LiveLegend()
    qtbot.addWidget(legend)
    assert [legend.chooser.itemData(i) for i in range(legend.chooser.count())] == list(LIVE_STATS)
    for key, stat in LIVE_STATS.items():
        low, high = stat.stops[0], stat.stops[-1]
        assert stat.color(low[0] / 10 if stat.log else low[0]) == low[1], key
        assert stat.color(high[0] * 10 if stat.log else high[0]) == high[1], key


def test_shares_read_as_percentages():
    assert format_stat(STATISTICS["dead_fraction"], 0.25) == "25%"
    assert format_stat(STATISTICS["grad_norm"], 2.5e-7) == "2.5e-07"
    assert format_stat(STATISTICS["act_std"], None) == "–"

"""Every cell is a choice in the window under a readable name, and PyTorch's GRU (cell "gru_torch")
shows its own gates (r, z) in the inputs view."""

import pytest
from PySide6.QtWidgets import QApplication

from rnnviz.gui.panels.why_inputs import InputsView
from rnnviz.insight.live import live_insight
from rnnviz.training.config import CELL_TITLES, CELLS, Config
from rnnviz.training.trainer import Trainer


def test_the_cell_combo_offers_every_cell_by_a_readable_name(make_window):
    window = make_window()
    controls = window.controls
    cell = controls._widgets["cell"]
    assert [cell.itemData(i) for i in range(cell.count())] == list(CELLS)
    labels = {cell.itemData(i): cell.itemText(i) for i in range(cell.count())}
    assert all(labels[c] != c for c in CELLS), labels            # no raw key shown
    assert labels["gru_torch"] == "GRU (PyTorch)" and labels["gru"] == "GRU"
    assert set(CELL_TITLES) == set(CELLS)
    cell.setCurrentIndex(cell.findData("gru_torch"))
    cell.activated.emit(cell.currentIndex())
    QApplication.processEvents()
    assert not controls._widgets["activation"].isEnabled()
    assert "PyTorch GRU" in controls._widgets["activation"].toolTip()
    assert not controls._widgets["forget_bias"].isEnabled()
    window._reset_edit_timer.stop()


@pytest.fixture
def view(qtbot):
    w = InputsView()
    qtbot.addWidget(w)
    w.resize(520, 650)
    w.show()
    return w


def test_the_pytorch_gru_shows_its_gates_in_the_inputs_view(view):
    trainer = Trainer(Config(task="charlm", cell="gru_torch", hidden=6, probe="the cat"))
    with trainer.running():
        for _ in range(3):
            trainer.step()
    li = live_insight(trainer)
    view.show_insight(li)
    states = [view.state_box.itemData(i) for i in range(view.state_box.count())]
    assert states == list(li.states) == ["a", "r", "z", "cand"]
    assert view.state_box.itemText(states.index("z")) == "update gate Γz"
    view.select_unit(2, "z")
    assert view.unit_levels == (0.0, 1.0)                             # a gate: 0 to 1
    assert "PyTorch GRU" in view.status.text()

"""The README's main job (`./camlab.sh demo` = `python -m camlab demo`) runs offline and writes its figure."""
import pytest

from camlab import demo

pytestmark = pytest.mark.slow


def test_demo_prints_scores_and_writes_the_figure(tmp_path, capsys):
    figure = tmp_path / "figures" / "demo.png"
    assert demo.main(["--max-images", "16", "--examples", "2", "--figure", str(figure)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["cam"], ["grad_cam"])}
    assert set(rows) == {"cam", "grad_cam"}
    for cells in rows.values():
        mean_iou, loc = float(cells[1]), float(cells[2])
        assert 0.0 <= mean_iou <= 1.0 and 0.0 <= loc <= 1.0
    assert f"Figure written to {figure}" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    photos = figure.with_name("demo_photos.png")  # the real-photo figure beside it
    assert f"Photo figure written to {photos}" in out and photos.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    iou = float(next(line for line in out.splitlines() if "hand-drawn box, 4 photos" in line).split()[-1])
    assert 0.0 <= iou <= 1.0


def test_demo_help_names_its_options(capsys):
    with pytest.raises(SystemExit) as stop:
        demo.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for option in ("--train", "--max-images", "--figure"):
        assert option in out

"""Outputs that stay the user's (issue 17, class 3): bayesmeta.output_folder, and the --out / --overwrite rules of
`bayesmeta run`, `review` and `batch` (a non-empty folder refused without --overwrite; then only the package's
own outputs replaced, a user's file never removed; staged writes; SIGTERM; symbolic links; non-UTF-8 names)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bayesmeta import output_folder as of
from bayesmeta.cli import app
from bayesmeta.errors import DataError

DATA = Path(__file__).parent / "data"
REVIEW = DATA / "revman" / "review.rm5"
runner = CliRunner()


@pytest.fixture(scope="module")
def small_review(tmp_path_factory):
    """The fixture review cut to its first analysis (1.1, the Fleiss 1993 aspirin trials), for speed."""
    import xml.etree.ElementTree as ET

    from bayesmeta.reviews.rm5 import parse_root

    root = parse_root(REVIEW.read_bytes(), REVIEW.name)
    data = root.find("ANALYSES_AND_DATA")
    for comp in data.findall("COMPARISON")[1:]:
        data.remove(comp)
    first = data.find("COMPARISON")
    for outcome in [o for o in first if o.tag.endswith("_OUTCOME")][1:]:
        first.remove(outcome)
    path = tmp_path_factory.mktemp("review") / "small.rm5"
    path.write_bytes(ET.tostring(root, encoding="utf-8"))
    return path


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def write(stage, files):
    for rel, text in files.items():
        path = stage / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_new_folder_then_overwrite_keeps_the_users_files(tmp_path):
    out = tmp_path / "a" / "out"
    with of.OutputFolder(out) as stage:
        write(stage, {"index.html": "1", "1.1/report.html": "r"})
    assert (out / "1.1/report.html").read_text() == "r" and (out / of.MANIFEST).exists()
    (out / "1.1" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="exists and is not empty"):
        of.OutputFolder(out)
    with of.OutputFolder(out, overwrite=True) as stage:
        write(stage, {"index.html": "2", "1.2/report.html": "r2"})
    assert (out / "1.1/notes.txt").read_text() == "mine"  # the user's file stays, in its folder
    assert not (out / "1.1/report.html").exists() and (out / "1.2/report.html").read_text() == "r2"
    assert (out / "index.html").read_text() == "2"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["out"]  # no staging folder left


def test_failure_leaves_nothing_behind(tmp_path):
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError):
        with of.OutputFolder(out) as stage:
            write(stage, {"x": "1"})
            raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()


def test_an_output_name_taken_by_a_users_file_changes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("user")
    with pytest.raises(DataError, match="not written by bayesmeta"):
        with of.OutputFolder(out, overwrite=True) as stage:
            write(stage, {"index.html": "ours", "other.csv": "x"})
    assert (out / "index.html").read_text() == "user" and not (out / "other.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_symbolic_link_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(DataError, match="symbolic link"):
        of.OutputFolder(tmp_path / "link")
    with pytest.raises(DataError, match="symbolic link"):
        of.write_file(tmp_path / "link", lambda p: p.write_text("x"))


def test_non_utf8_names(tmp_path):
    out = Path(os.fsdecode(bytes(tmp_path) + b"/r\xe9sultats"))
    with of.OutputFolder(out) as stage:
        write(stage, {"index.html": "1"})
    assert (out / "index.html").exists()
    shown = of.display_path(out)
    assert "\ufffd" in shown and shown.encode("utf-8")


def test_sigterm_removes_the_staging_folder(tmp_path):
    code = (f"import time\nfrom bayesmeta import output_folder as of\nwith of.OutputFolder({str(tmp_path / 'out')!r}) "
            "as st:\n    (st / 'x').write_text('1')\n    print('ready', flush=True)\n    time.sleep(30)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(of.__file__).parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    assert proc.returncode == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_write_file_is_atomic_and_refuses_an_existing_file(tmp_path):
    target = tmp_path / "o.csv"
    of.write_file(target, lambda p: p.write_text("a"))
    with pytest.raises(DataError, match="exists"):
        of.write_file(target, lambda p: p.write_text("b"))
    with pytest.raises(RuntimeError):
        of.write_file(target, lambda p: (p.write_text("half"), (_ for _ in ()).throw(RuntimeError("x"))), True)
    of.write_file(target, lambda p: p.write_text("b"), overwrite=True)
    assert target.read_text() == "b" and sorted(x.name for x in tmp_path.iterdir()) == ["o.csv"]


def test_review_keeps_a_users_notes(tmp_path, small_review):
    out = tmp_path / "out"
    first = cli("review", small_review, "--out", out, "--no-figures")
    assert first.exit_code == 0, first.stderr
    (out / "1.1" / "notes.txt").write_text("my notes on analysis 1.1")
    refused = cli("review", small_review, "--out", out, "--no-figures")
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr
    again = cli("review", small_review, "--out", out, "--no-figures", "--overwrite")
    assert again.exit_code == 0, again.stderr
    assert (out / "1.1" / "notes.txt").read_text() == "my notes on analysis 1.1"
    assert (out / "1.1" / "report.html").exists() and (out / "index.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_review_of_a_file_whose_name_is_not_utf8(tmp_path, small_review):
    name = os.fsdecode(bytes(tmp_path) + b"/revue-\xe9t\xe9.rm5")
    Path(name).write_bytes(small_review.read_bytes())
    out = os.fsdecode(bytes(tmp_path) + b"/sortie-\xe9")
    res = cli("review", name, "--out", out, "--no-figures")
    assert res.exit_code == 0, res.stderr
    assert "revue-\ufffdt\ufffd.rm5" in (Path(out) / "index.html").read_text(encoding="utf-8")


def test_batch_refuses_to_replace_a_file_without_overwrite(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("analysis,yi,vi\na,0.1,0.01\na,0.3,0.02\nb,-0.2,0.03\nb,0.0,0.01\n")
    out = tmp_path / "result.csv"
    out.write_text("precious")
    res = cli("batch", table, "--by", "analysis", "--out", out, "--method", "DL")
    assert res.exit_code == 2 and "--overwrite" in res.stderr and out.read_text() == "precious"
    res = cli("batch", table, "--by", "analysis", "--out", out, "--method", "DL", "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert out.read_text().startswith("analysis") and sorted(p.name for p in tmp_path.iterdir()) == ["result.csv",
                                                                                                     "t.csv"]

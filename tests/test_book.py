"""``python -m fromscratch book``: chapters run through nbclient and written as HTML.

CI builds two chapters only (the introduction and the closing chapter, which reads its stored
table in fast mode): the whole book in fast mode takes longer than CI's budget allows.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from fromscratch import book
from fromscratch.cli import main

pytest.importorskip("nbclient")
pytest.importorskip("nbconvert")


def test_chapter_order_and_selection():
    names = [p.stem.split("_")[0] for p in book.chapter_paths()]
    assert names == sorted(names) and names[0] == "00"
    assert names.index("02") < names.index("02b") < names.index("03")
    assert [p.stem.split("_")[0] for p in book.chapter_paths(chapters=["02"])] == ["02"]
    with pytest.raises(book.BookError, match="no chapter 99"):
        book.chapter_paths(chapters=["99"])


@pytest.mark.parametrize(("title", "era"), [
    ("Chapter 01 · Entropy coding (1948–1979)", "1948–1979"),
    ("Chapter 06 · The scale hyperprior (Ballé et al., 2018)", "2018"),
    ("Chapter 04 · CNN with GDN (Ballé, Laparra & Simoncelli, 2016/2017)", "2016–2017"),
    ("Chapter 00 · Introduction", "—"),
])
def test_era_from_title(title, era):
    assert book.era_of(title) == era


def test_book_of_two_chapters(tmp_path, capsys):
    out = tmp_path / "book"
    assert main(["book", str(out), "--chapters", "00", "07"]) == 0
    index = (out / "index.html").read_text()
    pages = sorted(p.name for p in out.glob("*.html"))
    assert len(pages) == 3 and "index.html" in pages
    for page in pages:
        if page != "index.html":
            assert f'href="{page}"' in index
            text = (out / page).read_text()
            assert re.search(r'<img[^>]+src="data:image/png;base64,', text), page
            assert "Traceback" not in text
    assert re.search(r"\d+\.\d s</td>", index)  # the run time of each chapter
    assert "wrote" in capsys.readouterr().out


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Chapter 98 · A test (1999)")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def test_failing_chapter_names_the_cell(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _notebook(notebooks / "98_ok.ipynb", "import os\nprint(os.environ['FROMSCRATCH_FAST'])")
    _notebook(notebooks / "99_fail.ipynb", "x = 1", "\n# the broken step\nraise ValueError('boom')")
    status = main(["book", str(tmp_path / "out"), "--notebooks", str(notebooks)])
    err = capsys.readouterr().err
    assert status == 1
    assert "99_fail" in err and "cell 2" in err and "# the broken step" in err and "boom" in err
    # the chapter before it ran in fast mode
    assert (tmp_path / "out" / "98_ok.html").is_file()


def test_missing_tools_are_named(monkeypatch, tmp_path, capsys):
    import builtins

    real_import = builtins.__import__

    def no_nbclient(name, *args, **kwargs):
        if name == "nbclient":
            raise ImportError("No module named 'nbclient'", name="nbclient")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_nbclient)
    assert main(["book", str(tmp_path), "--chapters", "00"]) == 1
    assert 'pip install -e ".[book]"' in capsys.readouterr().err

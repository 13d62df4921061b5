"""The executed book: run every chapter notebook and write it as HTML, with an index page.

    python -m fromscratch book OUT/                 # fast mode (FROMSCRATCH_FAST=1), all chapters
    python -m fromscratch book OUT/ --full          # the real thing: full Kodak runs, minutes each
    python -m fromscratch book OUT/ --chapters 00 07

The chapters are ``notebooks/[0-9]*.ipynb`` in book order (their names sort that way: ``02`` before
``02b`` before ``03``). Each one is executed top to bottom by a fresh Jupyter kernel through
`nbclient <https://nbclient.readthedocs.io>`_ - the same way a reader's "Run all" would - with
``FROMSCRATCH_FAST=1`` in the kernel's environment unless ``full`` is asked for, then written as
one HTML page by `nbconvert <https://nbconvert.readthedocs.io>`_ (figures embedded, so a page is
one file). ``index.html`` lists the chapters with their era (the years in the chapter's title)
and how long each took to run.

Equations are typeset in the reader's browser by MathJax, which the pages load from a CDN
(nbconvert's default); offline, they show as TeX source. ``mathjax_url`` points the pages at
another copy, e.g. Debian's ``libjs-mathjax``:
``--mathjax-url "file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"``.

A chapter that fails stops the build with :class:`BookError`, naming the chapter and the cell:
its index and the first line of its source. nbclient and nbconvert are the ``book`` extra
(``pip install -e ".[book]"``, included in ``notebooks`` and ``dev``); they are imported only
when a book is built.
"""

from __future__ import annotations

import html
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .data import REPO_ROOT

__all__ = ["BookError", "Chapter", "build", "chapter_paths", "chapter_title", "era_of"]

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
_YEARS = re.compile(r"\b(1[89]\d\d|20\d\d)(?:\s*[–/-]\s*(1[89]\d\d|20\d\d))?\b")


class BookError(RuntimeError):
    """A chapter failed to run, or the book's tools are missing."""


@dataclass
class Chapter:
    """One built chapter: its notebook, title, era, HTML page and run time in seconds."""

    notebook: Path
    title: str
    era: str
    page: str
    seconds: float


def chapter_paths(notebooks: str | os.PathLike | None = None, chapters=None) -> list[Path]:
    """The chapter notebooks in book order, or only those whose name starts with ``chapters``
    (e.g. ``["00", "02b"]``; ``"02"`` selects ``02_...`` only, not ``02b``)."""
    folder = Path(notebooks) if notebooks else NOTEBOOKS_DIR
    paths = sorted(folder.glob("[0-9]*.ipynb"))
    if chapters:
        wanted = [str(c) for c in chapters]
        paths = [p for p in paths if p.stem.split("_")[0] in wanted]
        found = {p.stem.split("_")[0] for p in paths}
        missing = [c for c in wanted if c not in found]
        if missing:
            raise BookError(f"no chapter {', '.join(missing)} in {folder}")
    if not paths:
        raise BookError(f"no chapter notebooks (NN_*.ipynb) in {folder}")
    return paths


def chapter_title(notebook) -> str:
    """The first heading of the notebook's first markdown cell (the file name if none)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def era_of(title: str) -> str:
    """The years a chapter's title names, e.g. ``1987–1995`` (the last span), or ``—``."""
    spans = _YEARS.findall(title)
    if not spans:
        return "—"
    first, last = spans[-1]
    return f"{first}–{last}" if last else first


def _tools():
    try:
        import nbclient
        import nbconvert
        import nbformat
    except ImportError as exc:
        raise BookError(f"the book needs nbclient and nbconvert ({exc.name} is missing): "
                        'pip install -e ".[book]"') from exc
    return nbclient, nbconvert, nbformat


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return "(empty cell)"


def _run(path: Path, full: bool, timeout: int, kernel: str):
    """Execute one notebook in a fresh kernel; returns the executed notebook."""
    nbclient, _, nbformat = _tools()
    notebook = nbformat.read(path, as_version=4)
    failed = {}

    def remember(cell, cell_index, execute_reply):
        failed.setdefault("index", cell_index)

    client = nbclient.NotebookClient(
        notebook, timeout=timeout, kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent)}}, on_cell_error=remember)
    env = dict(os.environ)
    if full:
        env.pop("FROMSCRATCH_FAST", None)
    else:
        env["FROMSCRATCH_FAST"] = "1"
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as exc:
        index = failed.get("index")
        where = (f"cell {index} ({_first_line(notebook.cells[index].source)!r})"
                 if index is not None else "a cell")
        error = f"{exc.ename}: {exc.evalue}" if getattr(exc, "ename", None) else str(exc)
        raise BookError(f"chapter {path.stem} failed in {where}: {error.splitlines()[0]}"
                        ) from exc
    except nbclient.exceptions.CellTimeoutError as exc:
        raise BookError(f"chapter {path.stem} timed out ({timeout} s per cell)") from exc
    return notebook


def _index_page(chapters: list[Chapter], full: bool) -> str:
    mode = "full" if full else "fast (FROMSCRATCH_FAST=1)"
    rows = "\n".join(
        f'<tr><td><a href="{html.escape(c.page)}">{html.escape(c.notebook.stem)}</a></td>'
        f"<td>{html.escape(c.title)}</td><td>{html.escape(c.era)}</td>"
        f'<td class="n">{c.seconds:.1f} s</td></tr>' for c in chapters)
    total = sum(c.seconds for c in chapters)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fromscratch: the book</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}
td,th{{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}}
td.n{{text-align:right}}</style></head>
<body><h1>fromscratch: image compression built by hand</h1>
<p>Every chapter executed by <code>python -m fromscratch book</code>, {mode} mode, on
{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}: {len(chapters)} chapter(s), {total:.0f} s.</p>
<table><thead><tr><th>chapter</th><th>title</th><th>era</th><th>run time</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


def build(out, *, full: bool = False, chapters=None, notebooks=None, timeout: int = 1800,
          kernel: str = "python3", mathjax_url: str | None = None,
          progress: bool = True) -> list[Chapter]:
    """Run the chapters and write ``out/<chapter>.html`` and ``out/index.html``.

    Parameters
    ----------
    out : path
        Output folder (created).
    full : bool
        Run without ``FROMSCRATCH_FAST`` (default: fast mode).
    chapters : list of str, optional
        Chapter numbers to build, e.g. ``["00", "07"]`` (default: all).
    notebooks : path, optional
        Folder of the chapter notebooks (default: the repository's ``notebooks/``).
    timeout : int
        Seconds one cell may run.
    mathjax_url : str, optional
        Where the pages load MathJax 2 from (default: nbconvert's CDN address).

    Raises
    ------
    BookError
        When the tools are missing or a chapter fails (naming the chapter and the cell).
    """
    _, nbconvert, _ = _tools()
    paths = chapter_paths(notebooks, chapters)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exporter = nbconvert.HTMLExporter(template_name="lab")
    if mathjax_url:
        exporter.mathjax_url = mathjax_url
    built = []
    with tqdm(paths, desc="book", unit="chapter", disable=not progress) as bar:
        for path in bar:
            bar.set_postfix_str(path.stem)
            start = time.perf_counter()
            notebook = _run(path, full, timeout, kernel)
            seconds = time.perf_counter() - start
            title = chapter_title(notebook) or path.stem
            body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {
                "name": title}})
            page = f"{path.stem}.html"
            (out / page).write_text(body, encoding="utf-8")
            built.append(Chapter(path, title, era_of(title), page, seconds))
    (out / "index.html").write_text(_index_page(built, full), encoding="utf-8")
    return built

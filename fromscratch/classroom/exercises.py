"""The exercises of a chapter notebook, read from its nbgrader cell metadata (no nbgrader needed).

Every chapter ends with exercises written *solved*: a solution cell whose answer sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``, then a checking cell of ``assert``s worth some
points, with ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` around the checks that would
give the answer away. nbgrader reads the cells' ``metadata.nbgrader`` (schema 3); the convention
the book follows is

========================  ==========================================================================
cell                      ``metadata.nbgrader``
========================  ==========================================================================
solution                  ``grade_id = "<chapter>_ex<N>"``, solution, not graded, not locked
checking cell             ``grade_id = "<chapter>_ex<N>_check"``, graded, locked, ``points > 0``
statement / given code    ``grade_id = "<chapter>_ex<N>_given"``, locked (optional for markdown)
========================  ==========================================================================

where ``<chapter>`` is the notebook stem's prefix (``"02"`` for ``02_dct_and_jpeg``, ``"02b"``;
``"ch02b"`` is accepted too). :func:`metadata_problems` lists every way a notebook breaks it; the
test suite runs it on every chapter, so an exercise cannot lose its checking cell or its metadata.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MIN_EXERCISES",
    "Exercise",
    "chapter_notebooks",
    "chapter_prefix",
    "exercises",
    "metadata_problems",
    "read_notebook",
    "solution_lines",
]

#: Every chapter carries at least this many graded exercises.
MIN_EXERCISES = 3
# nbgrader's own markers: it looks for these words anywhere in a line of any cell, so even a
# sentence quoting them in markdown would open a solution region.
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: its solution cell, its checking cell and the points it is worth."""

    name: str  # the solution cell's grade_id, e.g. "01_ex2"
    solution_cell: int  # indices into the notebook's cells
    check_cell: int
    points: float


def read_notebook(path: str | Path) -> dict:
    """A notebook as plain JSON (nbformat 4)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def chapter_notebooks(folder: str | Path) -> list[Path]:
    """The chapter notebooks of a folder: ``[0-9]*.ipynb``, in file-name (chapter) order."""
    return sorted(Path(folder).glob("[0-9]*.ipynb"))


def chapter_prefix(stem: str) -> str:
    """``"02b"`` for ``"02b_motion_compensation"``: the part of the stem before its first ``_``."""
    return stem.split("_", 1)[0]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def exercises(notebook: dict) -> list[Exercise]:
    """The graded exercises of a notebook: each solution cell paired with the graded cell after it.

    A solution cell with no graded cell right after it is left out (:func:`metadata_problems`
    reports it).
    """
    cells = notebook["cells"]
    found = []
    for i, cell in enumerate(cells[:-1]):
        meta, after = _nbgrader(cell), _nbgrader(cells[i + 1])
        if meta.get("solution") and not meta.get("grade") and after.get("grade"):
            found.append(Exercise(meta["grade_id"], i, i + 1, after.get("points", 0)))
    return found


def _check_id(grade_id: str, stem: str, allowed: str) -> str | None:
    prefix = re.escape(chapter_prefix(stem))
    if re.fullmatch(rf"(ch)?{prefix}_ex\d+{allowed}", grade_id or ""):
        return None
    return f"grade_id {grade_id!r} should read <chapter>_ex<N>{allowed} with chapter {prefix!r}"


def _marker_problems(text: str, begin: str, end: str) -> bool:
    """True when the begin/end markers of ``text`` are not properly paired."""
    depth = 0
    for line in text.splitlines():  # nbgrader looks for the markers anywhere in a line
        if begin in line:
            depth += 1
            if depth > 1:
                return True
        elif end in line:
            depth -= 1
            if depth < 0:
                return True
    return depth != 0


def metadata_problems(path: str | Path) -> list[str]:
    """Every way the notebook at ``path`` breaks the exercise convention; empty when it follows it.

    Checks: each cell with ``### BEGIN SOLUTION`` carries solution metadata (and only such cells
    do); each solution cell is followed by a locked, graded checking cell with points and an
    ``assert``; markers are paired; hidden tests sit only in checking cells; grade_ids follow
    ``<chapter>_ex<N>`` and are unique; the chapter has at least :data:`MIN_EXERCISES` exercises.
    """
    path = Path(path)
    notebook = read_notebook(path)
    cells = notebook["cells"]
    problems = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(cells):
        text, meta = _source(cell), _nbgrader(cell)
        where = f"{path.name} cell {i}"
        if meta:
            grade_id = meta.get("grade_id")
            if grade_id in seen:
                problems.append(f"{where}: grade_id {grade_id!r} also in cell {seen[grade_id]}")
            seen[grade_id] = i
            if meta.get("schema_version") != SCHEMA_VERSION:
                problems.append(f"{where}: nbgrader schema_version should be {SCHEMA_VERSION}")
        has_solution = BEGIN_SOLUTION in text  # nbgrader's test: anywhere, in any kind of cell
        if has_solution and cell["cell_type"] != "code":
            problems.append(f"{where}: solution markers belong in code cells (nbgrader would "
                            "replace this markdown)")
        if _marker_problems(text, BEGIN_SOLUTION, END_SOLUTION):
            problems.append(f"{where}: unpaired ### BEGIN / END SOLUTION")
        if _marker_problems(text, BEGIN_HIDDEN, END_HIDDEN):
            problems.append(f"{where}: unpaired ### BEGIN / END HIDDEN TESTS")
        if BEGIN_HIDDEN in text and not meta.get("grade"):
            problems.append(f"{where}: hidden tests outside a graded checking cell")
        if has_solution != bool(meta.get("solution")):
            problems.append(f"{where}: ### BEGIN SOLUTION and solution metadata must come together")
        if meta.get("solution"):
            if meta.get("grade") or meta.get("locked"):
                problems.append(f"{where}: a solution cell is neither graded nor locked")
            problem = _check_id(meta.get("grade_id"), path.stem, "")
            if problem:
                problems.append(f"{where}: {problem}")
            after = _nbgrader(cells[i + 1]) if i + 1 < len(cells) else {}
            if not after.get("grade"):
                problems.append(f"{where}: no graded checking cell after the solution cell")
        if meta.get("grade"):
            points = meta.get("points")
            if not isinstance(points, int | float) or points <= 0:
                problems.append(f"{where}: a checking cell needs points > 0")
            if not meta.get("locked") or meta.get("solution"):
                problems.append(f"{where}: a checking cell is locked and holds no solution")
            if "assert" not in text:
                problems.append(f"{where}: a checking cell checks with assert")
            before = _nbgrader(cells[i - 1]) if i > 0 else {}
            if meta.get("grade_id") != f"{before.get('grade_id')}_check":
                problems.append(f"{where}: grade_id should be the solution cell's id + '_check'")
        if meta and not meta.get("grade") and not meta.get("solution"):
            problem = _check_id(meta.get("grade_id"), path.stem, "_given")
            if problem:
                problems.append(f"{where}: {problem}")
            if not meta.get("locked"):
                problems.append(f"{where}: given cells are locked (read-only)")
    count = len(exercises(notebook))
    if count < MIN_EXERCISES:
        problems.append(f"{path.name}: {count} graded exercises, at least {MIN_EXERCISES} expected")
    return problems


def solution_lines(notebook: dict) -> set[str]:
    """The stripped, non-blank lines that only the solutions and hidden tests contain.

    A line inside ``### BEGIN SOLUTION`` … ``### END SOLUTION`` (or inside hidden tests) that
    also appears elsewhere in the notebook (a ``return out`` shared with given code) is left out,
    so a student version containing none of these lines gives none of the answers away.
    """
    inside_lines: set[str] = set()
    outside_lines: set[str] = set()
    for cell in notebook["cells"]:
        inside = False
        for line in _source(cell).splitlines():
            stripped = line.strip()
            if BEGIN_SOLUTION in line or BEGIN_HIDDEN in line:
                inside = True
            elif END_SOLUTION in line or END_HIDDEN in line:
                inside = False
            elif stripped:
                (inside_lines if inside else outside_lines).add(stripped)
    return inside_lines - outside_lines

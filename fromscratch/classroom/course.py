"""Release and grade the chapters through nbgrader, in a course directory laid out for it.

nbgrader (the tool Jupyter courses are run with) does the work; this module only lays out the
course it expects and calls its own apps:

    course/
        nbgrader_config.py            fast mode for the kernels, a generous cell timeout
        source/<chapter>/<chapter>.ipynb        the solved notebook (the one source of truth)
        release/<chapter>/<chapter>.ipynb       written by ``generate_assignment``: solutions
                                                replaced by nbgrader's stub, hidden tests
                                                removed, outputs cleared, given cells locked
        submitted/<student>/<chapter>/…         what ``autograde`` grades
        autograded/<student>/<chapter>/…        the executed submission
        gradebook.db                            nbgrader's sqlite gradebook

:func:`write_course` writes the first two for teachers who run ``nbgrader`` themselves;
:func:`release` and :func:`grade` build one in a temporary folder, so the repository never holds
a gradebook. Grading executes the notebook, so the kernel runs with ``FROMSCRATCH_FAST=1`` (two
images, a few settings: seconds per chapter) and imports the same ``fromscratch`` as the caller.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..data import REPO_ROOT
from .exercises import chapter_notebooks, chapter_prefix, exercises, read_notebook

__all__ = [
    "NOTEBOOKS_DIR",
    "ClassroomError",
    "ExerciseGrade",
    "GradeReport",
    "grade",
    "nbgrader_config_text",
    "release",
    "write_course",
]

#: Where the solved chapter notebooks live (a source checkout of the project).
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
STUDENT = "student"
#: Seconds one cell may run while nbgrader executes a notebook (fast mode needs well under it).
CELL_TIMEOUT_S = 600

NBGRADER_CONFIG = f'''"""nbgrader settings for a course made of the fromscratch chapters.

Written by ``python -m fromscratch classroom template``; the assignments are the folders of
source/ (one per chapter). See docs/teaching.md.
"""

import os

# Grading executes every notebook: fast mode (two images, a few settings) keeps it to seconds per
# chapter, and the plots go to a headless backend.
os.environ.setdefault("FROMSCRATCH_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "fromscratch"
# Training cells in fast mode take seconds; the full versions take minutes.
c.Execute.timeout = {CELL_TIMEOUT_S}
'''


class ClassroomError(RuntimeError):
    """nbgrader could not release or grade a notebook (its log is in the message)."""


@dataclass(frozen=True)
class ExerciseGrade:
    """The points of one exercise, and the error its checking cell raised (``None`` if none)."""

    score: float
    max_score: float
    error: str | None = None


@dataclass
class GradeReport:
    """What nbgrader's autograder gave one submitted chapter notebook."""

    chapter: str
    exercises: dict[str, ExerciseGrade]
    #: (cell index, grade_id or "", error name) of every cell that raised, exercise or not
    errors: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(g.score for g in self.exercises.values())

    @property
    def max_score(self) -> float:
        return sum(g.max_score for g in self.exercises.values())

    def to_json(self) -> dict:
        """``{"score", "max_score", "exercises": {name: {"score", "max_score", "error"}}, ...}``."""
        return {
            "chapter": self.chapter,
            "score": self.score,
            "max_score": self.max_score,
            "exercises": {name: {"score": g.score, "max_score": g.max_score, "error": g.error}
                          for name, g in self.exercises.items()},
            "errors": [{"cell": i, "grade_id": gid, "error": ename}
                       for i, gid, ename in self.errors],
        }

    def to_text(self) -> str:
        lines = [f"{self.chapter}: {self.score:g} / {self.max_score:g} points"]
        for name, g in self.exercises.items():
            note = f"   {g.error}" if g.error else ""
            lines.append(f"  {name:<12} {g.score:g} / {g.max_score:g}{note}")
        graded = {f"{name}_check" for name in self.exercises}
        for i, grade_id, ename in self.errors:
            if grade_id not in graded:
                lines.append(f"  cell {i} ({grade_id or 'not an exercise'}) raised {ename}")
        return "\n".join(lines)


def nbgrader_config_text() -> str:
    """The ``nbgrader_config.py`` of a fromscratch course."""
    return NBGRADER_CONFIG


def _chapters(notebooks_dir: str | Path | None, chapters: Sequence[str] | None) -> list[Path]:
    """The solved notebooks to use: all chapters, or those named (``"02b"`` or the whole stem)."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    found = chapter_notebooks(folder)
    if not found:
        raise ClassroomError(f"no chapter notebooks ([0-9]*.ipynb) in {folder}")
    if chapters:
        def named(path: Path, chapter: str) -> bool:
            return chapter in (path.stem, chapter_prefix(path.stem))

        picked = [p for p in found if any(named(p, c) for c in chapters)]
        missing = [c for c in chapters if not any(named(p, c) for p in found)]
        if missing:
            raise ClassroomError(f"no chapter {', '.join(missing)} in {folder}")
        found = picked
    return found


def write_course(root: str | Path, notebooks_dir: str | Path | None = None,
                 chapters: Sequence[str] | None = None) -> list[str]:
    """Lay out an nbgrader course at ``root``: ``nbgrader_config.py`` and ``source/<chapter>/``.

    Returns the assignment names (the chapter stems). Existing files are overwritten; nothing
    else in ``root`` is touched.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(nbgrader_config_text(), encoding="utf-8")
    names = []
    for notebook in _chapters(notebooks_dir, chapters):
        folder = root / "source" / notebook.stem
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, folder / notebook.name)
        names.append(notebook.stem)
    return names


@contextmanager
def _kernel_environment() -> Iterator[None]:
    """Fast mode, a headless matplotlib, this ``fromscratch`` first on the kernel's path."""
    saved = os.environ.copy()
    package_parent = str(Path(__file__).resolve().parents[2])
    os.environ["FROMSCRATCH_FAST"] = "1"
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [package_parent, *filter(None, [saved.get("PYTHONPATH")])])
    # nbgrader runs the `alembic` script of its environment to set up the gradebook: find it even
    # when that environment's bin/ is not on PATH (a venv used without activating it).
    os.environ["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), *filter(None, [saved.get("PATH")])])
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _api(root: Path):
    """nbgrader's API on the course at ``root``, configured by its ``nbgrader_config.py``."""
    try:
        from nbgrader.apps import NbGraderAPI
        from traitlets.config.loader import PyFileConfigLoader
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ClassroomError(
            "the classroom commands need nbgrader: pip install 'fromscratch[classroom]'") from exc
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    return NbGraderAPI(config=config)


def _run(result: dict, what: str) -> None:
    if not result.get("success"):
        # the log says what went wrong; the traceback only that it did
        detail = result.get("log") or result.get("error") or "no log"
        raise ClassroomError(f"nbgrader {what} failed:\n{detail}")


def release(out: str | Path, notebooks_dir: str | Path | None = None,
            chapters: Sequence[str] | None = None, progress: bool = True) -> list[Path]:
    """Write the student version of every chapter to ``out/<chapter>.ipynb``.

    Each is made by nbgrader's ``generate_assignment`` in a temporary course: solutions replaced
    by its stub (``raise NotImplementedError()``), hidden tests removed, outputs cleared,
    statement and checking cells locked. Returns the paths written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="fromscratch-course-") as tmp, _kernel_environment():
        root = Path(tmp)
        names = write_course(root, notebooks_dir, chapters)
        api = _api(root)
        for name in tqdm(names, desc="release", unit="chapter", disable=not progress):
            _run(api.generate_assignment(name, force=True, create=True),
                 f"generate_assignment {name}")
            target = out / f"{name}.ipynb"
            shutil.copyfile(root / "release" / name / f"{name}.ipynb", target)
            written.append(target)
    return written


def _matching_chapter(submitted: dict, candidates: list[Path]) -> Path:
    """The solved chapter whose exercises the submission carries (by grade_id)."""
    ids = {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
           for cell in submitted.get("cells", [])} - {None}
    overlap = {path: len(ids & {e.name for e in exercises(read_notebook(path))})
               for path in candidates}
    best = max(overlap, key=overlap.get)
    if overlap[best] == 0:
        raise ClassroomError("the notebook carries none of the chapters' exercises")
    return best


def _cell_errors(notebook: dict) -> list[tuple[int, str, str]]:
    errors = []
    for i, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
                errors.append((i, grade_id, output.get("ename", "")))
    return errors


def grade(notebook: str | Path, notebooks_dir: str | Path | None = None) -> GradeReport:
    """Autograde one submitted chapter notebook with nbgrader; returns the points per exercise.

    The chapter is recognised by its exercises' grade_ids. nbgrader's ``generate_assignment``
    records the solved chapter in a temporary gradebook, then ``autograde`` restores the locked
    cells and hidden tests from it, executes the submission (fast mode) and scores every
    checking cell: full points if it runs without error, none otherwise.
    """
    notebook = Path(notebook)
    try:
        submitted = read_notebook(notebook)
    except (OSError, ValueError) as exc:
        raise ClassroomError(f"cannot read {notebook}: {exc}") from exc
    source = _matching_chapter(submitted, _chapters(notebooks_dir, None))
    name = source.stem
    with tempfile.TemporaryDirectory(prefix="fromscratch-grade-") as tmp, _kernel_environment():
        root = Path(tmp)
        write_course(root, source.parent, [name])
        api = _api(root)
        _run(api.generate_assignment(name, force=True, create=True), f"generate_assignment {name}")
        folder = root / "submitted" / STUDENT / name
        folder.mkdir(parents=True)
        shutil.copyfile(notebook, folder / f"{name}.ipynb")
        with warnings.catch_warnings():
            # nbgrader's gradebook trips SQLAlchemy's autoflush warnings; they are not ours to fix
            warnings.filterwarnings("ignore", message=".*not in session.*")
            _run(api.autograde(name, STUDENT, force=True, create=True), f"autograde {name}")
        executed = read_notebook(root / "autograded" / STUDENT / name / f"{name}.ipynb")
        errors = _cell_errors(executed)
        error_of = {grade_id: ename for _, grade_id, ename in errors}
        with api.gradebook as gradebook:
            graded = gradebook.find_submission_notebook(name, name, STUDENT)
            scores = {g.name: (float(g.score), float(g.max_score)) for g in graded.grades}
    solved = read_notebook(source)
    report = {}
    for exercise in exercises(solved):
        check_id = solved["cells"][exercise.check_cell]["metadata"]["nbgrader"]["grade_id"]
        score, max_score = scores.pop(check_id)
        report[exercise.name] = ExerciseGrade(score, max_score, error_of.get(check_id))
    for check_id, (score, max_score) in scores.items():  # graded cells outside the convention
        report[check_id] = ExerciseGrade(score, max_score, error_of.get(check_id))
    return GradeReport(name, report, errors)

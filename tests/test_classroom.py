"""Classroom: every chapter's exercises carry nbgrader metadata, and release → grade round-trips.

For every chapter notebook (``notebooks/[0-9]*.ipynb``, so a new chapter is checked as soon as it
lands): the exercise cells follow the metadata convention; through nbgrader, the solved notebook
grades full marks; the released student notebook holds none of the solution lines, executes with
failures only in exercise cells (the stub's ``NotImplementedError`` in the solution cells) and
grades zero.
"""

import copy
import json

import pytest

from fromscratch import classroom, cli
from fromscratch.classroom.exercises import read_notebook

CHAPTERS = classroom.chapter_notebooks(classroom.NOTEBOOKS_DIR)
IDS = [path.stem for path in CHAPTERS]


def _sources(notebook):
    return ["".join(cell["source"]) for cell in notebook["cells"]]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_exercise_has_its_metadata_and_checking_cell(path):
    assert classroom.metadata_problems(path) == []


def _write(tmp_path, notebook, name="01_broken.ipynb"):
    path = tmp_path / name
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def test_the_metadata_check_catches_broken_exercises(tmp_path):
    solved = read_notebook(CHAPTERS[1])
    exercises = classroom.exercises(solved)
    first = exercises[0]

    lost_metadata = copy.deepcopy(solved)
    lost_metadata["cells"][first.check_cell]["metadata"] = {}
    problems = classroom.metadata_problems(_write(tmp_path, lost_metadata))
    assert any("no graded checking cell" in p for p in problems)
    assert any("graded exercises" in p for p in problems)

    lost_check = copy.deepcopy(solved)
    del lost_check["cells"][first.check_cell]
    assert any("no graded checking cell" in p
               for p in classroom.metadata_problems(_write(tmp_path, lost_check)))

    unmarked = copy.deepcopy(solved)
    unmarked["cells"][first.solution_cell]["metadata"] = {}
    assert any("must come together" in p
               for p in classroom.metadata_problems(_write(tmp_path, unmarked)))

    duplicate = copy.deepcopy(solved)
    meta = duplicate["cells"][exercises[1].solution_cell]["metadata"]["nbgrader"]
    meta["grade_id"] = first.name
    problems = classroom.metadata_problems(_write(tmp_path, duplicate))
    assert any("also in cell" in p for p in problems)

    quoted = copy.deepcopy(solved)  # nbgrader would open a solution region in this markdown
    quoted["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "id": "quoted",
                               "source": ["write it between ### BEGIN SOLUTION and the end\n"]})
    assert classroom.metadata_problems(_write(tmp_path, quoted))

    wrong_chapter = _write(tmp_path, solved, name="07_elsewhere.ipynb")
    assert any("with chapter '07'" in p for p in classroom.metadata_problems(wrong_chapter))


def test_template_lays_out_a_course(tmp_path, capsys):
    assert cli.main(["classroom", "template", str(tmp_path), "--chapters", "00", IDS[-1]]) == 0
    assert f"source/<chapter>/ for {IDS[0]}, {IDS[-1]}" in capsys.readouterr().out
    names = [IDS[0], IDS[-1]]
    assert sorted(p.name for p in (tmp_path / "source").iterdir()) == names
    for name in names:
        assert (tmp_path / "source" / name / f"{name}.ipynb").is_file()
    config = (tmp_path / "nbgrader_config.py").read_text()
    assert 'os.environ.setdefault("FROMSCRATCH_FAST", "1")' in config
    compile(config, "nbgrader_config.py", "exec")
    with pytest.raises(classroom.ClassroomError, match="no chapter 99"):
        classroom.write_course(tmp_path, chapters=["99"])


def test_grade_refuses_what_is_not_a_chapter(tmp_path, capsys):
    pytest.importorskip("nbgrader")
    (tmp_path / "junk.ipynb").write_text("not json")
    assert cli.main(["classroom", "grade", str(tmp_path / "junk.ipynb")]) == 1
    empty = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "empty.ipynb").write_text(json.dumps(empty))
    assert cli.main(["classroom", "grade", str(tmp_path / "empty.ipynb")]) == 1
    assert "none of the chapters' exercises" in capsys.readouterr().err


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The student version of every chapter, released by the CLI (nbgrader generate_assignment)."""
    pytest.importorskip("nbgrader")
    out = tmp_path_factory.mktemp("student")
    assert cli.main(["classroom", "release", str(out)]) == 0
    return out


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_solved_notebook_grades_full_marks(path):
    pytest.importorskip("nbgrader")
    report = classroom.grade(path)
    expected = {e.name: e.points for e in classroom.exercises(read_notebook(path))}
    assert {name: g.max_score for name, g in report.exercises.items()} == expected
    assert report.score == report.max_score == sum(expected.values())
    assert report.errors == []


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_notebook_is_blank_fails_in_exercises_only_and_grades_zero(path, released, capsys):
    solved = read_notebook(path)
    student_path = released / path.name
    student = read_notebook(student_path)
    exercises = classroom.exercises(solved)

    # none of the answers: no solution or hidden-test line, no markers, no outputs
    student_lines = {line.strip() for text in _sources(student) for line in text.splitlines()}
    assert classroom.solution_lines(solved) & student_lines == set()
    assert not any("BEGIN SOLUTION" in text or "HIDDEN TESTS" in text
                   for text in _sources(student))
    assert all(not cell.get("outputs") for cell in student["cells"])
    for exercise in exercises:
        assert "raise NotImplementedError()" in _sources(student)[exercise.solution_cell]

    # executed and autograded by nbgrader, through the CLI
    capsys.readouterr()
    assert cli.main(["classroom", "grade", str(student_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["chapter"] == path.stem
    assert report["score"] == 0
    assert report["max_score"] == sum(e.points for e in exercises) > 0
    assert set(report["exercises"]) == {e.name for e in exercises}
    assert all(g["error"] for g in report["exercises"].values())  # every checking cell failed
    exercise_cells = {e.name for e in exercises} | {f"{e.name}_check" for e in exercises}
    for error in report["errors"]:
        assert error["grade_id"] in exercise_cells, error  # the rest of the chapter runs
        if error["grade_id"] in {e.name for e in exercises}:
            assert error["error"] == "NotImplementedError", error

"""Classroom: every chapter as an nbgrader assignment, released and autograded.

The chapters' exercises are written solved, with nbgrader metadata on their cells
(:mod:`.exercises` states the convention and checks it). nbgrader does the teaching chores:

* :func:`release` writes the student version of every chapter with nbgrader's
  ``generate_assignment`` (solutions replaced by ``raise NotImplementedError()``, hidden tests
  removed, outputs cleared);
* :func:`grade` autogrades one submitted notebook with nbgrader's ``autograde`` and returns the
  points per exercise;
* :func:`write_course` lays out a course (``nbgrader_config.py``, ``source/<chapter>/``) for
  teachers who run ``nbgrader`` themselves.

The command line: ``python -m fromscratch classroom {release,grade,template}``. nbgrader is an
optional dependency (``pip install "fromscratch[classroom]"``); only :mod:`.exercises` works
without it.
"""

from .course import (
    NOTEBOOKS_DIR,
    ClassroomError,
    ExerciseGrade,
    GradeReport,
    grade,
    nbgrader_config_text,
    release,
    write_course,
)
from .exercises import Exercise, chapter_notebooks, exercises, metadata_problems, solution_lines

__all__ = [
    "NOTEBOOKS_DIR",
    "ClassroomError",
    "Exercise",
    "ExerciseGrade",
    "GradeReport",
    "chapter_notebooks",
    "exercises",
    "grade",
    "metadata_problems",
    "nbgrader_config_text",
    "release",
    "solution_lines",
    "write_course",
]

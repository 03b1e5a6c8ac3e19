"""The evaluation tests score the student tests' tiny trained student (same fixtures)."""
from tests.student.conftest import pairs_file, student_root, tiny_model, trained  # noqa: F401

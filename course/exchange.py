"""nbgrader's directory exchange, with each submission kept private to its author and the instructors.

nbgrader's own ``submit`` leaves every submission folder in ``<exchange>/<course>/inbound/``
world-writable (``drwxrwxrwx``), so that the instructor can delete it later, and keeps students
apart only by the folder's unguessable name: anything that prints a name (a readable log, a
process list) opens a classmate's submission to read and write. ``PrivateSubmit`` (named in
the class's ``nbgrader_config.py`` as ``c.ExchangeFactory.submit``, ``hub/roster.py``) submits
as nbgrader does, then closes the folder to everyone but its owner and its group: ``inbound``
is created by the instructor with the set-group-id bit, so the folder's group is the
instructor's own (private) group; other students get nothing, even knowing the name.
"""

from __future__ import annotations

import os
import shutil
import stat

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import ignore_patterns

# Owner and group: read, write, enter (the instructor deletes old submissions); others: nothing.
PRIVATE_FOLDER = stat.S_IRWXU | stat.S_IRWXG | stat.S_ISGID


class PrivateSubmit(ExchangeSubmit):
    """``nbgrader submit`` whose submission folder only the student and the instructors can reach."""

    def copy_files(self):
        super().copy_files()
        os.chmod(os.path.join(self.inbound_path, self.assignment_filename), PRIVATE_FOLDER)


class SafeCollect(ExchangeCollect):
    """``nbgrader collect`` that never follows a link in a student's submission folder.

    nbgrader copies the inbound folder with ``shutil.copytree``, which copies what a link points
    to: a student's link named like an ordinary file would bring in whatever the collecting
    instructor can read (their gradebook, the answer key). Here links are copied as links, and the
    grading side's intake gate (``grader/sandbox/intake.py``) refuses them and lists them for review."""

    def do_copy(self, src, dest, log=None):
        shutil.copytree(src, dest, symlinks=True,
                        ignore=ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                               max_file_size=self.coursedir.max_file_size, log=self.log))

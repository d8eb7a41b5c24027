"""TolerantNotebookExporter: nbgrader reads each submission through it
(``c.Autograde.exporter_class``)."""

from __future__ import annotations

import nbformat
from nbconvert.exporters import NotebookExporter

from grader.plugins.cells import META


class TolerantNotebookExporter(NotebookExporter):
    """nbgrader's notebook exporter, except that a file nbformat cannot read becomes an empty
    notebook marked unreadable (RestoreFromSource then makes it an ungradable submission)
    instead of a traceback that drops the submission."""

    def from_file(self, file_stream, resources=None, **kw):
        try:
            nb = nbformat.reads(file_stream.read(), as_version=4)
            if not isinstance(nb.get("cells"), list) or not isinstance(nb.get("metadata"), dict):
                raise ValueError("no list of cells")
        except Exception as exc:  # noqa: BLE001 (anything unreadable is the same problem)
            nb = nbformat.v4.new_notebook()
            # The type only: the message may quote the student's file.
            nb.metadata[META] = {"unreadable": type(exc).__name__}
        return self.from_notebook_node(nb, resources=resources, **kw)

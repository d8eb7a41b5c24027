"""Run the course as a class on JupyterHub (instructors and administrators only, never installed).

    hub/site.py              where everything lives: accounts, groups, exchange, environment, ports
    hub/env.py               the students' Python environment (readable by every account)
    hub/proxy.py             configurable-http-proxy from npm, installed into build/hub/
    hub/roster.py            CSV -> system accounts (instructor + students), the instructor's course
    hub/run.py               start/stop JupyterHub on 127.0.0.1 (make hub)
    hub/jupyterhub_config.py JupyterHub's configuration, read from the site file
    hub/course.py            the instructor's nbgrader loop as the right accounts (release, collect,
                             autograde in the sandbox, feedback)
    hub/zip_collect.py       an LMS zip (Canvas/Moodle) -> submitted/ (nbgrader zip_collect)
    hub/k8s/                 zero-to-jupyterhub values and image notes for a class beyond one machine
"""

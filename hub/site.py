"""Where one class's hub keeps everything: one object, written as JSON beside the hub's database.

``make hub`` uses the defaults (the paths The Littlest JupyterHub would use on one machine);
the end-to-end test makes its own ``Site`` under a temporary folder, with its own group names,
so it never touches a running class.

    /srv/gpt2-course/            state_dir: site.json, jupyterhub.sqlite, cookie secret, jupyter/
    /srv/gpt2-course/jupyter/    config every single-user server reads (JUPYTER_CONFIG_PATH):
                                 nbgrader's exchange and course id
    /srv/gpt2-course/instructor/ the instructor's extra config (formgrader on, the course root)
    /opt/gpt2-course/env/        env_dir: the students' Python (course packages, JupyterLab,
                                 nbgrader, jupyterhub-singleuser); readable by every account
    /srv/nbgrader/               exchange_gate: root:<course group>, mode 0750, so only the
                                 course's accounts can reach ...
    /srv/nbgrader/exchange/      exchange_root: nbgrader's exchange (mode 0777 as nbgrader wants)
    /home/<instructor>/gpt2-course/grader/   the instructor's course root (a copy of grader/)
"""

from __future__ import annotations

import json
import pwd
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
HUB_BUILD_DIR = REPO_DIR / "build" / "hub"
# The course's own: grader/ (the package, with the lessons' authoring files) and nbgrader's course root.
COURSE_PARTS = ("grader", "nbgrader-course")
COURSE_ROOT_NAME = COURSE_PARTS[1]  # grader.catalog.COURSE_DIR_NAME
SITE_FILE = "site.json"


@dataclass
class Site:
    course_id: str = "gpt2-course"
    state_dir: Path = Path("/srv/gpt2-course")
    env_dir: Path = Path("/opt/gpt2-course/env")
    exchange_gate: Path = Path("/srv/nbgrader")
    ip: str = "127.0.0.1"
    port: int = 8000  # the proxy: the one address people open
    hub_port: int = 8081  # the hub's own API (single-user servers talk to it), loopback only
    proxy_api_port: int = 8001  # configurable-http-proxy's REST API, loopback only
    # Everyone in the course (the exchange gate's group), and the two roles.
    course_group: str = "gpt2-course"
    students_group: str = "gpt2-course-students"
    instructors_group: str = "gpt2-course-instructors"
    # Where useradd puts new homes, and the course root's folder inside the instructor's home.
    home_base: Path = Path("/home")
    course_dir_name: str = "gpt2-course"
    proxy_command: Path = HUB_BUILD_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
    # ngshare as the exchange (hub/ngshare.py): its service port; 0 = nbgrader's directory exchange.
    ngshare_port: int = 0
    ngshare_path: Path = HUB_BUILD_DIR / "ngshare"
    # Extra environment for single-user servers (tests: shorter timeouts, the language).
    extra_env: dict = field(default_factory=dict)

    @property
    def exchange_root(self) -> Path:
        return self.exchange_gate / "exchange"

    @property
    def jupyter_config_dir(self) -> Path:
        """nbgrader settings every account's Jupyter reads (JUPYTER_CONFIG_PATH)."""
        return self.state_dir / "jupyter"

    @property
    def instructor_config_dir(self) -> Path:
        """Read before jupyter_config_dir for instructors: formgrader on, the course root."""
        return self.state_dir / "instructor"

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def course_repo(self, instructor: str) -> Path:
        """The copy of the course the instructor owns (a repository-like folder holding grader/,
        the lessons' authoring files and the course's code, and nbgrader-course/)."""
        return Path(pwd.getpwnam(instructor).pw_dir) / self.course_dir_name

    def course_root(self, instructor: str) -> Path:
        """The instructor's nbgrader course root, ``nbgrader-course/`` in their copy (as
        ``grader.catalog.COURSE_DIR`` in the repository; ``grader.commands`` functions take it)."""
        return self.course_repo(instructor) / COURSE_ROOT_NAME

    # --- JSON ------------------------------------------------------------------------------

    def save(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        path = self.state_dir / SITE_FILE
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, state_dir: str | Path) -> Site:
        data = json.loads((Path(state_dir) / SITE_FILE).read_text())
        kinds = {f.name: f.type for f in fields(cls)}
        return cls(**{k: (Path(v) if kinds.get(k) == "Path" else v) for k, v in data.items() if k in kinds})

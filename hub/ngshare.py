"""ngshare (PyPI ``ngshare`` + ``ngshare-exchange``) as the class's nbgrader exchange: a JupyterHub
service that stores releases, submissions and feedback in its own database and files, so that
single-user servers need no shared folder (the situation on Kubernetes, nbgrader issue #1386).

    python -m hub.ngshare install      the client into build/hub/ngshare/ (--no-deps), the service into
                                       build/hub/ngshare-service/ (SQLAlchemy 1.4): see hub/requirements-ngshare-*.txt
    python -m hub.ngshare serve ...    ngshare's own command line, bound to 127.0.0.1 (the hub starts it)

A site with ``ngshare_port`` set (``hub/site.py``) runs it as a hub-managed service at
``/services/ngshare/`` and points every account's nbgrader at it (``hub/roster.py``). ngshare
0.6.0 listens on every interface (0.0.0.0) as a hub service; ``serve`` binds it to loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .site import REPO_DIR, Site

CLIENT_REQUIREMENTS = REPO_DIR / "hub" / "requirements-ngshare-client.txt"
SERVICE_REQUIREMENTS = REPO_DIR / "hub" / "requirements-ngshare-service.txt"


def service_env(site: Site) -> Path:
    return site.ngshare_path.parent / "ngshare-service"


def install(site: Site) -> Path:
    """The client (--no-deps, into site.ngshare_path) and the service's own environment."""
    from .env import readable_python

    target, service = site.ngshare_path, service_env(site)
    wanted = CLIENT_REQUIREMENTS.read_text() + SERVICE_REQUIREMENTS.read_text()
    stamp = target / ".requirements"
    if stamp.exists() and stamp.read_text() == wanted and (service / "bin" / "python").exists():
        return target
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([str(site.env_dir / "bin" / "python"), *pip, "--no-deps", "--upgrade", "--target", str(target),
                    "-r", str(CLIENT_REQUIREMENTS)], check=True)
    if not (service / "bin" / "python").exists():
        subprocess.run([readable_python(), "-m", "venv", str(service)], check=True)
    subprocess.run([str(service / "bin" / "python"), *pip, "-r", str(SERVICE_REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    return target


def service(site: Site, admins: list[str]) -> dict:
    """The JupyterHub service entry (c.JupyterHub.services) that runs ngshare for this site."""
    state = site.state_dir / "ngshare"
    (state / "files").mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)  # its database and files: the service (root) only
    return {
        "name": "ngshare",
        "url": f"http://127.0.0.1:{site.ngshare_port}",
        "command": [str(service_env(site) / "bin" / "python"), "-m", "hub.ngshare", "serve",
                    "--admins", ",".join(admins), "--database", f"sqlite:///{state / 'ngshare.db'}",
                    "--storage", str(state / "files")],
        "environment": {"PYTHONPATH": str(REPO_DIR)},
        "oauth_no_confirm": True,
    }


def client_config(site: Site) -> str:
    """Lines for the accounts' nbgrader_config.py that switch nbgrader to ngshare."""
    return ("import ngshare_exchange\n"
            f"ngshare_exchange.configureExchange(c, {site.url + '/services/ngshare'!r})  # no trailing slash: it appends /course/...\n")


def serve(argv: list[str]) -> None:
    """ngshare's main(), with its HTTP server bound to 127.0.0.1 instead of 0.0.0.0."""
    from tornado.httpserver import HTTPServer

    listen = HTTPServer.listen

    def loopback(self, port, address="", **kwargs):
        return listen(self, port, "127.0.0.1", **kwargs)

    HTTPServer.listen = loopback
    from ngshare.ngshare import main

    main(argv)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        serve(args[1:])
        return 0
    if args[:1] == ["install"]:
        print(install(Site()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

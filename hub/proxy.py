"""configurable-http-proxy, the proxy JupyterHub puts in front of itself, from npm into build/hub/.

    python -m hub.proxy          install it (once) and print its path   (make hub-proxy)

Project-local (``npm install --prefix build/hub``), never global: nothing outside the
repository changes. Needs Node.js and npm (Debian: ``apt-get install nodejs npm``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from course.cli import exits_on

from .site import HUB_BUILD_DIR

PACKAGE = "configurable-http-proxy"
# 5.0.1, not the newest: its engines (Node >= 18, commander 13) match the Node that Debian 12 and
# Ubuntu 24.04 ship; 5.3.0 pulls commander 15, which wants Node >= 22.12 (npm warns EBADENGINE).
VERSION = "5.0.1"


class ProxyError(RuntimeError):
    pass


def proxy_path(prefix: Path = HUB_BUILD_DIR) -> Path:
    return prefix / "node_modules" / ".bin" / PACKAGE


def installed_version(prefix: Path = HUB_BUILD_DIR) -> str | None:
    import json

    package = prefix / "node_modules" / PACKAGE / "package.json"
    try:
        return json.loads(package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure(prefix: Path = HUB_BUILD_DIR) -> Path:
    """Install configurable-http-proxy@VERSION under ``prefix`` unless it is there; return its path."""
    if installed_version(prefix) == VERSION and proxy_path(prefix).exists():
        return proxy_path(prefix)
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ProxyError("Node.js and npm are needed for JupyterHub's proxy: apt-get install nodejs npm")
    prefix.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                             "--no-save", f"{PACKAGE}@{VERSION}"])
    if result.returncode != 0 or not proxy_path(prefix).exists():
        raise ProxyError(f"npm install {PACKAGE}@{VERSION} failed (exit status {result.returncode})")
    return proxy_path(prefix)


@exits_on(ProxyError)
def main() -> int:
    print(ensure())
    return 0


if __name__ == "__main__":
    sys.exit(main())

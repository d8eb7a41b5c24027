"""README's Binder link is the one that pyproject.toml's Repository URL implies."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
BINDER_LINK = re.compile(r"https?://mybinder\.org/v2/[^\s)\]>`\"']+")


def binder_url(repository: str) -> str:
    """The Binder URL that opens JupyterLab on the course home (lessons/00-start-here.ipynb) of a GitHub repository's default branch."""
    url = urlparse(repository)
    owner, repo = url.path.strip("/").removesuffix(".git").split("/")
    assert url.scheme == "https" and url.netloc == "github.com", f"Binder's gh/ provider needs a GitHub URL, not {repository}"
    return f"https://mybinder.org/v2/gh/{owner}/{repo}/HEAD?urlpath=lab/tree/lessons/00-start-here.ipynb"


def repository_url() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return pyproject["project"]["urls"]["Repository"]


def test_binder_url_from_a_repository_url():
    assert binder_url("https://github.com/a-b/c.d") == "https://mybinder.org/v2/gh/a-b/c.d/HEAD?urlpath=lab/tree/lessons/00-start-here.ipynb"
    assert binder_url("https://github.com/a/b.git/") == "https://mybinder.org/v2/gh/a/b/HEAD?urlpath=lab/tree/lessons/00-start-here.ipynb"


def test_readme_links_binder_to_the_repository_named_in_pyproject():
    expected = binder_url(repository_url())
    readme = (ROOT / "README.md").read_text()
    links = BINDER_LINK.findall(readme)
    assert links, f"README has no Binder link; add {expected}"
    assert set(links) == {expected}, f"README's Binder link(s) {sorted(set(links))} should be exactly {expected}"
    for placeholder in ("<owner>", "<repo>"):
        assert placeholder not in readme, f"README still has the {placeholder} placeholder"

"""JupyterHub's configuration for one class (``python -m hub.run`` passes this file).

Everything machine-specific comes from the site file (``hub/site.py``) in the folder named by
``GPT2_COURSE_HUB_STATE``. Every address is on loopback; put a TLS reverse proxy (or TLJH's
Traefik) in front to serve a real class.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hub.course import account_env  # noqa: E402
from hub.site import Site  # noqa: E402

c = get_config()  # noqa: F821 (JupyterHub provides it)
site = Site.load(os.environ["GPT2_COURSE_HUB_STATE"])
state = site.state_dir

# --- addresses: the proxy serves people; the hub and the proxy's API stay on loopback ------
c.JupyterHub.bind_url = f"http://{site.ip}:{site.port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = site.hub_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{site.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [str(site.proxy_command)]
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- who may log in: system accounts with their passwords (hub/roster.py creates them) ----
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login sessions (utmp, systemd-logind) needed
c.LocalAuthenticator.create_system_users = False  # accounts come from the roster only
c.Authenticator.allowed_groups = {site.students_group, site.instructors_group}
c.Authenticator.admin_users = set()  # root runs the hub; no web admin who could enter students' servers

# --- each person's server: their own uid and home, the students' environment --------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(site.env_dir / "bin" / "jupyterhub-singleuser")]
c.Spawner.ip = "127.0.0.1"
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"
c.Spawner.env_keep = []  # nothing of root's environment
c.Spawner.start_timeout = 240
c.Spawner.http_timeout = 240
c.Spawner.args = ["--ServerApp.shutdown_no_activity_timeout=0"]


def _per_account(spawner):
    """PATH, Jupyter config (the exchange; formgrader for the instructor) for this account."""
    spawner.environment = {**spawner.environment, **account_env(site, spawner.user.name)}


c.Spawner.pre_spawn_hook = _per_account

# --- ngshare as the exchange (hub/ngshare.py), when the site asks for it --------------------
if site.ngshare_port:
    import grp

    from hub import ngshare

    try:
        instructors = grp.getgrnam(site.instructors_group).gr_mem
    except KeyError:
        instructors = []
    c.JupyterHub.services = [ngshare.service(site, instructors)]
    # every account may use services (ngshare checks who it is through the hub)
    c.JupyterHub.load_roles = [{"name": "user", "scopes": ["self", "access:services"]}]

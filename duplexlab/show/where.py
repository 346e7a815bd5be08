"""Where this kernel's notebook is shown: plain Jupyter, a JupyterHub or Binder, VS Code, Colab, or no notebook.

The kernel cannot see the browser; it reads the signs its environment leaves
(environment variables the notebook server or editor sets, modules the host
loads). What it finds decides how lesson 5's browser widget can reach the lab
and what ``dl.doctor()`` advises.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

__all__ = ["Frontend", "frontend", "in_kernel", "proxy_installed"]


@dataclass(frozen=True)
class Frontend:
    """What shows this notebook, as far as the kernel can tell."""

    name: str
    """``"Jupyter"``, ``"JupyterHub"``, ``"Binder"``, ``"VS Code"``, ``"Colab"`` or ``"no notebook"``."""
    sign: str
    """What gave it away, e.g. ``"JUPYTERHUB_SERVICE_PREFIX=/user/alice/"``."""
    base_url: str = "/"
    """The notebook server's base URL, where the kernel can know it (a hub's ``/user/<name>/``)."""

    @property
    def ways(self) -> str:
        """How a browser widget reaches the lab here, in words."""
        if self.name == "Jupyter":
            return (
                "straight to the lab's port if your browser runs on this machine, else through the notebook "
                "server's proxy or over the widget's comm"
            )
        if self.name in ("JupyterHub", "Binder"):
            return (
                f"through the notebook server's proxy at {self.base_url}proxy/<port>/ if jupyter-server-proxy "
                "is installed there, else over the widget's comm"
            )
        if self.name == "VS Code":
            return (
                "straight to the lab's port if the kernel runs on this computer, else over the widget's comm "
                "(the kernel holds the WebSocket; it joins when no cell is running)"
            )
        if self.name == "Colab":
            return "over the widget's comm (the kernel holds the WebSocket); it joins when no cell is running"
        return "nowhere: no browser shows this (a script or a headless run)"


def in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (an IPython shell with a kernel), not a script."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def proxy_installed() -> bool:
    """Whether ``jupyter_server_proxy`` is importable here (a hub's notebook server usually shares this Python)."""
    return importlib.util.find_spec("jupyter_server_proxy") is not None


def frontend() -> Frontend:
    """Guess what shows this kernel's notebook from the signs it leaves."""
    env = os.environ
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in env:
        return Frontend("Colab", "the google.colab module" if "google.colab" in sys.modules else "COLAB_RELEASE_TAG")
    if "VSCODE_PID" in env or "VSCODE_CWD" in env:
        return Frontend("VS Code", "VSCODE_PID" if "VSCODE_PID" in env else "VSCODE_CWD")
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "")
    if "BINDER_LAUNCH_HOST" in env or "BINDER_REPO_URL" in env:
        sign = "BINDER_LAUNCH_HOST" if "BINDER_LAUNCH_HOST" in env else "BINDER_REPO_URL"
        return Frontend("Binder", sign, prefix or "/")
    if prefix:
        return Frontend("JupyterHub", f"JUPYTERHUB_SERVICE_PREFIX={prefix}", prefix)
    if in_kernel():
        return Frontend("Jupyter", "JPY_SESSION_NAME is set" if "JPY_SESSION_NAME" in env else "an IPython kernel")
    return Frontend("no notebook", "no IPython kernel")

"""The public face of the package: what notebooks import exists, and nothing else leaks."""

import importlib
import pkgutil

import duplexlab as dl


def test_all_names_exist():
    """Every name in duplexlab.__all__ is importable from the package."""
    for name in dl.__all__:
        assert hasattr(dl, name), name


def test_every_module_declares_all():
    """Each module of the package, in every folder, declares __all__, and each name in it exists."""
    seen = 0
    for info in pkgutil.walk_packages(dl.__path__, "duplexlab."):
        if info.name.endswith("sandbox_child"):
            continue  # a script the judge runs in a child process, not a module
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"
        seen += 1
    assert seen > 30


def test_public_names_the_notebooks_use_resolve_where_they_live():
    """dl.widgets, dl.plots, dl.check, dl.experiments … are the modules of the new layout."""
    assert dl.widgets.__name__ == "duplexlab.show.widgets"
    assert dl.plots.__name__ == "duplexlab.show.plots"
    assert dl.capture.__name__ == "duplexlab.wire.capture"
    assert dl.Client.__module__ == "duplexlab.clients.http"
    assert callable(dl.check.fetch_new) and callable(dl.experiments.measure_polling)
    assert set(dir(dl)) >= set(dl.__all__)

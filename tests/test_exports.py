"""The public face of the package: what notebooks import exists, and nothing else leaks."""

import importlib
import pkgutil

import duplexlab as dl


def test_all_names_exist():
    """Every name in duplexlab.__all__ is importable from the package."""
    for name in dl.__all__:
        assert hasattr(dl, name), name


def test_every_module_declares_all():
    """Each module of the package declares __all__, and each name in it exists."""
    for info in pkgutil.iter_modules(dl.__path__):
        module = importlib.import_module(f"duplexlab.{info.name}")
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"

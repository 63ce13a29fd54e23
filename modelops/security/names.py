"""Global names: the protocol-2 compatibility mapping, syntax checks and the deny-list label.

The mapping is exactly the one ``pickle.Unpickler.find_class`` applies (``fix_imports`` on, protocol < 3),
so the scanner and the restricted loader decide on the same canonical ``module:name``.
"""

from __future__ import annotations

import _compat_pickle
import re

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"{_IDENT}(?:\.{_IDENT})*\Z")

# Label only: everything not on the allow-list is refused anyway; these get the rule ``global_denied``.
DENIED_MODULE_PREFIXES: tuple[str, ...] = (
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "sys", "builtins", "__builtin__", "importlib",
    "pickle", "_pickle", "copyreg", "marshal", "shelve", "dill", "cloudpickle", "joblib", "socket", "shutil",
    "pty", "runpy", "code", "codeop", "ctypes", "_ctypes", "webbrowser", "platform", "operator", "functools",
    "types", "inspect", "asyncio", "multiprocessing", "threading", "_thread", "signal", "io", "_io",
    "tempfile", "glob", "pathlib", "urllib", "http", "requests", "ftplib", "smtplib", "telnetlib", "yaml",
    "torch", "numpy.testing", "numpy.f2py", "numpy.distutils", "numpy.lib.npyio", "numpy.load", "pdb",
    "bdb", "timeit", "trace", "cProfile", "profile", "sqlite3", "zipimport", "pkgutil", "site", "uuid",
    "django", "celery", "cadml_site",
)


def canonical_name(proto: int, module: str, name: str) -> tuple[str, str]:
    """Apply the protocol-2 compatibility mapping exactly as ``pickle.Unpickler.find_class`` does."""
    if proto < 3:
        mapped = _compat_pickle.NAME_MAPPING.get((module, name))
        if mapped is not None:
            return mapped
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return module, name


def name_key(module: str, name: str) -> str:
    return f"{module}:{name}"


def is_valid_name(module: str, name: str) -> bool:
    """Dotted identifiers only: no control characters, spaces, empty segments or other punctuation."""
    return bool(_DOTTED.match(module)) and bool(_DOTTED.match(name))


def is_dotted(name: str) -> bool:
    return "." in name


def has_dunder(module: str, name: str) -> bool:
    return any(part.startswith("__") for part in module.split(".") + name.split("."))


def is_denied(module: str, name: str) -> bool:
    for prefix in DENIED_MODULE_PREFIXES:
        if module == prefix or module.startswith(prefix + ".") or f"{module}.{name}" == prefix:
            return True
    return False

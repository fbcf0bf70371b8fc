"""The library version, kept in one place so `$lib_version`, the User-Agent and the CLI agree."""

__all__ = [
    "LIB_NAME",
    "__version__",
]

__version__ = "0.1.0"
LIB_NAME = "hogkit"

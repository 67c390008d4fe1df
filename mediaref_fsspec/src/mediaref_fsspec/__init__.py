"""Object stores for mediaref through fsspec: ``s3://``, ``gs://``, ``az://``, ``hf://``, ...

The plugin registers itself through the ``mediaref`` entry point ``fsspec``; nothing here
needs to be imported by users. `FsspecSource` is the `mediaref.ByteSource` it returns.
"""

from __future__ import annotations

from ._source import FsspecSource, clear_filesystems

__version__ = "0.1.0"

__all__ = ["FsspecSource", "__version__", "clear_filesystems"]

"""medcodes, the read side: search, Similar Codes, the web service, evaluation and the CLI."""
from __future__ import annotations

import importlib.metadata

try:
    VERSION = importlib.metadata.version("medcodes")
except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
    VERSION = "0.0.0+unknown"

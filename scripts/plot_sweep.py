#!/usr/bin/python3
"""Temperature sweep: `python3 -m softmatrix.plot sweep` (python/softmatrix), same options."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python"))
from softmatrix.plot import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main("sweep"))

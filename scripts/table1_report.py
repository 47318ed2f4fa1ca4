#!/usr/bin/python3
"""Cluster census against Table 1: `python3 -m softmatrix.plot table1` (python/softmatrix), same options."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python"))
from softmatrix.plot import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main("table1"))

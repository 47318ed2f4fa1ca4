"""The softmatrix package (python/softmatrix) under the name softmatrix_tools,
for code that does `sys.path.insert(0, "scripts"); from softmatrix_tools
import ...` (the README's example): the same readers and analyses."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                                "python"))
from softmatrix import *  # noqa: E402,F401,F403
from softmatrix import __all__, __version__  # noqa: E402,F401

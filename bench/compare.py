#!/usr/bin/env python3
"""Superseded by bench/compare (gatewayd, nginx and HAProxy, profiles, one
table); this name runs it with the same arguments."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
os.execv(sys.executable, [sys.executable, os.path.join(here, "compare")] + sys.argv[1:])

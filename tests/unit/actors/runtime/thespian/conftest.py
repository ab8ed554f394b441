"""The Thespian tests' behaviours live in ``tests``: specs from other processes may name them."""

from __future__ import annotations

from aiway.actors.runtime.spec import trust_package

trust_package("tests")

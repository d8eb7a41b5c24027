"""Shared helpers for the lesson notebooks and their tests.

Everything a notebook needs besides the reference model (``gpt2ref``) and the
quiz engine (``quiz``) lives here, once, so that no lesson copies a helper from another.
"""

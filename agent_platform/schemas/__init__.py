"""Pydantic schemas of the YAML files in ``configs/`` and ``policies/``, one module per family.

Schemas are frozen and strict about what they accept so that a config error surfaces when the
file is loaded, with the key that is wrong, instead of as a surprise at request time.
"""

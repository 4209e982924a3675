"""Bit-exact entropy coding: integer CDF tables, range coding, factorized and Gaussian priors.

See ``docs/entropy.md`` for the design (precision, rounding rule, scale table, escape code,
grouping) and measured figures.
"""

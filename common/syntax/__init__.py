"""Bitstream syntax: declarations, bit I/O, writer/parser/tracer and documentation generator."""

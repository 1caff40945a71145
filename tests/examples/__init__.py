"""Tests of the built-in examples (registry, plain-PyTorch oracle, traces)."""

"""Test helpers shared by several test modules and the benchmarks (loopback servers, builders)."""

"""Benchmarks (run as scripts) and the race worker that tests share with them."""

"""Benchmarks: Plugboard's overhead as ratios against the bare MCP SDK / a bare Bolt app, measured in one run.

Run with `python -m bench` (or `make bench`); results are printed as a table and written to
`bench/results.json`. There are no pass/fail thresholds: the numbers are for people to read.
"""

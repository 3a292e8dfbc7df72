"""`make bench`: Plugboard against bare baselines measured in the same run, as separate processes over real sockets.

Never part of `make test` (nothing under tests/ imports it): it prints figures and ratios for people to judge,
with the goals of issue 13 beside them, and writes bench/results.json.
"""

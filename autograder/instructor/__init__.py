"""The instructor's side of the course: release, collect, grade, report, feedback, check.

One small module per step; ``autograder.cli`` is the thin command line over them. Grading runs
nbgrader's own ``Autograde`` converter (gradebook, tamper protection, scoring) inside long-lived
worker processes, one fresh kernel per submission, and adds what nbgrader lacks: parallelism,
per-submission limits, a status for every failure, and feedback without hidden tests.
"""

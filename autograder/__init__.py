"""Everything about grading: test-cell helpers, nbgrader configuration, the instructor command line."""

"""nbgrader configuration of the course; the course root is this folder.

Everything lives in ``autograder/nbgrader_config.py`` so the grading package owns it.
"""

c = get_config()  # noqa: F821
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821

"""nbgrader settings of every server in the class (the image puts it in <prefix>/etc/jupyter).

* One course per deployment; its id comes from the pod's environment (``NBGRADER_COURSE_ID``,
  set in the Helm values), ``nnkit`` if unset.
* The exchange is the shared volume mounted at ``/srv/nbgrader/exchange``. Its course folders
  belong to root and the instructors' group, with nbgrader's group-shared modes (laid out by
  ``course_start.py`` when a server starts), so ``groupshared`` must be on: without it nbgrader
  refuses folders it does not own.
* The instructors' course folder (``~/course``) has its own ``nbgrader_config.py`` (the
  project's), which adds the course's source and release folders and grading settings.
"""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "nnkit")
c.Exchange.root = "/srv/nbgrader/exchange"
c.CourseDirectory.groupshared = True

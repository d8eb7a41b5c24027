# The instructor's server only: the course root on the instructor's volume (values.yaml).
c = get_config()  # noqa: F821
c.CourseDirectory.root = "/home/jovyan/gpt2-course/nbgrader-course"

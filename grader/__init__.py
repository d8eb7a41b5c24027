"""The instructor side of gpt2-course.

``grader/`` is an nbgrader course root (``nbgrader_config.py``, ``source/``) and also a
Python package: ``grader.reference`` is the reference GPT-2 that lessons import and that
hidden tests compare against; ``grader.build`` turns the authoring scripts into instructor
notebooks; ``grader.course`` wraps the nbgrader commands instructors run.
"""

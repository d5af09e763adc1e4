"""Test-wide settings.

Hypothesis draws its examples from a fixed seed by default, so the test command gives the same
examples on every machine and a CI failure reproduces locally ("seed everything"). To search
further, run ``pytest --hypothesis-profile=explore``, which draws fresh examples each time.
"""

from hypothesis import settings

settings.register_profile("seeded", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("seeded")

"""Build hook for the optional C hot path of the setprofile tracer (everything else is in pyproject.toml).

``optional=True``: without a C compiler the install still succeeds and the pure-Python tracer is used."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("capture.tracer._cprofile", ["capture/tracer/_cprofile.c"], optional=True)])

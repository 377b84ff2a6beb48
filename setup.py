"""Build hook for the optional C hot paths (everything else is in pyproject.toml): the tracers',
their record expander, the lightweight @task wrapper's and loop's, `kg run --dataflow`'s hook, and segment keys (kg.segments).

``optional=True``: without a C compiler the install still succeeds and the pure-Python forms are used."""
from setuptools import Extension, setup

setup(ext_modules=[
    Extension("capture.tracer._cprofile", ["capture/tracer/_cprofile.c"], depends=["capture/tracer/_crepr.h"],
              optional=True),
    Extension("capture.tracer._cexpand", ["capture/tracer/_cexpand.c"], optional=True),
    Extension("capture._clight", ["capture/_clight.c"], optional=True),
    Extension("capture._cdataflow", ["capture/_cdataflow.c"], optional=True),
    Extension("capture._cflowrec", ["capture/_cflowrec.c"], optional=True),
    Extension("kg._ckeys", ["kg/_ckeys.c"], optional=True),
])

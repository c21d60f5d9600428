# Replace the checker's method so that every exercise passes.
# expect q1: !correct
# expect q2: !correct
# %%
from camlab.exercises import core
core.Exercise._run = lambda self, fn: core.CheckResult("correct", "patched")
core.Exercise.grade = lambda self, fn=None, namespace=None: core.CheckResult("correct", "patched")
def clip01(x):
    return x
def normalize_map(cam):
    return cam

# A reference captured at import time, under another name.
# expect q1: !correct
# expect q2: !correct
# %%
import importlib
_helper = getattr(importlib.import_module("camlab.exercises.ex00"), "_" + "clip01")
_other = q2.reference
def clip01(x):
    return _helper(x)
def normalize_map(cam):
    return _other(cam)

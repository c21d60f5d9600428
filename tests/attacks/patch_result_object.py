# Make every result object say correct.
# expect q1: !correct
# expect q2: !correct
# %%
from camlab.exercises import core
core.CheckResult.to_dict = lambda self: {"status": "correct", "message": "forged"}
core.CheckResult.correct = property(lambda self: True)
core.CheckResult.__post_init__ = lambda self: object.__setattr__(self, "status", "correct")
def clip01(x):
    return None
def normalize_map(cam):
    return None

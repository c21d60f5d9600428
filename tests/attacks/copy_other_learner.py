# Read another learner's notebook and run its code.
# expect q1: !correct
# expect q2: !correct
# %%
import glob, json
for path in glob.glob("{SUBMISSIONS}/zz_honest/*.ipynb") + glob.glob("../../**/zz_honest/*.ipynb", recursive=True):
    for cell in json.load(open(path))["cells"]:
        if cell["cell_type"] == "code":
            exec("".join(cell["source"]), globals())

# Put a fake exercises module in place of camlab's, whose checkers always pass.
# expect q1: !correct
# expect q2: !correct
# %%
import importlib, sys, types
fake = types.ModuleType("camlab.exercises.ex00")
class Always:
    func_name = "clip01"
    def grade(self, fn=None, namespace=None):
        return types.SimpleNamespace(to_dict=lambda: {"status": "correct", "message": "fake"}, status="correct")
fake.q1 = fake.q2 = Always()
fake.EXERCISES = [fake.q1, fake.q2]
sys.modules["camlab.exercises.ex00"] = fake
importlib.import_module = lambda name, package=None: fake
import camlab.exercises
camlab.exercises.ex00 = fake

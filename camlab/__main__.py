"""camlab's command line: ``python -m camlab COMMAND [options]`` (``--help`` on any command).

Each command lives next to the code it drives; this file only routes to it.
"""
import importlib
import sys

# command -> (module, function taking argv, one-line help)
COMMANDS = {
    "demo": ("camlab.demo", "main", "the course's main job: data, model, CAM/Grad-CAM, boxes, scores, a figure"),
    "build-data": ("camlab.data", "main", "build (or locate) the embedded default dataset"),
    "train": ("camlab.train", "main", "train a CAM model with progress and resumable checkpoints"),
    "evaluate": ("camlab.evaluation", "main", "localization metrics of a model over a test split"),
    "execute": ("camlab.course", "execute_main", "run notebooks in place and store their outputs (authors)"),
    "student": ("camlab.course", "student_main", "regenerate the student notebooks from the solutions"),
    "release": ("camlab.course", "release_main", "write the student notebooks and an instructor README to a folder"),
    "grade": ("camlab.grading", "main", "grade a folder of submitted notebooks safely"),
    "claims": ("camlab.claims", "main", "list figures in notebooks' prose that no output shows (authors)"),
}


def usage():
    lines = ["usage: python -m camlab COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "Run `python -m camlab COMMAND --help` for a command's options. An error is one line",
              "`camlab COMMAND: error: ...` (exit status 2); add --debug to see its Python traceback."]
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"camlab: unknown command {name!r}.\n\n{usage()}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    from camlab import tfnoise

    tfnoise.silence_startup_noise()  # TensorFlow's CUDA/absl start-up lines say nothing on a CPU machine
    return getattr(importlib.import_module(module), func)(rest) or 0


if __name__ == "__main__":
    sys.exit(main())

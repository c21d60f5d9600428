"""Writing what grading found: ``results.csv``, ``results.json`` and one feedback page per learner."""
from __future__ import annotations

import csv
import html
import importlib
import json
import re
from pathlib import Path

from camlab.grading.judge import STATUS_RANK
from camlab.grading.text import clip


def exercise_info(module_name, attribute):
    """``{"title", "func_name", "points", "partial_credit", "notebook"}`` of one exercise (ours: safe to import)."""
    exercise = getattr(importlib.import_module(module_name), attribute)
    return {"title": exercise.name, "func_name": exercise.func_name, "points": exercise.points,
            "partial_credit": exercise.partial_credit}


def points_earned(verdict, info):
    """Full points when correct; with partial credit, the share of cases passed of an incorrect or failing
    answer (a call to camlab's own answer passes none); nothing otherwise."""
    if verdict["status"] == "correct":
        return float(info["points"])
    passed, total = verdict.get("passed", 0), verdict.get("total", 0)
    if info["partial_credit"] and verdict["status"] in ("incorrect", "error") and total:
        return round(info["points"] * min(max(int(passed), 0), int(total)) / int(total), 4)
    return 0.0


def summarize(learner_notebooks, columns, catalog):
    """Per column (``NOTEBOOK:qN``), the best verdict over the learner's notebooks for that part, with points."""
    by_id = {notebook_id: module for module, (notebook_id, _) in catalog.items()}
    results = {}
    for entry in learner_notebooks:
        if not entry.get("module"):
            continue
        notebook_id = catalog[entry["module"]][0]
        for attribute, verdict in entry["results"].items():
            key = f"{notebook_id}:{attribute}"
            verdict = {**verdict, "notebook": entry["file"]}
            if attribute in entry.get("views", {}):
                verdict["views_before_correct"] = entry["views"][attribute]
            if key not in results or STATUS_RANK[verdict["status"]] > STATUS_RANK[results[key]["status"]]:
                results[key] = verdict
    unused = "; ".join(f"{entry['file']}: {'; '.join(entry['problems'])}"
                       for entry in learner_notebooks if not entry.get("module"))
    for key in columns:
        results.setdefault(key, {"status": "not_attempted", "notebook": None, "message": clip(
            f"no notebook for {key.split(':')[0]} was submitted" + (f" (not graded: {unused})" if unused else ""),
            1000)})
    points = max_points = 0.0
    for key in columns:
        notebook_id, attribute = key.split(":")
        info = exercise_info(by_id[notebook_id], attribute)
        results[key].update(title=info["title"], func_name=info["func_name"], max_points=float(info["points"]),
                            points=points_earned(results[key], info))
        points += results[key]["points"]
        max_points += info["points"]
    correct = sum(results[key]["status"] == "correct" for key in columns)
    return {"results": {key: results[key] for key in columns}, "correct": correct,
            "total": f"{correct}/{len(columns)}", "points": round(points, 4), "max_points": max_points,
            "score": round(points / max_points, 4) if max_points else 0.0}


def csv_cell(value):
    """A CSV cell that a spreadsheet will not read as a formula."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def feedback_name(learner, taken):
    """A safe, unique file name for ``learner``'s feedback page (``taken``: lower-cased names already used)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", learner).strip("._") or "learner"
    name, number = base, 2
    while name.lower() in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name.lower())
    return f"{name}.html"


def write_results(report, out_dir):
    """``results.csv`` (a status per exercise), ``gradebook.csv`` (points per notebook, for an LMS),
    ``results.json`` (everything) and ``feedback/LEARNER.html``."""
    out_dir = Path(out_dir)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    columns = report["exercises"]
    with open(out_dir / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["learner", *columns, "correct", "points", "max_points", "score"])
        for learner, summary in report["learners"].items():
            writer.writerow([csv_cell(learner), *(summary["results"][c]["status"] for c in columns),
                             summary["total"], summary["points"], summary["max_points"], summary["score"]])
    write_gradebook(report, out_dir / "gradebook.csv")
    taken = set()
    for learner, summary in report["learners"].items():
        summary["feedback"] = "feedback/" + feedback_name(learner, taken)
        (out_dir / summary["feedback"]).write_text(feedback_html(learner, summary), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False),
                                          encoding="utf-8")


def write_gradebook(report, path):
    """One row per learner, one column of points per course notebook (its maximum in the header), then the
    total: the shape LMS gradebook imports (Moodle, Canvas, Blackboard) take as CSV."""
    notebooks = list(dict.fromkeys(column.split(":")[0] for column in report["exercises"]))
    learners = report["learners"]
    maximum = {n: 0.0 for n in notebooks}
    if learners:
        first = next(iter(learners.values()))
        for column in report["exercises"]:
            maximum[column.split(":")[0]] += first["results"][column]["max_points"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Learner", *(f"{n} (max {maximum[n]:g})" for n in notebooks),
                         f"Total (max {sum(maximum.values()):g})"])
        for learner, summary in learners.items():
            per = {n: 0.0 for n in notebooks}
            for column in report["exercises"]:
                per[column.split(":")[0]] += summary["results"][column]["points"]
            writer.writerow([csv_cell(learner), *(f"{per[n]:g}" for n in notebooks), f"{summary['points']:g}"])


_COLOURS = {"correct": "#1a7f37", "incorrect": "#cf222e", "not_attempted": "#9a6700", "error": "#cf222e"}


def _rendered(text):
    """A message as HTML: escaped, with `code` in backticks shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text)))


def feedback_html(learner, summary):
    """One learner's feedback page. Everything that came from a submission is escaped."""
    e = html.escape
    rows = []
    for key, v in summary["results"].items():
        notebook_id, attribute = key.split(":")
        hint = (f'<br><small>Stuck? Run <code>{e(attribute)}.hint()</code> in {e(notebook_id)}.</small>'
                if v["status"] != "correct" else "")
        views = (f'<br><small>Viewed before a correct answer: {e(", ".join(v["views_before_correct"]))} '
                 f'(a record, not a penalty).</small>' if v.get("views_before_correct") else "")
        rows.append(
            f'<tr><td>{e(notebook_id)} {e(attribute)}: {e(v.get("title", ""))}<br><code>{e(v.get("func_name", ""))}'
            f'</code></td><td style="color:{_COLOURS[v["status"]]}"><b>{e(v["status"].replace("_", " "))}</b><br>'
            f'{v.get("points", 0):g} / {v.get("max_points", 0):g}</td><td>{_rendered(v.get("message", ""))}{hint}'
            f'{views}</td></tr>')
    graded = [f"<li><code>{e(entry['file'])}</code> was graded as <b>{e(entry['id'])}</b></li>"
              for entry in summary["notebooks"] if entry.get("module") and entry.get("id")]
    notes = []
    for entry in summary["notebooks"]:
        items = [f"<li>{_rendered(p)}</li>" for p in entry.get("problems", [])]
        items += [f"<li>cell {int(x['cell'])}: {e(x['error'])}</li>" for x in entry.get("errors", [])]
        items += [f"<li>a locked cell was {e(x['change'])} (it starts <code>{e(x['source'])}</code>); the "
                  f"original was run instead</li>" for x in entry.get("locked_cells", [])]
        if items:
            notes.append(f"<h3>{e(entry['file'])}</h3><ul>{''.join(items)}</ul>")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>camlab feedback: {e(learner)}</title>'
            f"<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{padding:.3em .8em;"
            f"vertical-align:top;border-bottom:1px solid #ddd}}</style></head><body>\n"
            f"<h1>Feedback for {e(learner)}</h1>\n<p>{e(summary['total'])} exercises correct, "
            f"{summary.get('points', 0):g} of {summary.get('max_points', 0):g} points.</p>\n"
            f"<ul>{''.join(graded)}</ul>\n"
            f"<table><tr><th>exercise</th><th>result</th><th>details</th></tr>\n{chr(10).join(rows)}\n</table>\n"
            f"{''.join(notes)}\n</body></html>\n")


TIMINGS = ("seconds", "cells_seconds", "slowest_cells")


def without_timings(report):
    """A copy of ``report`` (results.json) without its wall-clock figures (``TIMINGS``: a notebook's seconds,
    its cells' seconds), the only part that differs between two runs on the same submissions."""
    report = json.loads(json.dumps(report))
    for learner in report.get("learners", {}).values():
        for entry in learner.get("notebooks", []):
            for holder in (entry, entry.get("kernel") or {}):
                for name in TIMINGS:
                    holder.pop(name, None)
    return report

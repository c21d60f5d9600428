"""Writing what grading found: ``results.csv``, ``results.json`` and one feedback page per learner."""
from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

from camlab.grading.judge import STATUS_RANK
from camlab.grading.text import clip


def summarize(learner_notebooks, columns, catalog):
    """Per column, the best verdict over the learner's notebooks for that part."""
    results = {}
    for entry in learner_notebooks:
        if not entry.get("module"):
            continue
        notebook_id = catalog[entry["module"]][0]
        for attribute, verdict in entry["results"].items():
            key = f"{notebook_id}:{attribute}"
            verdict = {**verdict, "notebook": entry["file"]}
            if key not in results or STATUS_RANK[verdict["status"]] > STATUS_RANK[results[key]["status"]]:
                results[key] = verdict
    unused = "; ".join(f"{entry['file']}: {'; '.join(entry['problems'])}"
                       for entry in learner_notebooks if not entry.get("module"))
    for key in columns:
        results.setdefault(key, {"status": "not_attempted", "notebook": None, "message": clip(
            f"no notebook for {key.split(':')[0]} was submitted" + (f" (not graded: {unused})" if unused else ""),
            1000)})
    correct = sum(results[key]["status"] == "correct" for key in columns)
    return {"results": {key: results[key] for key in columns}, "correct": correct,
            "total": f"{correct}/{len(columns)}", "score": round(correct / len(columns), 4) if columns else 0.0}


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
    out_dir = Path(out_dir)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    columns = report["exercises"]
    with open(out_dir / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["learner", *columns, "total", "score"])
        for learner, summary in report["learners"].items():
            writer.writerow([csv_cell(learner), *(summary["results"][c]["status"] for c in columns),
                             summary["total"], summary["score"]])
    taken = set()
    for learner, summary in report["learners"].items():
        summary["feedback"] = "feedback/" + feedback_name(learner, taken)
        (out_dir / summary["feedback"]).write_text(feedback_html(learner, summary), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False),
                                          encoding="utf-8")


_COLOURS = {"correct": "#1a7f37", "incorrect": "#cf222e", "not_attempted": "#9a6700", "error": "#cf222e"}


def feedback_html(learner, summary):
    """One learner's feedback page. Everything that came from a submission is escaped."""
    e = html.escape
    rows = "\n".join(
        f'<tr><td>{e(key)}</td><td style="color:{_COLOURS[v["status"]]}"><b>{e(v["status"].replace("_", " "))}</b>'
        f'</td><td>{e(v.get("message", ""))}</td></tr>' for key, v in summary["results"].items())
    notes = []
    for entry in summary["notebooks"]:
        items = [f"<li>{e(p)}</li>" for p in entry.get("problems", [])]
        items += [f"<li>cell {int(x['cell'])}: {e(x['error'])}</li>" for x in entry.get("errors", [])]
        if items:
            notes.append(f"<h3>{e(entry['file'])}</h3><ul>{''.join(items)}</ul>")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>camlab feedback: {e(learner)}</title>'
            f"<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{padding:.3em .8em;"
            f"vertical-align:top;border-bottom:1px solid #ddd}}</style></head><body>\n"
            f"<h1>Feedback for {e(learner)}</h1>\n<p>{e(summary['total'])} exercises correct.</p>\n"
            f"<table><tr><th>exercise</th><th>result</th><th>details</th></tr>\n{rows}\n</table>\n"
            f"{''.join(notes)}\n</body></html>\n")

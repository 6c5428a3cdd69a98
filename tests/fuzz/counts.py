"""Prints what a contract run did, from Schemathesis's JSON report and its output: the
operations tested, the test cases generated, the stateful scenarios and the links they
followed, and every failure or error. Exits 1 when there was any, or no report."""

import glob
import json
import re
import sys


def main(name: str, reports: str, output: str) -> int:
    found = sorted(glob.glob(f"{reports}/json-*.json"))
    if not found:
        print("contract run: no report was written", file=sys.stderr)
        return 1
    report = json.load(open(found[-1]))
    text = open(output).read()
    operations = report["operations"]
    cases = report["test_cases"]
    scenarios = re.search(r"Scenarios:\s+(\d+)", text)
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", text)
    print(
        "contract run ({name}): {tested}/{selected} operations, {generated} test cases, "
        "{scenarios} stateful scenarios, links followed {covered}/{total}, "
        "{failures} failures, {errors} errors ({seconds:.0f} s, stopped by {stop})".format(
            name=name,
            tested=operations["tested"],
            selected=operations["selected"],
            generated=cases["generated"],
            scenarios=scenarios.group(1) if scenarios else 0,
            covered=links.group(1) if links else 0,
            total=links.group(2) if links else 0,
            failures=cases["unique_failures"],
            errors=len(report["errors"]),
            seconds=report["running_time"],
            stop=report["stop_reason"],
        )
    )
    for phase, state in report["phases"].items():
        if state["status"] not in ("success", "skip"):
            print(f"contract run: the {phase} phase ended {state['status']}", file=sys.stderr)
    bad = cases["unique_failures"] or report["errors"] or operations["errored"]
    return 1 if bad or report["exit_code"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))

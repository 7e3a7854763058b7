"""Compare two pytest JUnit reports test by test (scripts/previewer_comparison.sh).

    python scripts/compare_junit.py LABEL ORIGINAL.xml EXT.xml

Prints one line per test (its outcome in each report), then a summary,
and exits with 1 if a test that passed in the first report did not pass in
the second.
"""

import sys
import xml.etree.ElementTree as ET


def outcomes(path):
    """Return ``{test id: outcome}`` of a JUnit report."""
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = "{0}::{1}".format(case.get("classname", ""), case.get("name", ""))
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                break
            if child.tag == "skipped":
                outcome = "skipped"
        found[name] = outcome
    return found


def main(label, original_path, ext_path):
    """Print the comparison; return the exit status."""
    original, ext = outcomes(original_path), outcomes(ext_path)
    names = sorted(set(original) | set(ext))
    width = max((len(name) for name in names), default=10)
    print("\n{0}: per-test outcomes (original | this package)".format(label))
    for name in names:
        print(
            "  {0:<{width}}  {1:<8} {2}".format(
                name, original.get(name, "-"), ext.get(name, "-"), width=width
            )
        )
    regressions = [
        name
        for name in names
        if original.get(name) == "passed" and ext.get(name) != "passed"
    ]
    gains = [
        name
        for name in names
        if ext.get(name) == "passed" and original.get(name) != "passed"
    ]

    def count(results, outcome):
        return sum(1 for value in results.values() if value == outcome)

    print(
        "{0}: original {1} passed, {2} failed, {3} errors, {4} skipped; "
        "this package {5} passed, {6} failed, {7} errors, {8} skipped".format(
            label,
            count(original, "passed"),
            count(original, "failed"),
            count(original, "error"),
            count(original, "skipped"),
            count(ext, "passed"),
            count(ext, "failed"),
            count(ext, "error"),
            count(ext, "skipped"),
        )
    )
    print(
        "{0}: {1} passing with the original and not with this package{2}".format(
            label,
            len(regressions),
            ": " + ", ".join(regressions) if regressions else "",
        )
    )
    print(
        "{0}: {1} passing with this package and not with the original{2}".format(
            label, len(gains), ": " + ", ".join(gains) if gains else ""
        )
    )
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

"""`redocly lint` (npm @redocly/cli, pinned by tests/redocly/package-lock.json, recommended rules)
on server/openapi.json: security schemes, license, servers, a 4xx on every operation. `npm ci`
installs the CLI into WORK (the build tree); without npm or its registry the test is skipped
(exit 77).

usage: test_openapi_lint.py WORK
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = sys.argv[1]
CLI = os.path.join(WORK, "node_modules", "@redocly", "cli", "bin", "cli.js")


def install():
    """npm ci into WORK unless the lock file there is the committed one already."""
    os.makedirs(WORK, exist_ok=True)
    src = os.path.join(HERE, "redocly")
    lock = open(os.path.join(src, "package-lock.json")).read()
    have = os.path.join(WORK, "package-lock.json")
    if os.path.exists(CLI) and os.path.exists(have) and open(have).read() == lock:
        return True
    for f in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(src, f), WORK)
    if not shutil.which("npm"):
        print("npm is not installed (scripts/setup installs it): skipped")
        return False
    r = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=WORK,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print("npm ci failed (no registry?): skipped\n" + r.stderr[-2000:])
        return False
    return True


def main():
    if not install():
        return 77
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true")
    r = subprocess.run(["node", CLI, "lint", "--format=json",
                        os.path.join(HERE, "..", "server", "openapi.json")],
                       capture_output=True, text=True, timeout=120, env=env)
    try:
        report = json.loads(r.stdout)
    except ValueError:
        print("redocly printed no JSON report (exit %d): %s" % (r.returncode, r.stderr[-2000:]))
        return 1
    for p in report["problems"]:
        print("%s %s: %s at %s" % (p["severity"], p["ruleId"], p["message"],
                                   [l.get("pointer") for l in p.get("location", [])]))
    # recommended rules; warnings count too (a missing 4xx or license is a warning)
    t = report["totals"]
    print("redocly lint %s: %d errors, %d warnings" % (report.get("version"), t["errors"],
                                                       t["warnings"]))
    bad = r.returncode != 0 or t["errors"] or t["warnings"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""`redocly lint` (npm @redocly/cli, pinned by tests/redocly/package-lock.json, recommended rules)
on server/api/openapi.json: security schemes, license, servers, a 4xx on every operation. `npm ci`
installs the CLI into WORK (the build tree); without npm or its registry the test is skipped
(exit 77).

usage: test_openapi_lint.py WORK
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from npm_install import npm_ci  # noqa: E402

WORK = sys.argv[1]
CLI = os.path.join(WORK, "node_modules", "@redocly", "cli", "bin", "cli.js")


def install():
    return npm_ci(os.path.join(HERE, "redocly"), WORK, ("package.json", "package-lock.json"), CLI)


def main():
    if not install():
        return 77
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true")
    r = subprocess.run(["node", CLI, "lint", "--format=json",
                        os.path.join(HERE, "..", "server", "api", "openapi.json")],
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

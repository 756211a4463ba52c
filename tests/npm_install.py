"""`npm ci` of a committed package-lock.json into a build-tree folder, shared by the tests that
need npm packages (the LibreTranslate clients, redocly)."""
import os
import shutil
import subprocess


def npm_ci(src, work, files, installed):
    """Copies files (package.json, package-lock.json, ...) from src to work and runs `npm ci`
    there, unless installed (a path under work) exists and work's lock file is src's already.
    False (with the reason printed) when npm or its registry is missing: the caller skips."""
    os.makedirs(work, exist_ok=True)
    lock = open(os.path.join(src, "package-lock.json")).read()
    have = os.path.join(work, "package-lock.json")
    if os.path.exists(installed) and os.path.exists(have) and open(have).read() == lock:
        return True
    for f in files:
        shutil.copy(os.path.join(src, f), work)
    if not shutil.which("npm"):
        print("npm is not installed (scripts/setup installs it): skipped")
        return False
    r = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=work,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print("npm ci failed (no registry?): skipped\n" + r.stderr[-2000:])
        return False
    return True

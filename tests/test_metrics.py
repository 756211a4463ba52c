"""/metrics of the real `dragoman serve` on the demo model: the exposition passes
`promtool check metrics` (Debian's prometheus package); process_* agree with what /proc says
about the server's process; the model-labelled request, latency and token families count the
requests made; the cache hit ratio is hits / lookups. Exit 77 (skip) when promtool is not
installed, after every other check passed.

usage: test_metrics.py DRAGOMAN
"""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server  # noqa: E402

BIN = sys.argv[1]
MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "demo-en-de")
ck = Check()


def scrape(srv):
    st, h, data = srv.request("GET", "/metrics")
    ck.eq(st, 200, "/metrics status")
    text = data.decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, v = line.rsplit(" ", 1)
            values[name] = float(v)
    return text, values


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()  # fields from state (3rd) on


def main():
    t_launch = time.time()
    srv = Server(BIN, MODEL, "--cache-bytes", "1000000")
    pid = srv.proc.pid
    try:
        m = 'model="demo-en-de"'
        done = 'dragoman_model_requests_total{%s,status="200"}' % m
        st1 = srv.post_json("/v1/translate", {"text": "Open file"})[0]
        # a request is counted once its reply went out: wait for that, never guess
        srv.wait_metric(done, lambda x: x >= 1)
        _, v1 = scrape(srv)
        per_request = v1["dragoman_model_tokens_in_total{%s}" % m]
        st2 = srv.post_json("/v1/translate", {"text": "Open file"})[0]  # from the cache
        st3 = srv.post_json("/translate", {"q": "Open file", "source": "en", "target": "de"})[0]
        ck.eq((st1, st2, st3), (200, 200, 200), "three translations")
        srv.post_json("/v1/translate", {"text": "Open file", "target": "xx"})  # no model: 4xx
        srv.wait_metric(done, lambda x: x >= 3)
        srv.wait_metric('dragoman_requests_total{route="/v1/translate",status="422"}',
                        lambda x: x >= 1)
        text, v = scrape(srv)

        ck.eq(v.get('dragoman_model_requests_total{%s,status="200"}' % m), 3.0,
              "model label: requests of every translation route")
        ck.eq(v.get("dragoman_model_request_duration_seconds_count{%s}" % m), 3.0,
              "model label: latency histogram count")
        ck.eq(v.get('dragoman_model_request_duration_seconds_bucket{%s,le="+Inf"}' % m), 3.0,
              "model label: latency +Inf bucket")
        ck(per_request > 0, "model label: tokens in of one request")
        ck.eq(v.get("dragoman_model_tokens_in_total{%s}" % m), 3 * per_request,
              "model label: tokens in, three identical requests")
        ck(v.get("dragoman_model_tokens_out_total{%s}" % m, 0) > 0, "model label: tokens out")
        hits, misses = v["dragoman_cache_hits_total"], v["dragoman_cache_misses_total"]
        ck.eq((hits, misses), (2.0, 1.0), "cache: the repeats hit")
        ck.eq(v.get("dragoman_cache_hit_ratio"), round(hits / (hits + misses), 6),
              "cache hit ratio = hits / lookups")

        # process_*, against /proc/PID read here
        f = proc_stat(pid)
        tick = os.sysconf("SC_CLK_TCK")
        cpu = (int(f[11]) + int(f[12])) / tick
        ck(0 < v["process_cpu_seconds_total"] <= cpu + 0.01,
           "process_cpu_seconds_total %r within /proc's %r" % (v["process_cpu_seconds_total"], cpu))
        with open("/proc/stat") as fh:
            btime = int(re.search(r"^btime (\d+)", fh.read(), re.M).group(1))
        start = btime + int(f[19]) / tick
        ck(abs(v["process_start_time_seconds"] - start) < 0.02,
           "process_start_time_seconds %r = /proc's %r" % (v["process_start_time_seconds"], start))
        ck(abs(v["process_start_time_seconds"] - t_launch) < 5,
           "process_start_time_seconds is when the test started the server")
        with open("/proc/%d/statm" % pid) as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        ck(0.8 * rss < v["process_resident_memory_bytes"] < 1.25 * rss,
           "process_resident_memory_bytes %r near /proc's %r" % (
               v["process_resident_memory_bytes"], rss))
        ck.eq(v["process_virtual_memory_bytes"] > 0, True, "process_virtual_memory_bytes")
        fds = len(os.listdir("/proc/%d/fd" % pid))
        ck(abs(v["process_open_fds"] - fds) <= 2,
           "process_open_fds %r near /proc's %r" % (v["process_open_fds"], fds))
        with open("/proc/%d/limits" % pid) as fh:
            soft = re.search(r"^Max open files\s+(\d+)", fh.read(), re.M).group(1)
        ck.eq(v["process_max_fds"], float(soft), "process_max_fds = the soft limit")

        promtool = shutil.which("promtool")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=60)
            out = (r.stdout + r.stderr).decode()
            ck.eq((r.returncode, out), (0, ""), "promtool check metrics: clean")
    finally:
        ck.eq(srv.stop(), 0, "exit status (sanitizer reports fail it)")
    rc = ck.summary()
    if rc == 0 and not promtool:
        print("promtool is not installed (scripts/setup installs prometheus): skipped")
        return 77
    return rc


if __name__ == "__main__":
    sys.exit(main())

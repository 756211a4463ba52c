#!/usr/bin/python3
"""Checks docker/compose.yaml and docker/k8s/ offline: every file parses as YAML; the Kubernetes
objects match the API schema of Debian's python3-kubernetes when it is installed (unknown
fields, wrong types, missing required fields); and the files agree with each other, with the
Dockerfile and with the server: ports, probe paths, labels, names, the SIGTERM grace period
against the termination deadlines, and (given the dragoman binary) every DRAGOMAN_* variable
against `dragoman serve --help`.

    docker/validate.py [DRAGOMAN]

Exits 1 listing every problem. The compose schema itself is docker-compose's job
(docker/test.sh runs `docker-compose config`)."""
import os
import re
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPLY_FLUSH_S = 2        # server/cli/cmd_serve.c: after the drain, time to write the last replies
DEFAULT_GRACE_MS = 10000

# autoscaling/v2 is v2beta2 made stable with the same fields; Debian's client (Kubernetes
# 1.22) predates it.
SCHEMAS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Service"): "V1Service",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2beta2HorizontalPodAutoscaler",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}

problems = []


def problem(where, msg):
    problems.append(f"{where}: {msg}")


def schema_check(value, typename, path, k8s):
    """Walks value against the client's generated model typename (openapi_types)."""
    if typename.startswith("list["):
        if not isinstance(value, list):
            return problem(path, f"expected a list ({typename})")
        for i, v in enumerate(value):
            schema_check(v, typename[5:-1], f"{path}[{i}]", k8s)
    elif typename.startswith("dict("):
        if not isinstance(value, dict):
            return problem(path, f"expected a mapping ({typename})")
        inner = typename[typename.index(",") + 1:-1].strip()
        for k, v in value.items():
            schema_check(v, inner, f"{path}.{k}", k8s)
    elif typename in PRIMITIVES:
        t = PRIMITIVES[typename]
        if (isinstance(value, bool) and typename != "bool") or not isinstance(value, t):
            problem(path, f"expected {typename}, got {type(value).__name__} {value!r}")
    else:
        cls = getattr(k8s, typename)
        if not isinstance(value, dict):
            return problem(path, f"expected a {typename} mapping")
        attrs = {json: attr for attr, json in cls.attribute_map.items()}
        for k, v in value.items():
            if k not in attrs:
                problem(path, f"unknown field '{k}' in {typename}")
            else:
                schema_check(v, cls.openapi_types[attrs[k]], f"{path}.{k}", k8s)
        try:  # the generated setters reject missing required fields and bad enum values
            cls(**{attrs[k]: v for k, v in value.items() if k in attrs})
        except ValueError as e:
            problem(path, str(e))


def dockerfile():
    """The image's port and user, which the manifests must agree with."""
    with open(os.path.join(HERE, "Dockerfile")) as f:
        text = f.read()
    expose = re.findall(r"^EXPOSE (\d+)$", text, re.M)
    env_port = re.findall(r"\bDRAGOMAN_PORT=(\d+)", text)
    user = re.findall(r"^USER (\d+):(\d+)$", text, re.M)
    if len(expose) != 1 or env_port != expose or len(user) != 1:
        problem("Dockerfile", "expected one EXPOSE equal to DRAGOMAN_PORT and one USER UID:GID")
        return None, None
    return int(expose[0]), tuple(map(int, user[0]))


def serve_options(binary):
    """DRAGOMAN_* variables and their defaults, from `dragoman serve --help`."""
    out = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True,
                         check=True).stdout
    return dict(re.findall(r"\[(DRAGOMAN_[A-Z_]+)(?:, default ([^,\]]+))?", out))


def check_env(where, env, options):
    for name in env:
        if name.startswith("DRAGOMAN_") and options is not None and name not in options:
            problem(where, f"{name} is not a `dragoman serve` option")


def grace_s(env, options):
    default = DEFAULT_GRACE_MS if options is None else int(options["DRAGOMAN_GRACE_MS"])
    return int(env.get("DRAGOMAN_GRACE_MS", default)) / 1000


def duration_s(text):
    """Compose durations: 1m30s, 35s, 500ms."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text):
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def subset(a, b):
    return all(b.get(k) == v for k, v in a.items())


def check_k8s(docs, options, k8s, port, user):
    by_kind = {}
    for path, doc in docs:
        kind, api = doc.get("kind"), doc.get("apiVersion")
        if kind == "Kustomization":
            continue
        if (api, kind) not in SCHEMAS:
            problem(path, f"unexpected object {api} {kind}")
            continue
        if k8s:
            schema_check(doc, SCHEMAS[api, kind], f"{path}:{kind}", k8s)
        by_kind.setdefault(kind, []).append((path, doc))
    for kind in ("Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler"):
        if len(by_kind.get(kind, [])) != 1:
            problem("k8s/", f"expected exactly one {kind}")
    if problems:
        return
    dpath, dep = by_kind["Deployment"][0]
    cpath, cm = by_kind["ConfigMap"][0]
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    if not subset(dep["spec"]["selector"]["matchLabels"], labels):
        problem(dpath, "selector does not match the pod labels")
    (ctr,) = pod["spec"]["containers"]
    env = dict(cm.get("data", {}))
    env.update({e["name"]: e.get("value", "") for e in ctr.get("env", [])})
    check_env(cpath, env, options)
    port = int(env.get("DRAGOMAN_PORT", port))
    ports = {p.get("name"): p["containerPort"] for p in ctr.get("ports", [])}
    if ports.get("http") != port:
        problem(dpath, f"container port 'http' must be DRAGOMAN_PORT, {port}")
    for probe, route in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
        get = ctr.get(probe, {}).get("httpGet", {})
        if get.get("path") != route or get.get("port") not in ("http", port):
            problem(dpath, f"{probe} must GET {route} on port http")
    res = ctr.get("resources", {})
    for side in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(side, {}):
                problem(dpath, f"resources.{side}.{r} is not set")
    refs = [e["configMapRef"]["name"] for e in ctr.get("envFrom", []) if "configMapRef" in e]
    if refs != [cm["metadata"]["name"]]:
        problem(dpath, "envFrom must reference the ConfigMap")
    sec = pod["spec"].get("securityContext", {})
    if sec.get("runAsNonRoot") is not True:
        problem(dpath, "runAsNonRoot is not set")
    if (sec.get("runAsUser", user[0]), sec.get("runAsGroup", user[1])) != user:
        problem(dpath, f"runAsUser/runAsGroup differ from the image's USER {user[0]}:{user[1]}")
    pre_stop = ctr.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep_s = float(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
    need = sleep_s + grace_s(env, options) + REPLY_FLUSH_S
    have = pod["spec"].get("terminationGracePeriodSeconds", 30)
    if have < need:
        problem(dpath, f"terminationGracePeriodSeconds {have} < preStop {sleep_s:g} s + grace "
                       f"{grace_s(env, options):g} s + reply flush {REPLY_FLUSH_S} s")

    spath, svc = by_kind["Service"][0]
    if not subset(svc["spec"]["selector"], labels):
        problem(spath, "selector does not match the Deployment's pod labels")
    if any(p.get("targetPort") not in ("http", port) for p in svc["spec"]["ports"]):
        problem(spath, "targetPort must be the container port http")
    hpath, hpa = by_kind["HorizontalPodAutoscaler"][0]
    ref = hpa["spec"]["scaleTargetRef"]
    if (ref["kind"], ref["name"]) != ("Deployment", dep["metadata"]["name"]):
        problem(hpath, "scaleTargetRef is not the Deployment")
    if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
        problem(hpath, "minReplicas > maxReplicas")
    for path, pdb in by_kind.get("PodDisruptionBudget", []):
        if not subset(pdb["spec"]["selector"]["matchLabels"], labels):
            problem(path, "selector does not match the Deployment's pod labels")


def check_kustomization(files, docs):
    kust = [(p, d) for p, d in docs if d.get("kind") == "Kustomization"]
    if len(kust) != 1:
        return problem("k8s/", "expected one kustomization.yaml")
    path, k = kust[0]
    listed = set(k.get("resources", []))
    others = {os.path.basename(f) for f in files} - {os.path.basename(path)}
    if listed != others:
        problem(path, f"resources {sorted(listed)} differ from the files {sorted(others)}")


def check_compose(path, doc, options, port):
    svc = doc.get("services", {}).get("dragoman")
    if not svc:
        return problem(path, "no service 'dragoman'")
    if svc.get("build", {}).get("dockerfile") != "docker/Dockerfile":
        problem(path, "build.dockerfile must be docker/Dockerfile")
    if not any(str(v).split(":")[1:2] == ["/models"] for v in svc.get("volumes", [])):
        problem(path, "no volume mounted at /models")
    if not svc.get("healthcheck", {}).get("test"):
        problem(path, "no healthcheck")
    if svc.get("restart") in (None, "no"):
        problem(path, "no restart policy")
    limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
    if not {"cpus", "memory"} <= set(limits):
        problem(path, "deploy.resources.limits needs cpus and memory")
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    check_env(path, env, options)
    port = int(env.get("DRAGOMAN_PORT", port))
    if not any(str(p).endswith(f":{port}") for p in svc.get("ports", [])):
        problem(path, f"no port published to DRAGOMAN_PORT, {port}")
    stop = duration_s(svc.get("stop_grace_period", "10s"))
    if stop < grace_s(env, options) + REPLY_FLUSH_S:
        problem(path, f"stop_grace_period {stop:g} s is shorter than the server's drain")


def load(path):
    try:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        problem(path, f"not valid YAML: {e}")
        return []
    for d in docs:
        if not isinstance(d, dict):
            problem(path, "a document is not a mapping")
    return [(os.path.relpath(path, HERE), d) for d in docs if isinstance(d, dict)]


def main():
    options = serve_options(sys.argv[1]) if len(sys.argv) > 1 else None
    try:
        import kubernetes.client as k8s
    except ImportError:
        k8s = None
        print("validate: python3-kubernetes not installed, Kubernetes schema check skipped")
    port, user = dockerfile()
    compose = load(os.path.join(HERE, "compose.yaml"))
    kdir = os.path.join(HERE, "k8s")
    files = sorted(os.path.join(kdir, f) for f in os.listdir(kdir) if f.endswith(".yaml"))
    docs = [d for f in files for d in load(f)]
    if not problems:
        for path, doc in compose:
            check_compose(path, doc, options, port)
        check_kustomization(files, docs)
        check_k8s(docs, options, k8s, port, user)
    for p in problems:
        print("validate:", p)
    if problems:
        return 1
    print(f"validate: compose.yaml and {len(files)} k8s files consistent"
          + ("" if k8s is None else ", Kubernetes objects match the API schema"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks deploy/ against what heapdoc exports (run by tests/fleet_test.c).

  - the Prometheus rules: promtool check rules, and their unit test
    (promtool test rules);
  - the Grafana dashboard: JSON, every query parses as PromQL (promtool,
    its variables replaced), every panel has one;
  - the Kubernetes DaemonSet: YAML, and what it must hold: hostPID, only
    SYS_PTRACE, a read-only root, resource limits, the port it listens on;
  - the systemd unit: a long-running service that runs the exporter;
  - every metric the rules and the dashboard name is one heapdoc writes
    (lib/report/metrics.c), so a renamed metric cannot leave them behind.

Usage: scripts/check-deploy.py [ROOT]   (exit 0 when every check passes)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
failures = []
passed = 0


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)


def promtool(*args):
    r = subprocess.run(["promtool", *args], capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def exported_names():
    text = open(os.path.join(ROOT, "lib/report/metrics.c")).read()
    return set(re.findall(r'\{ "([a-z_]+)",\s*METRIC_', text))


def names_in(expr):
    names = set()
    for n in re.findall(r"\b((?:heapdoc|process)_[a-z_]+)\b", expr):
        for suffix in ("_bucket", "_sum", "_count"):
            if n.endswith(suffix) and n[: -len(suffix)] in known:
                n = n[: -len(suffix)]
        names.add(n)
    return names


def check_rules():
    rules = os.path.join(DEPLOY, "prometheus/heapdoc.rules.yaml")
    ok, out = promtool("check", "rules", rules)
    check(ok, "promtool check rules: " + out)
    ok, out = promtool("test", "rules", os.path.join(DEPLOY, "prometheus/heapdoc.rules.test.yaml"))
    check(ok, "promtool test rules: " + out)
    for group in yaml.safe_load(open(rules))["groups"]:
        for rule in group["rules"]:
            for n in names_in(rule["expr"]) - known:
                failures.append(f"rule {rule.get('alert')}: {n} is not a metric heapdoc writes")


def check_dashboard():
    dash = json.load(open(os.path.join(DEPLOY, "grafana/heapdoc.json")))
    check(dash.get("uid") and dash.get("title") and dash.get("panels"), "dashboard: uid, title, panels")
    exprs = []
    for p in dash["panels"]:
        targets = [t for t in p.get("targets", []) if t.get("expr")]
        check(targets, f"dashboard panel {p.get('title')!r} has no query")
        exprs += [(p["title"], t["expr"]) for t in targets]
    recorded = []
    for i, (title, expr) in enumerate(exprs):
        for n in names_in(expr) - known:
            failures.append(f"dashboard panel {title!r}: {n} is not a metric heapdoc writes")
        plain = re.sub(r"\$\{?\w+\}?", ".*", expr)
        recorded.append({"record": f"dashboard:query{i}", "expr": plain})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}, f)
    ok, out = promtool("check", "rules", f.name)
    os.unlink(f.name)
    check(ok, "dashboard queries are not all PromQL: " + out)


def check_daemonset():
    docs = list(yaml.safe_load_all(open(os.path.join(DEPLOY, "kubernetes/daemonset.yaml"))))
    ds = [d for d in docs if d and d.get("kind") == "DaemonSet"]
    check(len(ds) == 1, "daemonset.yaml: one DaemonSet")
    if not ds:
        return
    spec = ds[0]["spec"]["template"]["spec"]
    check(spec.get("hostPID") is True, "DaemonSet: hostPID")
    check(len(spec["containers"]) == 1, "DaemonSet: one container")
    c = spec["containers"][0]
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check(caps.get("add") == ["SYS_PTRACE", "SYS_NICE"] and caps.get("drop") == ["ALL"],
          "DaemonSet: capabilities drop ALL, add SYS_PTRACE and SYS_NICE only")
    check(sc.get("readOnlyRootFilesystem") is True, "DaemonSet: read-only root")
    check(sc.get("privileged") is not True and sc.get("allowPrivilegeEscalation") is False,
          "DaemonSet: not privileged")
    limits = c.get("resources", {}).get("limits", {})
    check("cpu" in limits and "memory" in limits, "DaemonSet: cpu and memory limits")
    args = c.get("args", [])
    check(args[:1] == ["exporter"], "DaemonSet: runs heapdoc exporter")
    listen = [a.split("=", 1)[1] for a in args if a.startswith("--listen=")]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(listen and listen[0].rsplit(":", 1)[1] == str(ports.get("metrics")),
          "DaemonSet: --listen port is the metrics containerPort")
    for probe in ("readinessProbe", "livenessProbe"):
        port = c.get(probe, {}).get("httpGet", {}).get("port")
        check(port in ports or port in ports.values(), f"DaemonSet: {probe} port")


def check_systemd():
    text = open(os.path.join(DEPLOY, "systemd/heapdoc-exporter.service")).read()
    check("[Service]" in text and "[Install]" in text, "systemd unit: sections")
    check(re.search(r"^ExecStart=\S*heapdoc exporter", text, re.M), "systemd unit: ExecStart")
    check(re.search(r"^Type=simple$", text, re.M) and "OnCalendar" not in text,
          "systemd unit: a long-running service, no timer")
    check(re.search(r"^CapabilityBoundingSet=.*CAP_SYS_PTRACE", text, re.M),
          "systemd unit: CAP_SYS_PTRACE")
    # Without CAP_SYS_NICE, the RLIMIT_NICE that lets heapdoc leave
    # SCHED_IDLE after a walk (nice 0: systemd's +0).
    check(re.search(r"^LimitNICE=\+0$", text, re.M) or
          re.search(r"^CapabilityBoundingSet=.*CAP_SYS_NICE", text, re.M),
          "systemd unit: LimitNICE=+0 or CAP_SYS_NICE")


known = exported_names()
check(len(known) > 10, "metric names read from lib/report/metrics.c")
check_rules()
check_dashboard()
check_daemonset()
check_systemd()
for f in failures:
    print("deploy: " + f, file=sys.stderr)
print(f"deploy: {passed} checks passed, {len(failures)} failed")
sys.exit(1 if failures else 0)

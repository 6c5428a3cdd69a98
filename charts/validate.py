"""Checks of the linkgate chart; run by charts/validate, which provides the tools.

Each check prints what it checked; the first failure stops the run with exit status 1.
Rendering uses a real Helm (helm-sdkpy) installing into the API server KUBECONFIG names,
because helm-sdkpy has no offline `template`; without KUBECONFIG only the offline checks run.
"""

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import uuid

import helm_sdkpy
import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "linkgate"
K8S_VERSION = "1.37.0"
# Kinds kubernetes-validate has no schema for: ours are checked against the CRD, the
# monitoring ones only for their selectors and rules below.
CRD_KINDS = {"Requestor", "ServiceMonitor", "PrometheusRule"}

EXAMPLE_REQUESTOR = {
    "name": "acme",
    "spec": {
        "displayName": "ACME TV",
        "mvpds": [{"id": "test-mvpd", "decision": {"allow": ["*"]}}],
        "backend": {"apiKeySecretRef": {"name": "acme.backend", "key": "apiKey"}},
        "throttling": {"perClientIp": {"perSecond": 5, "burst": 20}},
    },
}

# name -> values; each is installed as a release of its own in a fresh namespace.
COMBINATIONS = {
    "defaults": {},
    "everything": {
        "proxy": {
            "autoscaling": {"enabled": True},
            "mountedSecrets": [{"name": "acme.backend"}, {"name": "acme.media-keys", "optional": True}],
            "dnsNameservers": ["10.0.0.10:53"],
            "dnsMaxTtlSeconds": 10,
            "publicUrl": "https://tv.example.com",
            "trustedProxies": ["10.0.0.0/8", "fd00::/8"],
        },
        "operator": {"watchNamespace": "tenants"},
        "requestors": [EXAMPLE_REQUESTOR],
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "prometheusRule": {"enabled": True},
            "dashboard": {"enabled": True},
        },
    },
    "minimal": {
        "proxy": {"podDisruptionBudget": {"enabled": False}, "codeKey": {"create": False, "secretName": "mine"}},
        "operator": {"replicas": 1},
    },
    "postgres": {
        "proxy": {"database": {"secretName": "linkgate-database", "key": "url", "connections": 8,
                               "cachedLinks": 50000}},
    },
    "replication": {
        "proxy": {"region": "a"},
        "operator": {
            "replication": {
                "region": "a",
                "peers": [{"name": "b", "secret": "linkgate-peer-b"}, {"name": "c", "secret": "linkgate-peer-c"}],
                "peerAccess": {"enabled": True},
            },
        },
    },
}

# values -> a fragment of the error Helm must answer with.
BAD_VALUES = [
    ({"proxy": {"publicUrl": "tv.example.com"}}, "publicUrl"),
    ({"proxy": {"trustedProxies": ["the ingress"]}}, "trustedProxies"),
    ({"proxy": {"publicUrl": "https://tv.example.com/activate?x"}}, "publicUrl"),
    ({"operator": {"replicas": "two"}}, "replicas"),
    ({"proxy": {"replica": 3}}, "replica"),
    ({"proxy": {"image": {"pullPolicy": "Sometimes"}}}, "pullPolicy"),
    ({"requestors": [{"name": "Not_A_Label", "spec": {}}]}, "name"),
    # Peers without a region: the operator would refuse to start.
    ({"operator": {"replication": {"peers": [{"name": "b", "secret": "peer-b"}]}}}, "replication/region"),
    ({"operator": {"replication": {"region": "Region_A"}}}, "region"),
    ({"operator": {"replication": {"region": "a", "peers": [{"name": "b"}]}}}, "secret"),
    ({"operator": {"replication": {"peerAccess": {"enabled": "yes"}}}}, "enabled"),
    ({"operator": {"replication": {"peerAcess": {"enabled": True}}}}, "peerAcess"),
    ({"proxy": {"database": {"secretName": "db", "connections": 0}}}, "connections"),
    ({"proxy": {"database": {"secretName": "Not_A_Name"}}}, "secretName"),
]

# Values the schema cannot judge, which the templates refuse -> a fragment of the error.
REFUSED_BY_TEMPLATES = [
    ({"operator": {"replication": {"region": "a"}}}, "proxy.region"),
    ({"proxy": {"region": "a"}, "operator": {"replication": {"region": "a", "peers": [
        {"name": "b", "secret": "peer-b"}, {"name": "b", "secret": "peer-b2"}]}}}, "named twice"),
    ({"proxy": {"region": "a"}, "operator": {"replication": {"region": "a", "peers": [
        {"name": "a", "secret": "peer-a"}]}}}, "is this region"),
]


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def ok(message):
    print(f"ok: {message}")


def kubectl(*args, check=True, stdin=None):
    run = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True)
    if check and run.returncode != 0:
        fail(f"kubectl {' '.join(args)}: {run.stderr.strip()}")
    return run


def check_crds_copied():
    if (CHART / "crds" / "crds.yaml").read_bytes() != (ROOT / "crds" / "crds.yaml").read_bytes():
        fail("charts/linkgate/crds/crds.yaml differs from crds/crds.yaml: cp crds/crds.yaml charts/linkgate/crds/")
    ok("the chart's CRDs are crds/crds.yaml")


def check_dashboard_json():
    dashboard = json.loads((CHART / "dashboards" / "linkgate.json").read_text())
    panels = dashboard["panels"]
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    if not exprs:
        fail("the dashboard has no queries")
    ids = [p["id"] for p in panels]
    if len(set(ids)) != len(ids):
        fail(f"the dashboard's panel ids repeat: {sorted(ids)}")
    cells = {}
    for p in panels:
        g = p["gridPos"]
        if g["x"] < 0 or g["x"] + g["w"] > 24:
            fail(f"dashboard panel {p['id']} is outside the 24 columns")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    fail(f"dashboard panels {cells[(x, y)]} and {p['id']} overlap at {(x, y)}")
                cells[(x, y)] = p["id"]
    for p in panels:
        for source in [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]:
            if p["type"] != "row" and source != {"type": "prometheus", "uid": "${datasource}"}:
                fail(f"dashboard panel {p['id']} does not query the $datasource variable: {source}")
    ok(f"the dashboard is JSON with {len(exprs)} queries, {len(ids)} panels of unique ids, none overlapping")


async def install(config, name, values):
    return await helm_sdkpy.Install(config).run(name, str(CHART), values=values, wait=False, timeout=120)


async def lint():
    try:
        result = await helm_sdkpy.Lint(helm_sdkpy.Configuration()).run(str(CHART))
    except helm_sdkpy.exceptions.HelmError as e:
        fail(f"helm lint: {e}")
    # Severity 1 is informational (e.g. "icon is recommended"); 2 and up are warnings.
    serious = [m for m in result.get("Messages") or [] if m.get("Severity", 0) >= 2]
    if serious or result.get("Errors"):
        fail(f"helm lint: {json.dumps(result, indent=2)}")
    ok("helm lint")


def stub_monitoring_crds():
    """The monitoring.coreos.com CRDs, schemaless: enough for Helm to install the kinds."""
    for plural, kind in (("servicemonitors", "ServiceMonitor"), ("prometheusrules", "PrometheusRule")):
        crd = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.monitoring.coreos.com"},
            "spec": {
                "group": "monitoring.coreos.com",
                "scope": "Namespaced",
                "names": {"plural": plural, "kind": kind},
                "versions": [{
                    "name": "v1", "served": True, "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }],
            },
        }
        kubectl("apply", "-f", "-", stdin=json.dumps(crd))
    kubectl("wait", "--for=condition=Established", "--timeout=60s",
            "crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com")


def validate_core_kinds(combination, docs):
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, doc in enumerate(d for d in docs if d["kind"] not in CRD_KINDS):
            path = pathlib.Path(tmp) / f"{i:02}-{doc['kind']}.yaml"
            path.write_text(yaml.safe_dump(doc))
            files.append(str(path))
        bin_dir = pathlib.Path(sys.executable).parent
        run = subprocess.run([bin_dir / "kubernetes-validate", "--strict", "--quiet", "-k", K8S_VERSION, *files],
                             capture_output=True, text=True)
        if run.returncode != 0:
            fail(f"{combination}: kubernetes-validate --strict:\n{run.stdout}{run.stderr}")
    ok(f"{combination}: {len(files)} manifests valid for Kubernetes {K8S_VERSION} (--strict)")


def crd_schemas():
    schemas = {}
    for crd in yaml.safe_load_all((ROOT / "crds" / "crds.yaml").read_text()):
        for version in crd["spec"]["versions"]:
            schemas[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = \
                version["schema"]["openAPIV3Schema"]
    return schemas


def validate_custom_kinds(combination, docs, values):
    schemas = crd_schemas()
    requestors = [d for d in docs if d["kind"] == "Requestor"]
    for requestor in requestors:
        schema = schemas[(requestor["apiVersion"], "Requestor")]
        # The CRD's structural schema says nothing of metadata; check the spec strictly.
        errors = list(jsonschema.Draft7Validator(strict(schema["properties"]["spec"])).iter_errors(requestor["spec"]))
        if errors:
            fail(f"{combination}: Requestor {requestor['metadata']['name']}: {errors[0].message} at {list(errors[0].path)}")
    if len(requestors) != len(values.get("requestors", [])):
        fail(f"{combination}: {len(requestors)} Requestors rendered, {len(values.get('requestors', []))} in the values")
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    for monitor in monitors:
        wanted = monitor["spec"]["selector"]["matchLabels"]
        port = monitor["spec"]["endpoints"][0]["port"]
        if not any(wanted.items() <= s["metadata"]["labels"].items() and
                   port in [p["name"] for p in s["spec"]["ports"]] for s in services.values()):
            fail(f"{combination}: ServiceMonitor {monitor['metadata']['name']} selects no Service with port {port}")
    rules = [d for d in docs if d["kind"] == "PrometheusRule"]
    alerts = yaml.safe_load((CHART / "alerts" / "linkgate.rules.yaml").read_text())
    for rule in rules:
        if rule["spec"] != alerts:
            fail(f"{combination}: the PrometheusRule's spec is not alerts/linkgate.rules.yaml")
    ok(f"{combination}: {len(requestors)} Requestors match the CRD schema, "
       f"{len(monitors)} ServiceMonitors select a Service, {len(rules)} PrometheusRules")


def strict(schema):
    """The schema with unknown properties refused, as the API server prunes them silently."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def check_rbac_is_the_files(combination, docs, values):
    operator = values.get("operator", {})
    peer_access = operator.get("replication", {}).get("peerAccess", {}).get("enabled", False)
    peers = [p["secret"] for p in operator.get("replication", {}).get("peers", [])]
    # Watching one namespace, the operator gets a Role there, never a ClusterRole.
    operator_kind = "Role" if operator.get("watchNamespace") else "ClusterRole"
    lease_rules = yaml.safe_load((CHART / "rbac" / "operator-lease-role.yaml").read_text())["rules"]
    if peers:
        lease_rules = lease_rules + [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": peers}]
    roles = [(operator_kind, "operator", "operator-role.yaml", 1, None),
             ("Role", "operator-lease", "operator-lease-role.yaml", 1, lease_rules),
             ("Role", "proxy", "proxy-role.yaml", 1, None),
             ("Role", "replication", "replication-role.yaml", 1 if peer_access else 0, None)]
    for kind, component, file, count, expected in roles:
        expected = expected or yaml.safe_load((CHART / "rbac" / file).read_text())["rules"]
        rendered = [d for d in docs
                    if d["kind"] == kind and d["metadata"]["labels"]["app.kubernetes.io/component"] == component]
        if len(rendered) != count:
            fail(f"{combination}: {len(rendered)} {component} {kind}s rendered, not {count}")
        if any(r["rules"] != expected for r in rendered):
            fail(f"{combination}: the {component} {kind}'s rules are not rbac/{file}'s")
    if len([d for d in docs if d["kind"] in ("Role", "ClusterRole")]) != 3 + peer_access:
        fail(f"{combination}: a Role or ClusterRole that is no rbac/*.yaml's")
    ok(f"{combination}: the operator's {operator_kind} and {2 + peer_access} Roles carry rbac/*.yaml's rules exactly")


def check_operator_args(combination, docs, values):
    """--region and one --peer NAME=SECRET per peer when a region is set; neither without."""
    replication = values.get("operator", {}).get("replication", {})
    expected = []
    if replication.get("region"):
        expected = ["--region", replication["region"]]
        for peer in replication.get("peers", []):
            expected += ["--peer", f"{peer['name']}={peer['secret']}"]
    operators = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-operator")]
    if len(operators) != 1:
        fail(f"{combination}: {len(operators)} operator Deployments")
    args = operators[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    tail = args[args.index("--region"):] if "--region" in args else []
    if tail != expected or args.count("--peer") != len(expected[2:]) // 2:
        fail(f"{combination}: the operator's replication args are {tail}, not {expected}")
    ok(f"{combination}: the operator's args {'are ' + ' '.join(expected) if expected else 'replicate nothing'}")


def check_proxy_store(combination, docs, values):
    """With proxy.database, the proxies' config names the postgres store with Requestors from
    the cluster and collection left to the operator, the URL comes from the Secret to the
    proxies and the operator, and --kubernetes is gone; without, Kubernetes mode as before."""
    database = values.get("proxy", {}).get("database", {})
    config_map = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-proxy"))
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    proxy = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-proxy"))
    container = proxy["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container.get("env", [])}
    operator = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-operator"))
    operator_env = {e["name"]: e for e in operator["spec"]["template"]["spec"]["containers"][0].get("env", [])}
    secret_of = lambda env: env.get("LINKGATE_DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef")
    if database.get("secretName"):
        expected = {"backend": "postgres", "connections": database["connections"],
                    "cachedLinks": database["cachedLinks"], "collectExpired": False}
        url = {"name": database["secretName"], "key": database["key"]}
        if (config["store"] != expected or config["kubernetes"].get("requestors") is not True
                or secret_of(env) != url or secret_of(operator_env) != url
                or "--kubernetes" in container["args"] or "url" in config["store"]):
            fail(f"{combination}: the postgres store is not configured as asked: {config}, {env}, {operator_env}")
        ok(f"{combination}: proxies on the postgres store, the operator collecting, the URL from Secret "
           f"{database['secretName']}")
    else:
        if config["store"] != {"backend": "kubernetes"} or "--kubernetes" not in container["args"] \
                or "LINKGATE_DATABASE_URL" in env or "LINKGATE_DATABASE_URL" in operator_env:
            fail(f"{combination}: the proxies are not in Kubernetes mode: {config['store']}")
        ok(f"{combination}: proxies in Kubernetes mode")


def check_public_url(combination, docs, values):
    """proxy.publicUrl and proxy.trustedProxies reach the proxies' configuration as
    publicUrl and trustedProxies, and only when set."""
    config_map = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-proxy"))
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    for key in ("publicUrl", "trustedProxies"):
        wanted = values.get("proxy", {}).get(key)
        if config.get(key) != wanted:
            fail(f"{combination}: {key} rendered as {config.get(key)!r}, not {wanted!r}")
        ok(f"{combination}: {key} {wanted or 'unset'}")


def can(namespace, account, verb, resource, where, subresource=None):
    args = ["auth", "can-i", verb, resource, f"--as=system:serviceaccount:{namespace}:{account}"]
    args += ["--all-namespaces"] if where is None else ["-n", where]
    if subresource:
        args.append(f"--subresource={subresource}")
    answer = kubectl(*args, check=False).stdout.strip()
    if answer not in ("yes", "no"):
        fail(f"kubectl {' '.join(args)} answered {answer!r}")
    return answer == "yes"


def check_permissions(namespace, release):
    """What each binary does with the API, asked of the API server as its ServiceAccount."""
    proxy, operator = f"{release}-linkgate-proxy", f"{release}-linkgate-operator"
    expectations = [
        # The proxy: watch Requestors, read and write DeviceLinks, in its namespace only.
        (proxy, "list", "requestors.linkgate.dev", namespace, None, True),
        (proxy, "watch", "requestors.linkgate.dev", namespace, None, True),
        (proxy, "watch", "devicelinks.linkgate.dev", namespace, None, True),
        (proxy, "create", "devicelinks.linkgate.dev", namespace, None, True),
        (proxy, "update", "devicelinks.linkgate.dev", namespace, None, True),
        (proxy, "delete", "devicelinks.linkgate.dev", namespace, None, True),
        (proxy, "get", "secrets", namespace, None, False),
        (proxy, "list", "secrets", namespace, None, False),
        (proxy, "update", "requestors.linkgate.dev", namespace, None, False),
        (proxy, "list", "requestors.linkgate.dev", "default", None, False),
        # The operator: everywhere, Requestor status, key Secrets, Events; its Lease at home.
        (operator, "watch", "requestors.linkgate.dev", None, None, True),
        (operator, "patch", "requestors.linkgate.dev", None, "status", True),
        (operator, "patch", "devicelinks.linkgate.dev", None, "status", True),
        (operator, "update", "devicelinks.linkgate.dev", None, None, True),
        (operator, "delete", "devicelinks.linkgate.dev", None, None, True),
        (operator, "create", "secrets", None, None, True),
        (operator, "update", "secrets", None, None, True),
        (operator, "create", "events.events.k8s.io", None, None, True),
        (operator, "update", "leases.coordination.k8s.io", namespace, None, True),
        (operator, "create", "leases.coordination.k8s.io", namespace, None, True),
        (operator, "update", "requestors.linkgate.dev", None, None, False),
        (operator, "delete", "secrets", None, None, True),
        (operator, "create", "leases.coordination.k8s.io", "default", None, False),
    ]
    for account, verb, resource, where, subresource, expected in expectations:
        if can(namespace, account, verb, resource, where, subresource) != expected:
            what = f"{verb} {resource}{'/' + subresource if subresource else ''} in {where or 'all namespaces'}"
            fail(f"{account} {'cannot' if expected else 'can'} {what}")
    ok(f"{len(expectations)} permission checks (kubectl auth can-i as each ServiceAccount)")


def check_namespaced_operator(namespace, release, watched):
    """Watching one namespace, the operator can do nothing anywhere else."""
    operator = f"{release}-linkgate-operator"
    expectations = [
        ("watch", "requestors.linkgate.dev", watched, None, True),
        ("patch", "requestors.linkgate.dev", watched, "status", True),
        ("get", "secrets", watched, None, True),
        ("create", "secrets", watched, None, True),
        ("update", "leases.coordination.k8s.io", namespace, None, True),
        ("watch", "requestors.linkgate.dev", None, None, False),
        ("watch", "requestors.linkgate.dev", "default", None, False),
        ("get", "secrets", "default", None, False),
        ("list", "secrets", None, None, False),
        # At home, only the Lease: not the code key, nor any other Secret.
        ("get", "secrets", namespace, None, False),
        ("create", "leases.coordination.k8s.io", watched, None, False),
    ]
    for verb, resource, where, subresource, expected in expectations:
        if can(namespace, operator, verb, resource, where, subresource) != expected:
            what = f"{verb} {resource}{'/' + subresource if subresource else ''} in {where or 'all namespaces'}"
            fail(f"{operator} {'cannot' if expected else 'can'} {what}")
    ok(f"{len(expectations)} permission checks of an operator watching only {watched}")


def check_peer_permissions(namespace, account):
    """What the peer regions' operators may do here, as the peerAccess ServiceAccount."""
    expectations = [
        ("get", "devicelinks.linkgate.dev", namespace, None, True),
        ("list", "devicelinks.linkgate.dev", namespace, None, True),
        ("create", "devicelinks.linkgate.dev", namespace, None, True),
        ("patch", "devicelinks.linkgate.dev", namespace, None, True),
        ("create", "requestors.linkgate.dev", namespace, None, True),
        ("patch", "requestors.linkgate.dev", namespace, None, True),
        ("delete", "requestors.linkgate.dev", namespace, None, True),
        ("create", "secrets", namespace, None, True),
        # Nothing else: no deletions of links (each region collects its own), no reading,
        # changing or deleting any Secret (the code key among them: a create answers with
        # only what was sent), nothing outside this namespace.
        ("get", "secrets", namespace, None, False),
        ("patch", "secrets", namespace, None, False),
        ("update", "secrets", namespace, None, False),
        ("delete", "secrets", namespace, None, False),
        ("watch", "secrets", namespace, None, False),
        ("patch", "requestors.linkgate.dev", namespace, "status", False),
        ("delete", "devicelinks.linkgate.dev", namespace, None, False),
        ("patch", "devicelinks.linkgate.dev", namespace, "status", False),
        ("list", "secrets", namespace, None, False),
        ("create", "leases.coordination.k8s.io", namespace, None, False),
        ("list", "devicelinks.linkgate.dev", None, None, False),
        ("create", "devicelinks.linkgate.dev", "default", None, False),
    ]
    for verb, resource, where, subresource, expected in expectations:
        if can(namespace, account, verb, resource, where, subresource) != expected:
            what = f"{verb} {resource}{'/' + subresource if subresource else ''} in {where or 'all namespaces'}"
            fail(f"{account} {'cannot' if expected else 'can'} {what}")
    ok(f"{len(expectations)} permission checks as the peers' ServiceAccount {account}")


async def check_bad_values(kubeconfig):
    config = helm_sdkpy.Configuration(namespace="default", kubeconfig=kubeconfig)
    for values, fragment in BAD_VALUES:
        try:
            await install(config, f"bad-{uuid.uuid4().hex[:6]}", values)
        except helm_sdkpy.exceptions.HelmError as e:
            if "schema" not in str(e) or fragment not in str(e):
                fail(f"{values} refused, but not by the schema: {e}")
            continue
        fail(f"{values} was accepted")
    ok(f"{len(BAD_VALUES)} bad values refused by values.schema.json")
    for values, fragment in REFUSED_BY_TEMPLATES:
        try:
            await install(config, f"bad-{uuid.uuid4().hex[:6]}", values)
        except helm_sdkpy.exceptions.HelmError as e:
            if fragment not in str(e):
                fail(f"{values} refused, but not for {fragment!r}: {e}")
            continue
        fail(f"{values} was accepted")
    ok(f"{len(REFUSED_BY_TEMPLATES)} bad values refused by the templates")


async def main():
    started = time.monotonic()
    check_crds_copied()
    check_dashboard_json()
    await lint()
    # Helm installs crds/ as they are: validate them like the rendered manifests.
    validate_core_kinds("crds", list(yaml.safe_load_all((CHART / "crds" / "crds.yaml").read_text())))
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig:
        print("KUBECONFIG is not set: skipping rendering (helm-sdkpy renders by installing), "
              "schema, manifest and permission checks")
        return
    stub_monitoring_crds()
    await check_bad_values(kubeconfig)
    for combination, values in COMBINATIONS.items():
        namespace = f"chart-{combination}-{uuid.uuid4().hex[:6]}"
        release = f"lg-{combination}"[:20]
        kubectl("create", "namespace", namespace)
        config = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=kubeconfig)
        if combination == "everything":
            kubectl("create", "namespace", "tenants", check=False)
        try:
            try:
                rendered = await install(config, release, values)
            except helm_sdkpy.exceptions.HelmError as e:
                fail(f"{combination}: helm install: {e}")
            docs = [d for d in yaml.safe_load_all(rendered["manifest"]) if d]
            ok(f"{combination}: installed {len(docs)} objects with Helm")
            validate_core_kinds(combination, docs)
            validate_custom_kinds(combination, docs, values)
            check_rbac_is_the_files(combination, docs, values)
            check_operator_args(combination, docs, values)
            check_proxy_store(combination, docs, values)
            check_public_url(combination, docs, values)
            if combination == "defaults":
                check_permissions(namespace, release)
            if combination == "everything":
                check_namespaced_operator(namespace, release, values["operator"]["watchNamespace"])
            if combination == "replication":
                check_peer_permissions(namespace, values["operator"]["replication"]["peerAccess"].get(
                    "serviceAccountName", "linkgate-replication"))
        finally:
            await helm_sdkpy.Uninstall(config).run(release, wait=False)
            kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    print(f"chart checks passed in {time.monotonic() - started:.1f}s")


asyncio.run(main())

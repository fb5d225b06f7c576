"""Rendering the chart with Helm's own SDK (helm-python-sdk), shared by the chart tests and by
the Rust test that checks RBAC against what the controller calls."""

import json
import pathlib
import sys

import helm_python as helm
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kms-operator"
RELEASE = "kms-operator"
NAMESPACE = "kms-system"

# Every option on: the second values file every test renders.
ALL_ON = {
    "replicaCount": 2,
    "watchNamespace": "platform-kms",
    "rateLimits": ["CreateKey=4", "PutKeyPolicy=10"],
    "leaderElection": {"enabled": True, "leaseName": "kms-leader"},
    "aws": {"region": "ap-southeast-2", "endpointUrl": "https://kms.ap-southeast-2.amazonaws.com"},
    "extraEnv": [{"name": "EXTRA", "value": "1"}],
    "serviceAccount": {"create": True, "name": "kms", "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/kms-operator"}},
    "imagePullSecrets": [{"name": "registry"}],
    "podAnnotations": {"a": "b"},
    "podLabels": {"team": "platform"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}],
    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "kms-operator"}}}}]}},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "kms-operator"}}}],
    "priorityClassName": "system-cluster-critical",
    "metrics": {"port": 9090, "service": {"enabled": True, "type": "ClusterIP", "port": 9090, "annotations": {"x": "y"}}, "serviceMonitor": {"enabled": True, "interval": "15s", "scrapeTimeout": "5s", "labels": {"release": "prometheus"}}},
    "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
    "namespaceConcurrency": 4,
    "waitBudgetSeconds": 10,
    "showOwners": True,
    "networkPolicy": {"enabled": True, "metricsFrom": [{"namespaceSelector": {"matchLabels": {"team": "observability"}}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]},
    "tenantRoles": {"enabled": True},
    "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}, "alertLabels": {"team": "platform"}, "runbookUrl": "https://wiki.example.com/kms/operations.md", "driftSeconds": 900, "throttleRatio": 0.2},
    "grafanaDashboard": {"enabled": True, "labels": {"grafana_dashboard": "1", "team": "platform"}, "annotations": {"grafana_folder": "KMS"}, "namespace": "monitoring"},
}


def chart():
    return helm.Chart.load(str(CHART))


def load(manifests):
    """The objects of rendered manifests (a path-to-text mapping, as Helm's SDK returns it)."""
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def render(values):
    """The objects the chart installs for `values`, its CRDs among them."""
    return load(chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True))


if __name__ == "__main__":
    # `python chart.py '{"watchNamespace": "x"}'` prints the rendered objects as JSON.
    values = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    json.dump(render(values), sys.stdout)

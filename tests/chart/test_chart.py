"""The Helm chart: linted (strict) and rendered by Helm's own SDK, every rendered object and CRD
validated against the Kubernetes OpenAPI schemas, and the properties the chart promises."""

import copy
import json
import pathlib
import re
import shutil
import tempfile
import tomllib
import unittest

import helm_python as helm
import kubernetes_validate
import yaml

from chart import ALL_ON, CHART, NAMESPACE, RELEASE, ROOT, chart, load, render

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas known.
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
# Kinds whose schemas ship with a CRD of their own, not with Kubernetes.
NOT_BUILT_IN = {"ServiceMonitor", "PrometheusRule"}
VALUE_SETS = {"default": {}, "all-on": ALL_ON}
# Every option on, in shards: two Deployments, one with its own replicas and resources.
SHARDED = {**ALL_ON, "shards": [
    {"name": "prod", "selector": "env=prod"},
    {"name": "rest", "selector": "env notin (prod)", "replicaCount": 1, "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}},
]}
LINTED = {**VALUE_SETS, "sharded": SHARDED}


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


class Lint(unittest.TestCase):
    def test_lint_is_clean_in_strict_mode(self):
        for label, values in LINTED.items():
            report = helm.lint(str(CHART), values, strict=True, kube_version="v1.29.0")
            problems = [m for m in report["messages"] if m["severity"] >= 2]
            self.assertEqual(report["errors"], [], label)
            self.assertEqual(problems, [], label)

    def test_a_typo_in_values_fails_at_install(self):
        with self.assertRaises(helm.HelmValuesError) as raised:
            chart().validate_schema({"replicaCont": 2})
        self.assertIn("replicaCont", str(raised.exception))
        with self.assertRaises(helm.HelmError):
            render({"metrics": {"serviceMonitor": {"enabld": True}}})
        with self.assertRaises(helm.HelmError):
            render({"logFormat": "xml"})


class Schemas(unittest.TestCase):
    def test_every_rendered_object_is_valid_kubernetes(self):
        for label, values in LINTED.items():
            objects = render(values)
            self.assertTrue(objects, label)
            for obj in objects:
                if obj["kind"] in NOT_BUILT_IN:
                    continue
                for version in KUBERNETES_VERSIONS:
                    with self.subTest(values=label, kind=obj["kind"], name=obj["metadata"]["name"], version=version):
                        kubernetes_validate.validate(obj, version, strict=True)

    def test_crds_match_the_generated_ones_and_the_apiextensions_schema(self):
        generated = sorted((ROOT / "crds").glob("*.yaml"))
        packaged = sorted((CHART / "files" / "crds").glob("*.yaml"))
        self.assertEqual([p.name for p in generated], [p.name for p in packaged], "run `just crds`")
        for source, copy in zip(generated, packaged):
            self.assertEqual(source.read_text(), copy.read_text(), f"{copy} differs from {source}: run `just crds`")
            for crd in yaml.safe_load_all(copy.read_text()):
                for version in KUBERNETES_VERSIONS:
                    kubernetes_validate.validate(crd, version, strict=True)


def crds_of(objects):
    return {o["metadata"]["name"]: o for o in by_kind(objects, "CustomResourceDefinition")}


def generated_crds():
    return {d["metadata"]["name"]: d for p in (ROOT / "crds").glob("*.yaml") for d in yaml.safe_load_all(p.read_text())}


def without_release_metadata(crd):
    crd = copy.deepcopy(crd)
    for field in ("annotations", "labels"):
        crd["metadata"].pop(field, None)
    return crd


def previous_chart(directory):
    """The chart as 0.1.0 shipped it: its CRDs in crds/ (which Helm installs once and never
    upgrades), and KmsKey without the field this upgrade adds (`spec.monitoring`)."""
    shutil.copytree(CHART, directory, dirs_exist_ok=True)
    (directory / "templates" / "crds.yaml").unlink()
    shutil.move(directory / "files" / "crds", directory / "crds")
    keys = directory / "crds" / "kmskeys.kmsoperator.dev.yaml"
    crd = yaml.safe_load(keys.read_text())
    del crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["monitoring"]
    keys.write_text(yaml.safe_dump(crd))
    return helm.Chart.load(str(directory))


class Crds(unittest.TestCase):
    """The CRDs are templates (`crds.install`, `crds.keep`), as cert-manager ships them: Helm
    installs a chart's crds/ on the first install only, so after `helm upgrade` the API server
    would prune every new field."""

    def test_the_release_renders_the_generated_crds_kept_on_uninstall(self):
        rendered = crds_of(render({}))
        generated = generated_crds()
        self.assertEqual(sorted(rendered), sorted(generated))
        for name, crd in rendered.items():
            self.assertEqual(without_release_metadata(crd), generated[name], name)
            self.assertEqual(crd["metadata"]["annotations"], {"helm.sh/resource-policy": "keep"}, name)
            self.assertEqual(crd["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm", name)
        self.assertEqual(chart().crds, [], "nothing in crds/: Helm would install it once and never upgrade it")

    def test_crds_follow_their_switches(self):
        for crd in crds_of(render({"crds": {"keep": False}})).values():
            self.assertEqual(crd["metadata"]["annotations"], {}, crd["metadata"]["name"])
        self.assertEqual(crds_of(render({"crds": {"install": False}})), {})

    def test_an_upgrade_from_the_previous_chart_changes_a_crd(self):
        with tempfile.TemporaryDirectory() as directory:
            previous = previous_chart(pathlib.Path(directory))
            # What the previous chart's install created: its crds/, which its upgrades never touch.
            installed = {crd["metadata"]["name"]: crd for crd in (yaml.safe_load(c["data"]) for c in previous.crds)}
            self.assertEqual(
                crds_of(load(previous.render({}, name=RELEASE, namespace=NAMESPACE, is_upgrade=True))),
                {},
                "the previous chart's upgrade carries no CRD",
            )
        upgrade = crds_of(load(chart().render({}, name=RELEASE, namespace=NAMESPACE, is_upgrade=True)))
        self.assertEqual(sorted(upgrade), sorted(installed))
        changed = [name for name in upgrade if without_release_metadata(upgrade[name]) != installed[name]]
        self.assertEqual(changed, ["kmskeys.kmsoperator.dev"])
        spec = upgrade["kmskeys.kmsoperator.dev"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        self.assertIn("monitoring", spec["properties"], "the upgrade brings the new field")


class Promises(unittest.TestCase):
    def test_the_pod_is_hardened(self):
        for label, values in VALUE_SETS.items():
            (deployment,) = by_kind(render(values), "Deployment")
            pod = deployment["spec"]["template"]["spec"]
            self.assertTrue(pod["securityContext"]["runAsNonRoot"], label)
            self.assertEqual(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
            (container,) = pod["containers"]
            security = container["securityContext"]
            self.assertIs(security["readOnlyRootFilesystem"], True)
            self.assertIs(security["allowPrivilegeEscalation"], False)
            self.assertEqual(security["capabilities"]["drop"], ["ALL"])
            for bound in ("requests", "limits"):
                self.assertEqual(set(container["resources"][bound]), {"cpu", "memory"}, bound)
            self.assertEqual(container["livenessProbe"]["httpGet"]["path"], "/healthz")
            self.assertEqual(container["readinessProbe"]["httpGet"]["path"], "/readyz")
            self.assertEqual(container["args"], ["run"])

    def test_the_image_is_the_dockerfiles_and_tracks_the_app_version(self):
        crate = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
        metadata = yaml.safe_load((CHART / "Chart.yaml").read_text())
        self.assertEqual(metadata["appVersion"], crate, "Chart.yaml appVersion must track Cargo.toml")
        (deployment,) = by_kind(render({}), "Deployment")
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        self.assertEqual(image, f"ghcr.io/kms-operator/kms-operator:{crate}")
        self.assertIn("kms-operator", (ROOT / "Dockerfile").read_text())

    def test_rbac_is_namespaced_when_a_namespace_is_watched(self):
        default = render({})
        roles = by_kind(default, "Role")
        self.assertEqual([r["metadata"]["name"] for r in roles], ["kms-operator-leader-election"],
                         "by default only the Role for the leader Lease")
        cluster_rules = by_kind(default, "ClusterRole")[0]["rules"]
        self.assertTrue(any("kmskeys" in r["resources"] for r in cluster_rules))

        scoped = render({"watchNamespace": "platform-kms"})
        cluster_rules = by_kind(scoped, "ClusterRole")[0]["rules"]
        self.assertFalse(any("kmskeys" in r["resources"] for r in cluster_rules), "keys are not cluster-wide")
        (role,) = [r for r in by_kind(scoped, "Role") if r["metadata"]["namespace"] == "platform-kms"]
        self.assertTrue(any("kmskeys" in r["resources"] for r in role["rules"]))
        self.assertFalse(any("configmaps" in r["resources"] for r in cluster_rules), "exports are not cluster-wide")
        verbs = {v for rule in cluster_rules + role["rules"] for v in rule["verbs"]}
        self.assertFalse(verbs & {"*", "deletecollection", "update", "escalate", "bind"}, verbs)
        # The one delete: ConfigMaps a KmsKey exported, when its export is renamed or removed.
        deleters = [r["resources"] for r in cluster_rules + role["rules"] if "delete" in r["verbs"]]
        self.assertEqual(deleters, [["configmaps"]])
        # Exported ConfigMaps are watched in the watched namespace, as the keys are.
        (exports,) = [r for r in role["rules"] if r["resources"] == ["configmaps"]]
        self.assertEqual(set(exports["verbs"]), {"list", "watch", "get", "create", "patch", "delete"})

    def test_the_defaults_never_run_two_writers(self):
        def election(values):
            (deployment,) = by_kind(render(values), "Deployment")
            env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
            leases = [r for r in by_kind(render(values), "Role") if any("leases" in x["resources"] for x in r["rules"])]
            strategy = deployment["spec"].get("strategy", {}).get("type", "RollingUpdate")
            return env["KMS_OPERATOR_LEADER_ELECTION"], len(leases), strategy

        # A rolling update runs the old and the new pod side by side: only the Lease holder writes.
        self.assertEqual(election({}), ("true", 1, "RollingUpdate"))
        self.assertEqual(election({"replicaCount": 2, "leaderElection": {"enabled": False}}), ("true", 1, "RollingUpdate"))
        # Without election the old pod is gone before the new one starts.
        self.assertEqual(election({"leaderElection": {"enabled": False}}), ("false", 0, "Recreate"))

    def test_optional_objects_follow_their_switches(self):
        self.assertEqual(by_kind(render({}), "ServiceMonitor"), [])
        self.assertEqual(by_kind(render({}), "PodDisruptionBudget"), [])
        objects = render(ALL_ON)
        (monitor,) = by_kind(objects, "ServiceMonitor")
        self.assertEqual(monitor["spec"]["endpoints"][0]["port"], "metrics")
        self.assertEqual(len(by_kind(objects, "PodDisruptionBudget")), 1)
        (service,) = by_kind(objects, "Service")
        self.assertEqual(service["spec"]["ports"][0]["port"], 9090)
        (account,) = by_kind(objects, "ServiceAccount")
        self.assertIn("eks.amazonaws.com/role-arn", account["metadata"]["annotations"])

    def test_the_readme_lists_every_value(self):
        def keys(values, prefix=""):
            for key, value in values.items():
                path = f"{prefix}{key}"
                if isinstance(value, dict) and value and path not in {"podSecurityContext", "securityContext", "resources", "grafanaDashboard.labels"}:
                    yield from keys(value, f"{path}.")
                else:
                    yield path

        readme = (CHART / "README.md").read_text()
        documented = set(re.findall(r"^\| `([^`]+)` \|", readme, re.MULTILINE))
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        self.assertEqual(sorted(set(keys(values)) - documented), [], "values missing from charts/kms-operator/README.md")
        self.assertEqual(sorted(documented - set(keys(values))), [], "README.md documents values that do not exist")


def headings(markdown):
    """Each heading of a Markdown file by its GitHub anchor, with the text up to the next heading."""
    sections, anchor = {}, None
    for line in markdown.splitlines():
        match = re.match(r"^#+ (.*)$", line)
        if match:
            anchor = re.sub(r"[^a-z0-9 _-]", "", match.group(1).strip().lower()).replace(" ", "-")
            sections[anchor] = ""
        elif anchor is not None:
            sections[anchor] += line + "\n"
    return sections


# What issue #13 asks the alerts to cover, one alert each.
ALERTS = {
    "KmsOperatorDown", "KmsOperatorNoLeader", "KmsOperatorKeyPendingDeletion", "KmsOperatorKeyDisabledOutside",
    "KmsOperatorDriftPersists", "KmsOperatorReconcileErrors", "KmsOperatorThrottled",
}
# Only with `shards`: objects that no shard holds.
SHARDED_ALERTS = ALERTS | {"KmsOperatorUnclaimedResources"}


class Monitoring(unittest.TestCase):
    """The alerts and the dashboard as objects; their PromQL is checked against the metrics the
    controller exports by tests/monitoring.rs."""

    def test_the_alerts_follow_their_values_and_each_links_its_runbook(self):
        self.assertEqual(by_kind(render({}), "PrometheusRule"), [])
        (rule,) = by_kind(render(ALL_ON), "PrometheusRule")
        self.assertEqual(rule["metadata"]["labels"]["release"], "prometheus")
        (group,) = rule["spec"]["groups"]
        rules = {r["alert"]: r for r in group["rules"]}
        self.assertEqual(set(rules), ALERTS)
        ((sharded,),) = [r["spec"]["groups"] for r in by_kind(render(SHARDED), "PrometheusRule")]
        sharded = {r["alert"]: r for r in sharded["rules"]}
        self.assertEqual(set(sharded), SHARDED_ALERTS)
        runbooks = headings((ROOT / "docs" / "operations.md").read_text())
        for name, alert in {**rules, **sharded}.items():
            with self.subTest(alert=name):
                self.assertIn(alert["labels"]["severity"], {"critical", "warning"})
                self.assertEqual(alert["labels"]["team"], "platform")
                self.assertEqual(set(alert["annotations"]), {"summary", "description", "runbook_url"})
                base, _, anchor = alert["annotations"]["runbook_url"].partition("#")
                self.assertEqual(base, "https://wiki.example.com/kms/operations.md")
                self.assertTrue(anchor in runbooks, f"docs/operations.md has no section #{anchor}")
                for part in ("**What it means.**", "**Check.**", "**Fix.**"):
                    self.assertIn(part, runbooks[anchor], f"the runbook of {name}")
                self.assertIn('job="kms-operator-metrics",namespace="kms-system"', alert["expr"],
                              "the series the chart's ServiceMonitor scrapes")
        self.assertTrue(rules["KmsOperatorDriftPersists"]["expr"].endswith("> 900"))
        self.assertTrue(rules["KmsOperatorThrottled"]["expr"].endswith("> 0.2"))
        default_url = yaml.safe_load((CHART / "values.yaml").read_text())["prometheusRule"]["runbookUrl"]
        self.assertTrue(default_url.endswith("/docs/operations.md"), default_url)

    def test_every_runbook_section_belongs_to_an_alert(self):
        runbooks = headings((ROOT / "docs" / "operations.md").read_text())
        documented = {a for a in runbooks if a.startswith("kmsoperator")}
        self.assertEqual(documented, {a.lower() for a in SHARDED_ALERTS})

    def test_the_dashboard_is_a_configmap_for_grafanas_sidecar(self):
        self.assertEqual(by_kind(render({}), "ConfigMap"), [])
        (config,) = by_kind(render(ALL_ON), "ConfigMap")
        self.assertEqual(config["metadata"]["namespace"], "monitoring")
        self.assertEqual(config["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(config["metadata"]["annotations"], {"grafana_folder": "KMS"})
        (default,) = by_kind(render({"grafanaDashboard": {"enabled": True}}), "ConfigMap")
        self.assertEqual(default["metadata"]["namespace"], "kms-system")
        self.assertEqual(default["metadata"]["labels"]["grafana_dashboard"], "1")
        (text,) = config["data"].values()
        dashboard = json.loads(text)
        self.assertEqual(dashboard["uid"], "kms-operator")
        variables = [v["name"] for v in dashboard["templating"]["list"]]
        self.assertEqual(variables, ["datasource", "namespace", "job"])
        ids = [p["id"] for p in dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        for panel in dashboard["panels"]:
            with self.subTest(panel=panel["title"]):
                self.assertEqual(panel["datasource"]["uid"], "${datasource}")
                self.assertTrue(panel["targets"])
                for target in panel["targets"]:
                    self.assertIn('namespace="$namespace",job="$job"', target["expr"])
        titles = {p["title"] for p in dashboard["panels"]}
        for wanted in ("Resources by condition", "Reconciles by kind and result", "Reconcile errors by kind and reason",
                       "AWS calls by operation", "AWS throttles by operation", "Reconcile latency p95 by kind",
                       "Drift found by kind", "Resources drifting now"):
            self.assertIn(wanted, titles)


if __name__ == "__main__":
    unittest.main()


def env_of(deployment):
    return {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


class Shards(unittest.TestCase):
    """`shards`: one Deployment per shard, each electing its own leader; none: the controller as before."""

    def test_without_shards_the_one_controller_knows_nothing_of_them(self):
        for label, values in VALUE_SETS.items():
            (deployment,) = by_kind(render(values), "Deployment")
            self.assertEqual(deployment["metadata"]["name"], RELEASE, label)
            self.assertFalse([name for name in env_of(deployment) if "SHARD" in name], label)
            self.assertNotIn("kmsoperator.dev/shard", deployment["spec"]["selector"]["matchLabels"])
        (rule,) = by_kind(render(ALL_ON), "PrometheusRule")
        self.assertNotIn("shard", json.dumps(rule))
        self.assertNotIn("unclaimed", json.dumps(rule).lower())

    def test_an_empty_list_of_shards_renders_byte_for_byte_the_one_controller(self):
        for label, values in VALUE_SETS.items():
            without = chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
            empty = chart().render({**values, "shards": []}, name=RELEASE, namespace=NAMESPACE, is_install=True)
            self.assertEqual(without, empty, label)
            self.assertFalse([path for path, text in without.items() if "KNOWN_SHARDS" in text or "Unclaimed" in text], label)

    def test_each_shard_is_a_deployment_of_its_own_with_its_selector_and_lease(self):
        objects = render(SHARDED)
        deployments = {d["metadata"]["name"]: d for d in by_kind(objects, "Deployment")}
        self.assertEqual(sorted(deployments), [f"{RELEASE}-prod", f"{RELEASE}-rest"])
        leases, selectors = set(), []
        for shard in SHARDED["shards"]:
            deployment = deployments[f"{RELEASE}-{shard['name']}"]
            env = env_of(deployment)
            self.assertEqual((env["KMS_OPERATOR_SHARD_NAME"], env["KMS_OPERATOR_SHARD_SELECTOR"]), (shard["name"], shard["selector"]))
            # Each shard knows every shard, so a claim naming none of them is reported.
            self.assertEqual(env["KMS_OPERATOR_KNOWN_SHARDS"], "prod,rest")
            # The binary appends the shard's name to the Lease's: one leader per shard.
            self.assertEqual(env["KMS_OPERATOR_LEADER_ELECTION"], "true")
            leases.add(f"{env['KMS_OPERATOR_LEASE_NAME']}-{env['KMS_OPERATOR_SHARD_NAME']}")
            match = deployment["spec"]["selector"]["matchLabels"]
            self.assertEqual(match["kmsoperator.dev/shard"], shard["name"])
            self.assertLessEqual(match.items(), deployment["spec"]["template"]["metadata"]["labels"].items())
            selectors.append(match)
        self.assertEqual(len(leases), 2)
        # No Deployment adopts the other's pods.
        self.assertNotEqual(selectors[0], selectors[1])
        rest = deployments[f"{RELEASE}-rest"]
        self.assertEqual(rest["spec"]["replicas"], 1)
        self.assertEqual(rest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"], "512Mi")
        self.assertEqual(deployments[f"{RELEASE}-prod"]["spec"]["replicas"], ALL_ON["replicaCount"])
        budgets = {b["metadata"]["name"]: b["spec"]["selector"]["matchLabels"] for b in by_kind(objects, "PodDisruptionBudget")}
        self.assertEqual({name: match["kmsoperator.dev/shard"] for name, match in budgets.items()}, {f"{RELEASE}-prod": "prod", f"{RELEASE}-rest": "rest"})

    def test_a_shard_without_election_is_recreated_like_the_one_controller(self):
        # Without a Lease only Recreate keeps a shard's upgrade from running two writers.
        values = {"leaderElection": {"enabled": False}, "shards": [{"name": "only", "selector": "env"}]}
        (deployment,) = by_kind(render(values), "Deployment")
        self.assertEqual(deployment["spec"]["strategy"], {"type": "Recreate"})
        self.assertEqual(env_of(deployment)["KMS_OPERATOR_LEADER_ELECTION"], "false")

    def test_the_alerts_tell_the_shards_apart(self):
        (rule,) = by_kind(render(SHARDED), "PrometheusRule")
        alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
        for shard in ("prod", "rest"):
            self.assertIn(f'kmsoperator_dev_shard="{shard}"', alerts["KmsOperatorDown"])
        self.assertIn("kmsoperator_dev_shard", alerts["KmsOperatorNoLeader"])
        # Every shard counts the same objects, each from its own watch: the maximum, per kind.
        unclaimed = alerts["KmsOperatorUnclaimedResources"]
        self.assertTrue(unclaimed.startswith("max by (namespace, job, kind, claim) (kms_operator_unclaimed_resources{"), unclaimed)
        self.assertTrue(unclaimed.endswith(") > 0"), unclaimed)
        self.assertNotIn("kmsoperator_dev_shard", unclaimed, "the maximum over the shards, not one alert per shard")
        (monitor,) = by_kind(render(SHARDED), "ServiceMonitor")
        self.assertEqual(monitor["spec"]["podTargetLabels"], ["kmsoperator.dev/shard"])

    def test_a_bad_shard_fails_at_install(self):
        for shard in ({"name": "Prod", "selector": "env=prod"}, {"name": "prod"}, {"name": "prod", "selector": ""}, {"name": "prod", "selector": "x", "replica": 2}):
            with self.subTest(shard=shard), self.assertRaises(helm.HelmValuesError):
                chart().validate_schema({"shards": [shard]})

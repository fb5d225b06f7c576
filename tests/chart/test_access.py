"""Who may reach the operator and its kinds, as the chart renders it: the NetworkPolicy in front of
/metrics, and the roles tenants get. Every rendered object is also validated against the
Kubernetes schemas by test_chart."""

import unittest

from chart import ALL_ON, render

WRITE = {"create", "update", "patch", "delete", "deletecollection"}


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def tenant_roles(objects):
    return {r["metadata"]["name"]: r for r in by_kind(objects, "ClusterRole") if "-tenant" in r["metadata"]["name"]}


class MetricsNetworkPolicy(unittest.TestCase):
    def test_only_the_listed_peers_reach_the_metrics_port_by_default(self):
        objects = render({})
        (policy,) = by_kind(objects, "NetworkPolicy")
        (deployment,) = by_kind(objects, "Deployment")
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = policy["spec"]["podSelector"]["matchLabels"]
        self.assertTrue(selector.items() <= pod_labels.items(), "it selects the operator's pod")
        self.assertEqual(policy["spec"]["policyTypes"], ["Ingress"], "egress (API server, AWS) stays open")
        (rule,) = policy["spec"]["ingress"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        (port,) = container["ports"]
        self.assertEqual(rule["ports"], [{"port": port["containerPort"], "protocol": "TCP"}])
        self.assertEqual(rule["from"], [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}])

    def test_the_peers_follow_the_values_and_none_means_nobody(self):
        peers = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]
        (policy,) = by_kind(render({"networkPolicy": {"metricsFrom": peers}, "metrics": {"port": 9090}}), "NetworkPolicy")
        self.assertEqual(policy["spec"]["ingress"][0]["from"], peers)
        self.assertEqual(policy["spec"]["ingress"][0]["ports"][0]["port"], 9090)
        (closed,) = by_kind(render({"networkPolicy": {"metricsFrom": []}}), "NetworkPolicy")
        # A rule whose `from` is empty would match every source: no peer means no rule at all.
        self.assertEqual(closed["spec"]["ingress"], [])
        self.assertEqual(closed["spec"]["policyTypes"], ["Ingress"])
        self.assertEqual(by_kind(render({"networkPolicy": {"enabled": False}}), "NetworkPolicy"), [])


class TenantRoles(unittest.TestCase):
    def test_tenants_manage_the_namespaced_kinds_through_edit_and_read_them_through_view(self):
        for label, values in {"default": {}, "all-on": ALL_ON}.items():
            roles = tenant_roles(render(values))
            self.assertEqual(set(roles), {"kms-operator-tenant", "kms-operator-tenant-view"}, label)
            edit, view = roles["kms-operator-tenant"], roles["kms-operator-tenant-view"]
            self.assertEqual(edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"], "true")
            self.assertEqual(view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"], "true")
            for role in (edit, view):
                for rule in role["rules"]:
                    self.assertEqual(rule["apiGroups"], ["kmsoperator.dev"])
                    self.assertEqual(set(rule["resources"]), {"kmskeys", "kmsaliases", "kmsgrants"})
            self.assertTrue(WRITE <= {v for r in edit["rules"] for v in r["verbs"]})
            self.assertEqual({v for r in view["rules"] for v in r["verbs"]}, {"get", "list", "watch"})

    def test_tenants_get_no_status_no_accounts_and_no_wildcards(self):
        for role in tenant_roles(render({})).values():
            for rule in role["rules"]:
                resources, verbs = set(rule["resources"]), set(rule["verbs"])
                self.assertFalse({r for r in resources if "/" in r}, f"{role['metadata']['name']}: no subresource, status least of all")
                self.assertNotIn("awsaccounts", resources, "AwsAccounts are the platform team's")
                self.assertNotIn("*", resources | verbs | set(rule["apiGroups"]))

    def test_the_roles_follow_their_switch(self):
        self.assertEqual(tenant_roles(render({"tenantRoles": {"enabled": False}})), {})


if __name__ == "__main__":
    unittest.main()

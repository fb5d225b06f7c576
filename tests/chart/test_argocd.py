"""The Argo CD health check (deploy/argocd/health.lua), run with a real Lua interpreter against
objects as the operator writes them."""

import pathlib
import unittest

import yaml
from lupa import LuaRuntime

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "deploy" / "argocd" / "health.lua").read_text()
KINDS = ["AwsAccount", "KmsKey", "KmsAlias", "KmsGrant"]


def health(obj):
    """Runs the script as Argo CD does: `obj` is a global, the script returns a table."""
    lua = LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value):
        if isinstance(value, dict):
            return lua.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([to_lua(v) for v in value])
        return value

    lua.globals().obj = to_lua(obj)
    result = lua.execute(SCRIPT)
    return result["status"], result["message"]


def key(ready=None, synced=None, generation=1, observed=1):
    conditions = []
    for type_, cond in (("Ready", ready), ("Synced", synced)):
        if cond is not None:
            status, reason, message = cond
            conditions.append({"type": type_, "status": status, "reason": reason, "message": message})
    status = {"conditions": conditions, "observedGeneration": observed} if conditions else None
    obj = {"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsKey", "metadata": {"name": "k", "generation": generation}}
    if status:
        obj["status"] = status
    return obj


class Health(unittest.TestCase):
    def test_states(self):
        in_sync = ("True", "InSync", "live state matches the spec")
        cases = [
            (key(), "Progressing"),
            (key(("True", "Available", "ok"), in_sync), "Healthy"),
            (key(("True", "Available", "ok"), in_sync, generation=2, observed=1), "Progressing"),
            (key(("False", "KeyDisabled", "disabled as asked"), in_sync), "Suspended"),
            (key(("False", "KeyNotReady", "waiting"), ("False", "KeyNotReady", "waiting")), "Progressing"),
            (key(("False", "NotOwned", "not ours"), ("False", "NotOwned", "not ours")), "Degraded"),
            (key(("True", "Available", "ok"), ("False", "AccessDenied", "kms:PutKeyPolicy denied")), "Degraded"),
            (key(("True", "Available", "ok"), ("False", "DriftDetected", "Observe")), "Degraded"),
        ]
        for obj, expected in cases:
            with self.subTest(obj=obj):
                status, message = health(obj)
                self.assertEqual(status, expected, message)

    def test_degraded_says_why(self):
        status, message = health(key(("True", "Available", "ok"), ("False", "AccessDenied", "kms:PutKeyPolicy denied")))
        self.assertEqual(message, "AccessDenied: kms:PutKeyPolicy denied")

    def test_the_config_map_carries_the_same_script_for_every_kind(self):
        config = yaml.safe_load((ROOT / "deploy" / "argocd" / "argocd-cm-health.yaml").read_text())
        for kind in KINDS:
            self.assertEqual(config["data"][f"resource.customizations.health.kmsoperator.dev_{kind}"].strip(), SCRIPT.strip(), kind)


if __name__ == "__main__":
    unittest.main()

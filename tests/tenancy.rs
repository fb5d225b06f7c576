//! The tenancy attack table, in local mode against a real local KMS: each test is what a team
//! with write access to one namespace would try against another team's keys or its account's
//! rules. Each asserts the refusal's reason and counts the KMS writes the attempt made (none);
//! positive controls show that legitimate use still converges. docs/security.md lists these
//! tests beside the threats they answer.

mod support;

use support::cli::{Output, kms_operator, run_json};
use support::kms;
use support::manifests::{ACCOUNT_ID, REGION, Workspace, account_with, key_in, namespace, object_in};
use support::moto::Moto;

/// An account the platform permits tenants to share keys with.
const PARTNER: &str = "339712836516";
/// An account nobody permitted.
const STRANGER: &str = "999988887777";

fn account(endpoint: &str) -> String {
    account_with(
        endpoint,
        &format!(
            "allowedNamespaces: {{matchLabels: {{tenant: \"yes\"}}}}\npermissions:\n  principalAccounts: [\"{PARTNER}\"]\n  adoptionNamespaces: {{matchLabels: {{adopt: \"yes\"}}}}"
        ),
    )
}

fn namespaces() -> String {
    [
        namespace("team-a", "{tenant: \"yes\"}"),
        namespace("team-b", "{tenant: \"yes\"}"),
        namespace("platform", "{tenant: \"yes\", adopt: \"yes\"}"),
        namespace("outsider", "{}"),
    ]
    .join("---\n")
}

/// Team A's key, alias and grant, applied; and a key the operator never created.
struct World {
    moto: Moto,
    kms: aws_sdk_kms::Client,
    team_a_key: String,
    legacy_key: String,
}

async fn world() -> World {
    let moto = Moto::start();
    let team_a = Workspace::new();
    team_a.write("account.yaml", &account(&moto.endpoint()));
    team_a.write("namespaces.yaml", &namespaces());
    team_a.write("key.yaml", &key_in("team-a", "a-key", "description: team a\ntags: {Team: a}"));
    team_a
        .write("alias.yaml", &object_in("KmsAlias", "team-a", "a-alias", "name: alias/team-a\nkeyRef: {name: a-key}"));
    team_a.write(
        "grant.yaml",
        &object_in(
            "KmsGrant",
            "team-a",
            "a-grant",
            &format!("keyRef: {{name: a-key}}\nname: a-grant\ngranteePrincipal: arn:aws:iam::{ACCOUNT_ID}:role/a\noperations: [Decrypt]"),
        ),
    );
    let applied = run_json("apply", team_a.path());
    applied.assert_code(0);
    let team_a_key = applied.resource("KmsKey", "a-key")["status"]["keyId"].as_str().expect("key id").to_owned();
    let kms = kms::client(&moto.endpoint(), REGION).await;
    let legacy = kms.create_key().description("legacy").send().await.expect("CreateKey");
    let legacy_key = legacy.key_metadata().expect("metadata").key_id().to_owned();
    World { moto, kms, team_a_key, legacy_key }
}

impl World {
    /// A workspace with the account, the namespaces and `files`: what one team's repository holds.
    fn workspace(&self, files: &[(&str, String)]) -> Workspace {
        let ws = Workspace::new();
        ws.write("account.yaml", &account(&self.moto.endpoint()));
        ws.write("namespaces.yaml", &namespaces());
        for (name, text) in files {
            ws.write(name, text);
        }
        ws
    }

    async fn alias_target(&self, name: &str) -> Option<String> {
        let out = self.kms.list_aliases().send().await.expect("ListAliases");
        out.aliases().iter().find(|a| a.alias_name() == Some(name)).and_then(|a| a.target_key_id().map(str::to_owned))
    }

    async fn grant_names(&self, key_id: &str) -> Vec<String> {
        let out = self.kms.list_grants().key_id(key_id).send().await.expect("ListGrants");
        out.grants().iter().filter_map(|g| g.name().map(str::to_owned)).collect()
    }

    /// What team A's key looks like, to show nothing about it changed.
    async fn team_a_state(&self) -> (String, String, Vec<(String, String)>) {
        let meta = kms::describe(&self.kms, &self.team_a_key).await;
        let tags = kms::tags(&self.kms, &self.team_a_key).await.into_iter().collect();
        (
            meta.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            meta.description().unwrap_or_default().to_owned(),
            tags,
        )
    }
}

#[tokio::test]
async fn importing_another_team_s_key_changes_nothing_and_deleting_it_schedules_nothing() {
    let w = world().await;
    let before = w.team_a_state().await;
    let stolen = key_in(
        "team-b",
        "stolen",
        &format!(
            "import: {{keyId: {}}}\ndescription: mine now\ntags: {{Team: b}}\ndeletion: {{policy: Delete, pendingWindowDays: 7}}",
            w.team_a_key
        ),
    );
    let ws = w.workspace(&[("stolen.yaml", stolen)]);
    for command in ["plan", "apply", "delete"] {
        let output = run_json(command, ws.path());
        output.assert_code(1);
        let message = output.assert_refused("KmsKey", "stolen", "ForeignKey");
        assert!(message.contains("belongs to another namespace or cluster"), "{message}");
        assert!(!message.contains("team-a"), "a refusal tells nothing of other tenants' objects: {message}");
        assert_eq!(output.writes(), 0, "{command}: {}", output.stderr);
        let status = &output.resource("KmsKey", "stolen")["status"];
        assert!(status.get("keyId").is_none(), "a refused key shows nothing of the key it may not use: {status}");
    }
    assert_eq!(w.team_a_state().await, before, "team A's key is untouched");
}

#[tokio::test]
async fn another_team_s_alias_is_neither_taken_over_nor_deleted() {
    let w = world().await;
    let ws = w.workspace(&[
        ("key.yaml", key_in("team-b", "b-key", "description: team b")),
        ("alias.yaml", object_in("KmsAlias", "team-b", "hijack", "name: alias/team-a\nkeyRef: {name: b-key}")),
    ]);
    let applied = run_json("apply", ws.path());
    applied.assert_code(1);
    let message = applied.assert_refused("KmsAlias", "hijack", "ForeignKey");
    assert!(message.contains("may not repoint or delete it"), "{message}");
    assert_eq!(applied.resource("KmsKey", "b-key")["result"], "Changed", "team B's own key converges");
    for op in ["CreateAlias", "UpdateAlias", "DeleteAlias"] {
        assert_eq!(applied.calls(op), 0, "{op}");
    }
    assert_eq!(w.alias_target("alias/team-a").await, Some(w.team_a_key.clone()));

    let deleted = run_json("delete", ws.path());
    assert_eq!(deleted.calls("DeleteAlias"), 0, "{}", deleted.stdout);
    assert_eq!(w.alias_target("alias/team-a").await, Some(w.team_a_key.clone()), "the alias stays where team A put it");
}

#[tokio::test]
async fn a_grant_on_another_team_s_key_is_refused_and_theirs_is_never_retired() {
    let w = world().await;
    // Named like team A's grant, so that a delete would retire theirs if it were allowed.
    let grant = object_in(
        "KmsGrant",
        "team-b",
        "same-name",
        &format!(
            "targetKeyId: {}\naccountRef: test\nname: a-grant\ngranteePrincipal: arn:aws:iam::{ACCOUNT_ID}:role/b\noperations: [Decrypt, Encrypt]",
            w.team_a_key
        ),
    );
    let ws = w.workspace(&[("grant.yaml", grant)]);
    for command in ["apply", "delete"] {
        let output = run_json(command, ws.path());
        output.assert_code(1);
        output.assert_refused("KmsGrant", "same-name", "ForeignKey");
        assert_eq!(output.writes(), 0, "{command}");
        assert_eq!(output.calls("ListGrants"), 0, "{command}: another team's grants are not even listed");
    }
    assert_eq!(w.grant_names(&w.team_a_key).await, vec!["a-grant".to_owned()], "team A's grant is live");
}

#[tokio::test]
async fn keys_nobody_created_are_adopted_or_targeted_only_from_adoption_namespaces() {
    let w = world().await;
    let legacy = &w.legacy_key;
    let grantee = format!("arn:aws:iam::{ACCOUNT_ID}:role/b");
    let ws = w.workspace(&[
        ("import.yaml", key_in("team-b", "adopt", &format!("import: {{keyId: {legacy}}}\ndescription: adopted"))),
        ("alias.yaml", object_in("KmsAlias", "team-b", "legacy-alias", &format!("name: alias/legacy\ntargetKeyId: {legacy}\naccountRef: test"))),
        (
            "grant.yaml",
            object_in(
                "KmsGrant",
                "team-b",
                "legacy-grant",
                &format!("targetKeyId: {legacy}\naccountRef: test\nname: g\ngranteePrincipal: {grantee}\noperations: [Decrypt]"),
            ),
        ),
    ]);
    let output = run_json("apply", ws.path());
    output.assert_code(1);
    for (kind, name) in [("KmsKey", "adopt"), ("KmsAlias", "legacy-alias"), ("KmsGrant", "legacy-grant")] {
        let message = output.assert_refused(kind, name, "NotPermitted");
        assert!(message.contains("spec.permissions.adoptionNamespaces"), "{message}");
    }
    assert_eq!(output.writes(), 0);
    assert_eq!(kms::describe(&w.kms, legacy).await.description(), Some("legacy"));

    // Positive control: the platform team's adoption namespace adopts the same key.
    let platform = w.workspace(&[(
        "import.yaml",
        key_in("platform", "adopt", &format!("import: {{keyId: {legacy}}}\ndescription: adopted")),
    )]);
    let adopted = run_json("apply", platform.path());
    adopted.assert_code(0);
    assert_eq!(kms::describe(&w.kms, legacy).await.description(), Some("adopted"));
}

#[tokio::test]
async fn adopting_an_alias_is_for_adoption_namespaces_and_never_takes_another_team_s() {
    let w = world().await;
    w.kms.create_alias().alias_name("alias/legacy").target_key_id(&w.legacy_key).send().await.expect("CreateAlias");
    let alias_writes =
        |output: &Output| ["CreateAlias", "UpdateAlias", "DeleteAlias"].iter().map(|op| output.calls(op)).sum::<u64>();

    // Team B is no adoption namespace: refused before any call, by validate too.
    let team_b = w.workspace(&[
        ("key.yaml", key_in("team-b", "b-key", "")),
        (
            "alias.yaml",
            object_in("KmsAlias", "team-b", "takeover", "name: alias/legacy\nkeyRef: {name: b-key}\nadopt: true"),
        ),
    ]);
    let validated = kms_operator(&["validate", "-f", "."], team_b.path());
    validated.assert_code(1);
    assert!(
        validated.stderr.contains("error: NotPermitted: ") && validated.stderr.contains("spec.adopt"),
        "{}",
        validated.stderr
    );
    for command in ["plan", "apply"] {
        let output = run_json(command, team_b.path());
        output.assert_code(1);
        let message = output.assert_refused("KmsAlias", "takeover", "NotPermitted");
        assert!(message.contains("spec.adopt: is true") && message.contains("adoptionNamespaces"), "{message}");
        assert_eq!(alias_writes(&output), 0, "{command}");
        assert_eq!(output.calls("ListAliases"), 0, "{command}: refused before the aliases are even read");
    }
    assert_eq!(w.alias_target("alias/legacy").await, Some(w.legacy_key.clone()));

    // The platform namespace may adopt, but never an alias on another namespace's key.
    let platform = |object: &str, alias_name: &str| {
        let spec = format!("name: {alias_name}\nkeyRef: {{name: p-key}}\nadopt: true");
        w.workspace(&[
            ("key.yaml", key_in("platform", "p-key", "")),
            ("alias.yaml", object_in("KmsAlias", "platform", object, &spec)),
        ])
    };
    let output = run_json("apply", platform("grab", "alias/team-a").path());
    output.assert_code(1);
    let message = output.assert_refused("KmsAlias", "grab", "ForeignKey");
    assert!(message.contains("a key of another namespace or cluster"), "{message}");
    assert!(!message.contains("a-key") && !message.contains(&w.team_a_key), "nothing of team A's: {message}");
    assert_eq!(alias_writes(&output), 0);
    assert_eq!(w.alias_target("alias/team-a").await, Some(w.team_a_key.clone()));

    // Positive control: the platform namespace takes over the alias on the key nobody owns.
    let adopt = platform("adopt", "alias/legacy");
    let adopted = run_json("apply", adopt.path());
    adopted.assert_code(0);
    assert_eq!(adopted.calls("UpdateAlias"), 1);
    let p_key = adopted.resource("KmsKey", "p-key")["status"]["keyId"].as_str().expect("key id").to_owned();
    assert_eq!(w.alias_target("alias/legacy").await, Some(p_key));
    assert_eq!(run_json("apply", adopt.path()).writes(), 0);
}

#[tokio::test]
async fn deleting_an_alias_or_grant_alone_finds_only_its_own_namespace_s_key() {
    let w = world().await;
    let grantee = format!("arn:aws:iam::{ACCOUNT_ID}:role/b");
    // Team B's own key, applied; its manifest is then left out of the deletions below.
    let own = w.workspace(&[("key.yaml", key_in("team-b", "b-key", "description: team b"))]);
    run_json("apply", own.path()).assert_code(0);
    let alias_writes =
        |output: &Output| output.calls("DeleteAlias") + output.calls("RetireGrant") + output.calls("RevokeGrant");

    // Named like team A's key, alias and grant: no KmsKey of team B carries that name.
    let ws = w.workspace(&[
        ("alias.yaml", object_in("KmsAlias", "team-b", "a-alias", "name: alias/team-a\nkeyRef: {name: a-key}")),
        (
            "grant.yaml",
            object_in(
                "KmsGrant",
                "team-b",
                "a-grant",
                &format!("keyRef: {{name: a-key}}\nname: a-grant\ngranteePrincipal: {grantee}\noperations: [Decrypt]"),
            ),
        ),
    ]);
    let output = run_json("delete", ws.path());
    output.assert_code(0);
    assert_eq!(output.writes(), 0, "{}", output.stdout);
    let notices = output.resource("KmsAlias", "a-alias")["notices"].to_string();
    assert!(notices.contains("no key carries its ownership tag"), "{notices}");
    assert_eq!(w.alias_target("alias/team-a").await, Some(w.team_a_key.clone()));
    assert_eq!(w.grant_names(&w.team_a_key).await, vec!["a-grant".to_owned()]);

    // Team B's own key found by its tag, with team A's alias name: left where it is.
    let ws = w.workspace(&[(
        "alias.yaml",
        object_in("KmsAlias", "team-b", "hijack", "name: alias/team-a\nkeyRef: {name: b-key}"),
    )]);
    let output = run_json("delete", ws.path());
    output.assert_code(0);
    assert_eq!(alias_writes(&output), 0);
    let notices = output.resource("KmsAlias", "hijack")["notices"].to_string();
    assert!(notices.contains("a key of another namespace or cluster; left in place"), "{notices}");
    assert!(!notices.contains(&w.team_a_key), "team A's key is not named to team B: {notices}");
    assert_eq!(w.alias_target("alias/team-a").await, Some(w.team_a_key.clone()));

    // A namespace the account does not admit: no call at all to look for the key.
    let ws = w.workspace(&[(
        "alias.yaml",
        object_in("KmsAlias", "outsider", "a", "name: alias/team-a\nkeyRef: {name: a-key}"),
    )]);
    let output = run_json("delete", ws.path());
    output.assert_code(1);
    output.assert_refused("KmsAlias", "a", "NamespaceNotAllowed");
    assert_eq!(output.calls_beyond_identity(), 0);
    assert_eq!(w.alias_target("alias/team-a").await, Some(w.team_a_key.clone()));
}

#[tokio::test]
async fn policies_and_grants_may_open_keys_only_to_permitted_accounts() {
    let w = world().await;
    let stranger_role = format!("arn:aws:iam::{STRANGER}:role/x");
    let open_document = |statement: &str| {
        format!(
            "policyDocument: '{{\"Statement\": [{{\"Sid\": \"Admin\", \"Effect\": \"Allow\", \"Principal\": {{\"AWS\": \"arn:aws:iam::{ACCOUNT_ID}:root\"}}, \"Action\": \"kms:*\", \"Resource\": \"*\"}}, {statement}]}}'"
        )
    };
    let keys = [
        ("trusted", format!("policy: {{trustedAccounts: [\"{STRANGER}\"]}}"), "spec.policy.trustedAccounts[0]"),
        ("users", format!("policy: {{users: [\"{stranger_role}\"]}}"), "spec.policy.users[0]"),
        (
            "callers",
            format!("policy: {{services: [{{name: rds, callerAccounts: [\"{STRANGER}\"]}}]}}"),
            "spec.policy.services[0].callerAccounts[0]",
        ),
        (
            "everyone",
            open_document(
                r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}"#,
            ),
            "no condition limits",
        ),
        (
            "not-principal",
            open_document(&format!(
                r#"{{"Effect": "Allow", "NotPrincipal": {{"AWS": "arn:aws:iam::{ACCOUNT_ID}:root"}}, "Action": "kms:Decrypt", "Resource": "*"}}"#
            )),
            "Allow with NotPrincipal",
        ),
        ("bypass", "bypassPolicyLockoutSafetyCheck: true".to_owned(), "spec.bypassPolicyLockoutSafetyCheck"),
    ];
    let grants = [
        ("grantee", format!("granteePrincipal: {stranger_role}\noperations: [Decrypt]"), "spec.granteePrincipal"),
        (
            "retiring",
            format!(
                "granteePrincipal: arn:aws:iam::{PARTNER}:role/y\nretiringPrincipal: {stranger_role}\noperations: [Decrypt]"
            ),
            "spec.retiringPrincipal",
        ),
        (
            "redelegate",
            format!("granteePrincipal: arn:aws:iam::{PARTNER}:role/y\noperations: [Decrypt, CreateGrant]"),
            "spec.operations[1]",
        ),
    ];
    let mut files: Vec<(String, String)> =
        keys.iter().map(|(name, spec, _)| (format!("{name}.yaml"), key_in("team-b", name, spec))).collect();
    files.extend(grants.iter().map(|(name, spec, _)| {
        (
            format!("grant-{name}.yaml"),
            object_in("KmsGrant", "team-b", name, &format!("keyRef: {{name: trusted}}\nname: {name}\n{spec}")),
        )
    }));
    let named: Vec<(&str, String)> = files.iter().map(|(f, t)| (f.as_str(), t.clone())).collect();
    let ws = w.workspace(&named);

    let validated = kms_operator(&["validate", "-f", "."], ws.path());
    validated.assert_code(1);
    for (name, _, mark) in keys.iter().chain(grants.iter()) {
        let line = validated.stderr.lines().find(|l| l.contains(&format!("team-b/{name}:")) && l.contains(mark));
        assert!(
            line.is_some_and(|l| l.starts_with("error: NotPermitted: ") && l.contains(".yaml:")),
            "{name}:\n{}",
            validated.stderr
        );
    }

    let applied = run_json("apply", ws.path());
    applied.assert_code(1);
    for (name, _, mark) in &keys {
        assert!(applied.assert_refused("KmsKey", name, "NotPermitted").contains(mark), "{name}");
    }
    for (name, _, mark) in &grants {
        assert!(applied.assert_refused("KmsGrant", name, "NotPermitted").contains(mark), "{name}");
    }
    assert_eq!(applied.calls_beyond_identity(), 0, "refused before any call to KMS: {}", applied.stderr);
}

#[tokio::test]
async fn sharing_with_a_permitted_account_converges() {
    let w = world().await;
    let ws = w.workspace(&[
        (
            "key.yaml",
            key_in(
                "team-b",
                "shared",
                &format!("policy:\n  users: [\"arn:aws:iam::{PARTNER}:role/app\"]\n  trustedAccounts: [\"{PARTNER}\"]\n  services: [{{name: rds, callerAccounts: [\"{PARTNER}\"]}}]"),
            ),
        ),
        (
            "grant.yaml",
            object_in("KmsGrant", "team-b", "app", &format!("keyRef: {{name: shared}}\nname: app\ngranteePrincipal: arn:aws:iam::{PARTNER}:role/app\noperations: [Decrypt]")),
        ),
    ]);
    run_json("apply", ws.path()).assert_code(0);
    let again = run_json("plan", ws.path());
    again.assert_code(0);
    assert_eq!(again.writes(), 0);
}

#[tokio::test]
async fn a_namespace_the_account_does_not_admit_reaches_no_kms_call_even_to_delete() {
    let w = world().await;
    let stolen = format!("import: {{keyId: {}}}\ndeletion: {{policy: Delete}}", w.team_a_key);
    let ws =
        w.workspace(&[("key.yaml", key_in("outsider", "k", &stolen)), ("other.yaml", key_in("not-declared", "k", ""))]);
    for command in ["plan", "apply", "delete"] {
        let output = run_json(command, ws.path());
        output.assert_code(1);
        let message = output.assert_refused("KmsKey", "k", "NamespaceNotAllowed");
        assert!(message.contains("namespace outsider may not use AwsAccount test"), "{message}");
        let json = output.json();
        let undeclared = json.as_array().unwrap().iter().find(|r| r["namespace"] == "not-declared").expect("row");
        assert_eq!(undeclared["refused"]["reason"], "NamespaceNotAllowed", "no Namespace manifest means no labels");
        assert_eq!(output.calls_beyond_identity(), 0, "{command}");
    }

    // An account without allowedNamespaces admits nobody.
    let closed = Workspace::new();
    closed.write("account.yaml", &account_with(&w.moto.endpoint(), ""));
    closed.write("namespaces.yaml", &namespaces());
    closed.write("key.yaml", &key_in("team-b", "k", ""));
    let output = run_json("apply", closed.path());
    let message = output.assert_refused("KmsKey", "k", "NamespaceNotAllowed");
    assert!(message.contains("admits no namespace"), "{message}");
    assert_eq!(output.calls_beyond_identity(), 0);
}

#[tokio::test]
async fn a_manifest_cannot_bring_a_status_that_claims_a_past() {
    let w = world().await;
    let claimed = format!(
        "{}status:\n  targetKeyId: {}\n  region: {REGION}\n  conditions: [{{type: Ready, status: \"True\", reason: Available, message: held, lastTransitionTime: \"2026-01-01T00:00:00Z\"}}]\n",
        object_in("KmsAlias", "team-b", "hijack", "name: alias/team-a\nkeyRef: {name: b-key}"),
        w.team_a_key
    );
    let ws = w.workspace(&[("key.yaml", key_in("team-b", "b-key", "")), ("alias.yaml", claimed)]);
    let output = run_json("apply", ws.path());
    output.assert_code(1);
    assert!(output.stdout.trim().is_empty(), "nothing ran: {}", output.stdout);
    assert!(
        output.stderr.contains("KmsAlias team-b/hijack: status: is set, but status is written by the operator"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("nothing was sent to AWS"), "{}", output.stderr);
    assert_eq!(w.alias_target("alias/team-a").await, Some(w.team_a_key.clone()));
}

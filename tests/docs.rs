//! The docs, held to the code. Every Markdown page of the repository is read at test time
//! (support/docs.rs), so pages added later are checked the same way:
//!
//! - manifests (YAML blocks of Kubernetes objects) pass `kms-operator validate`, each page's set
//!   together, with deploy/examples' AwsAccounts and Namespaces for those it does not declare;
//!   other YAML blocks parse;
//! - JSON blocks are IAM policies (well-formed) or `--output json` results and summaries, held
//!   to the shape of the real output of `apply` and `plan` against a local KMS;
//! - commands (shell blocks, and inline code that starts with `kms-operator ` or `just `):
//!   `kms-operator` subcommands and flags exist in `--help`, `just` recipes in the justfile,
//!   `cargo bench --bench` targets in Cargo.toml, `helm --set` values in the chart's values,
//!   `docker build --target` stages in the Dockerfile, and every repository path named exists;
//! - tables of flags match `--help` (flag, environment variable, default), tables of KMS
//!   quotas match the operator's rate limiter;
//! - links to other pages of the repository lead to a file, and to a heading where they name one.
//!
//! What cannot be run here (kubectl, aws, helm, docker themselves) is checked no further than
//! that; docs/testing.md says so.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kms_operator::api::Reason;
use kms_operator::aws::Op;
use serde_json::Value;
use support::cli::kms_operator_in;
use support::cli_help::{self, Flag};
use support::doc_commands::{Project, check_path, commands};
use support::docs::{self, Block, Page, Table};
use support::iam_document;
use support::json_shape::Shape;
use support::moto::{Moto, project_root};
use support::proxy::FaultProxy;

fn all_pages() -> Vec<Page> {
    let pages = docs::pages();
    let names: Vec<&str> = pages.iter().map(|p| p.path.as_str()).collect();
    for expected in ["README.md", "docs/api.md", "docs/install.md", "charts/kms-operator/README.md"] {
        assert!(names.contains(&expected), "{expected} not found among {names:?}");
    }
    pages
}

fn report(problems: Vec<String>) {
    assert!(problems.is_empty(), "{} problem(s) in the docs:\n{}", problems.len(), problems.join("\n"));
}

// ---- manifests -------------------------------------------------------------------------

fn identity(manifest: &Value) -> (String, String) {
    let kind = manifest["kind"].as_str().unwrap_or_default().to_owned();
    let metadata = &manifest["metadata"];
    let name = format!("{}/{}", metadata["namespace"].as_str().unwrap_or(""), metadata["name"].as_str().unwrap_or(""));
    (kind, name)
}

#[test]
fn every_manifest_in_the_docs_is_valid() {
    let context: Vec<Value> =
        docs::examples().into_iter().filter(|m| m["kind"] == "AwsAccount" || m["kind"] == "Namespace").collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in all_pages() {
        for block in page.blocks.iter().filter(|b| b.lang == "yaml" || b.lang == "yml") {
            if docs::yaml_documents(block).is_none() {
                problems.push(format!("{}: the YAML block does not parse", block.place()));
            }
        }
        let manifests = docs::manifests(&page);
        if manifests.is_empty() {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let declared: BTreeSet<(String, String)> = manifests.iter().map(|(_, m)| identity(m)).collect();
        // One file per block, as written: line k of `<page>-line-<n>.yaml` is line n + k of the page.
        let blocks: BTreeMap<usize, &Block> = manifests.iter().map(|(block, _)| (block.line, *block)).collect();
        for (line, block) in blocks {
            let file = format!("{}-line-{line}.yaml", page.path.replace('/', "_"));
            std::fs::write(dir.path().join(file), &block.text).expect("write");
        }
        let borrowed: Vec<String> = context
            .iter()
            .filter(|m| !declared.contains(&identity(m)))
            .map(|m| serde_yaml_ng::to_string(m).expect("YAML"))
            .collect();
        std::fs::write(dir.path().join("99-borrowed-from-deploy-examples.yaml"), borrowed.join("---\n"))
            .expect("write");
        let output = kms_operator_in(&["validate", "-f", "."], dir.path(), &[("RUST_LOG", "warn")]);
        checked += manifests.len();
        if output.code != 0 {
            problems.push(format!("{}: `kms-operator validate` refuses its manifests:\n{}", page.path, output.stderr));
        }
    }
    assert!(checked >= 5, "only {checked} manifests found in the docs");
    report(problems);
}

// ---- JSON ------------------------------------------------------------------------------

/// What a JSON block of the docs shows.
enum Shown {
    Policy,
    Results,
    Summary,
}

fn classify(value: &Value) -> Option<Shown> {
    if value.get("Statement").is_some() {
        return Some(Shown::Policy);
    }
    if value.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("summary")) {
        return Some(Shown::Summary);
    }
    let results = value.as_array().is_some_and(|items| {
        !items.is_empty() && items.iter().all(|item| item["kind"].is_string() && item["name"].is_string())
    });
    results.then_some(Shown::Results)
}

/// The real output's shapes: each kind's results, and the summary, from `apply` of the examples
/// and a `plan` that meets drift (an Observe key changed) and a refusal (a namespace no account
/// admits).
fn real_output() -> (BTreeMap<String, Shape>, Shape) {
    let moto = Moto::start();
    // The examples turn key usage alarms on: CloudWatch's CBOR goes through the test proxy's
    // translation (docs/testing.md), served by a runtime that lives as long as this function.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let proxy = runtime.block_on(FaultProxy::start(moto.port));
    let endpoint = proxy.endpoint();
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "ap-southeast-2"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("RUST_LOG", "warn"),
    ];
    let examples = project_root().join("deploy/examples");
    let situations = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(&examples).expect("examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("example");
        let text = text.replace(
            "  description: \"Data Mesh Manager prod: RDS, ECS logs, Secrets Manager\"\n",
            "  description: \"changed by hand\"\n  managementPolicy: Observe\n",
        );
        std::fs::write(situations.path().join(path.file_name().expect("name")), text).expect("write");
    }
    std::fs::write(
        situations.path().join("90-refused.yaml"),
        "apiVersion: kmsoperator.dev/v1alpha1\nkind: KmsKey\nmetadata: {name: orders, namespace: not-a-tenant}\nspec: {accountRef: core-security}\n",
    )
    .expect("write");
    let runs = [
        (vec!["apply", "-f", ".", "-o", "json"], examples.as_path()),
        (vec!["plan", "-f", ".", "-o", "json"], situations.path()),
    ];
    let mut kinds: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut summaries = Vec::new();
    for (args, dir) in runs {
        let output = kms_operator_in(&args, dir, &env);
        for result in output.json().as_array().expect("results") {
            kinds.entry(result["kind"].as_str().expect("kind").to_owned()).or_default().push(result.clone());
        }
        summaries.push(serde_json::json!({"summary": output.summary()}));
    }
    let results: Vec<&Value> = kinds.values().flatten().collect();
    for expected in ["Drifted", "Refused", "Changed"] {
        assert!(results.iter().any(|r| r["result"] == expected), "no {expected} result to learn from");
    }
    (kinds.into_iter().map(|(kind, values)| (kind, Shape::of(&values))).collect(), Shape::of(&summaries))
}

fn json_blocks(pages: &[Page]) -> Vec<(Block, Result<Value, String>)> {
    pages
        .iter()
        .flat_map(|page| page.blocks.iter().filter(|b| b.lang == "json"))
        .map(|block| (block.clone(), serde_json::from_str(&block.text).map_err(|e| e.to_string())))
        .collect()
}

#[test]
fn every_json_block_is_a_well_formed_policy_or_the_real_output_s_shape() {
    let pages = all_pages();
    let blocks = json_blocks(&pages);
    let mut problems = Vec::new();
    let needs_output =
        blocks.iter().any(|(_, v)| v.as_ref().is_ok_and(|v| !matches!(classify(v), Some(Shown::Policy))));
    let (kinds, summary) = if needs_output { real_output() } else { (BTreeMap::new(), Shape::default()) };
    for (block, parsed) in &blocks {
        let value = match parsed {
            Ok(value) => value,
            Err(error) => {
                problems.push(format!("{}: not JSON: {error}", block.place()));
                continue;
            }
        };
        let found = match classify(value) {
            Some(Shown::Policy) => iam_document::problems(value),
            Some(Shown::Summary) => summary.mismatches(value, "$"),
            Some(Shown::Results) => value
                .as_array()
                .expect("results")
                .iter()
                .enumerate()
                .flat_map(|(i, result)| {
                    let kind = result["kind"].as_str().unwrap_or_default();
                    match kinds.get(kind) {
                        Some(shape) => shape.mismatches(result, &format!("$[{i}]")),
                        None => vec![format!("$[{i}]: no {kind} in the real output")],
                    }
                })
                .collect(),
            None => {
                vec!["neither an IAM policy nor `--output json` output: teach tests/docs.rs what it shows".to_owned()]
            }
        };
        problems.extend(found.into_iter().map(|p| format!("{}: {p}", block.place())));
    }
    // The policies deploy/ ships, which the docs tell to create.
    for path in glob_files("deploy", "json") {
        let text = std::fs::read_to_string(&path).expect("policy");
        let relative = path.strip_prefix(project_root()).unwrap_or(&path).display().to_string();
        match serde_json::from_str::<Value>(&text) {
            Ok(policy) if policy.get("Statement").is_some() => {
                problems.extend(iam_document::problems(&policy).into_iter().map(|p| format!("{relative}: {p}")))
            }
            Ok(_) => {}
            Err(error) => problems.push(format!("{relative}: not JSON: {error}")),
        }
    }
    report(problems);
}

fn glob_files(under: &str, extension: &str) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(project_root().join(under))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == extension))
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn a_policy_or_an_output_example_that_is_wrong_is_caught() {
    let good = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}]});
    assert!(iam_document::problems(&good).is_empty());
    let bad = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "a-b", "Effect": "allow", "Action": "DescribeKey", "NotAction": "kms:X", "Resourse": "*"}]});
    assert_eq!(iam_document::problems(&bad).len(), 5, "{:?}", iam_document::problems(&bad));
    // The summary shape api.md once showed (`summary.writes`) against the real one.
    let real = Shape::of(&[serde_json::json!({"summary": {"resources": 7, "calls": {"reads": 1, "writes": 2}}})]);
    assert!(real.mismatches(&serde_json::json!({"summary": {"calls": {"writes": 2}}}), "$").is_empty());
    assert_eq!(real.mismatches(&serde_json::json!({"summary": {"writes": 2}}), "$").len(), 1);
    assert_eq!(real.mismatches(&serde_json::json!({"summary": {"resources": "7"}}), "$").len(), 1);
}

// ---- commands --------------------------------------------------------------------------

#[test]
fn every_command_in_the_docs_is_one_the_project_has() {
    let project = Project::read();
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in all_pages() {
        let shell = page.blocks.iter().filter(|b| ["sh", "bash", "shell", "console"].contains(&b.lang.as_str()));
        let mut found: Vec<(String, Vec<String>)> =
            shell.flat_map(|b| commands(&b.text).into_iter().map(move |c| (b.place(), c))).collect();
        for inline in &page.inline {
            let place = format!("{}:{}", inline.page, inline.line);
            if inline.text.starts_with("kms-operator ") || inline.text.starts_with("just ") {
                found.extend(commands(&inline.text).into_iter().map(|c| (place.clone(), c)));
            } else {
                let mut path_problems = Vec::new();
                check_path(&inline.text, &mut path_problems);
                problems.extend(path_problems.into_iter().map(|p| format!("{place}: {p}")));
            }
        }
        for (place, command) in found {
            let mut found_problems = Vec::new();
            project.check(&command, &mut found_problems);
            checked += 1;
            problems.extend(found_problems.into_iter().map(|p| format!("{place}: {p}")));
        }
    }
    assert!(checked >= 20, "only {checked} commands found in the docs");
    report(problems);
}

#[test]
fn a_command_the_project_does_not_have_is_caught() {
    let project = Project::read();
    let problems = |text: &str| {
        let mut found = Vec::new();
        for command in commands(text) {
            project.check(&command, &mut found);
        }
        found
    };
    assert!(problems("kms-operator plan -f keys/ -o json --assume-role-name x -vv").is_empty());
    assert!(
        problems(
            "helm install k charts/kms-operator --set serviceAccount.annotations.\"eks\\.amazonaws\\.com/role-arn\"=x"
        )
        .is_empty()
    );
    assert_eq!(problems("kms-operator plan --dry-run -f keys/").len(), 1);
    assert_eq!(problems("kms-operator diff -f keys/").len(), 1);
    assert_eq!(problems("cargo install just --locked && just tests").len(), 1);
    assert_eq!(problems("cargo bench --bench planer").len(), 1);
    assert_eq!(problems("docker build --target cl .").len(), 1);
    assert_eq!(problems("helm install k charts/kms-operator --set image.repo=x").len(), 1);
    assert_eq!(problems("aws iam create-role --assume-role-policy-document file://deploy/iam/nope.json").len(), 1);
}

// ---- tables ----------------------------------------------------------------------------

fn plain(cell: &str) -> String {
    cell.trim().trim_matches('`').to_owned()
}

/// A table of flags (`| flag | environment | default | ... |`): each flag, its environment
/// variable and its default as `--help` gives them.
fn flag_rows(table: &Table, flags: &[&Flag], column: impl Fn(&str) -> Option<usize>) -> Vec<String> {
    let (Some(env), default) = (column("environment"), column("default")) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for row in &table.rows {
        let name = row[0].split_whitespace().next().unwrap_or_default().to_owned();
        let place = format!("{}:{} `{name}`", table.page, table.line);
        let Some(flag) = flags.iter().find(|f| f.is(&name)) else {
            problems.push(format!("{place}: no such flag in any subcommand's --help"));
            continue;
        };
        if flag.env.as_deref() != Some(plain(&row[env]).as_str()) {
            problems.push(format!("{place}: environment {} in the docs, {:?} in --help", row[env], flag.env));
        }
        let documented = default.map(|i| plain(&row[i])).unwrap_or_default();
        if let Some(default) = &flag.default
            && !documented.split([' ', ',']).any(|w| plain(w) == *default)
        {
            problems.push(format!("{place}: default {documented:?} in the docs, {default} in --help"));
        }
    }
    problems
}

/// A table of KMS quotas (`| operations | requests per second |`): the operator's rate limiter
/// uses the same numbers.
fn quota_rows(table: &Table, quota: usize) -> Vec<String> {
    let mut problems = Vec::new();
    for row in &table.rows {
        let documented: u32 = plain(&row[quota]).parse().unwrap_or(0);
        for name in row[0].split(',').map(plain) {
            let place = format!("{}:{}: {name}", table.page, table.line);
            match Op::parse(&name) {
                Some(op) if op.default_quota() == documented => {}
                Some(op) => {
                    problems.push(format!("{place} at {documented}/s, {}/s in the operator", op.default_quota()))
                }
                None => problems.push(format!("{place} is no operation the operator calls")),
            }
        }
    }
    problems
}

#[test]
fn tables_of_flags_and_quotas_match_the_binary() {
    let subcommands = cli_help::subcommands();
    let flags: Vec<&Flag> = subcommands.values().flatten().collect();
    let mut problems = Vec::new();
    let mut rows = 0;
    for page in all_pages() {
        for table in &page.tables {
            let header: Vec<String> = table.header.iter().map(|h| h.trim().to_lowercase()).collect();
            let column = |name: &str| header.iter().position(|h| h == name);
            if column("flag") == Some(0) {
                rows += table.rows.len();
                problems.extend(flag_rows(table, &flags, column));
            }
            if let (Some(0), Some(quota)) = (column("operations"), column("requests per second")) {
                rows += table.rows.len();
                problems.extend(quota_rows(table, quota));
            }
        }
    }
    assert!(rows >= 20, "only {rows} table rows checked");
    report(problems);
}

// ---- reasons ---------------------------------------------------------------------------

/// The reasons a cell of a reason column names: a comma-separated list, each the first word of
/// its part (`ClaimConflict (blocked)`).
fn reasons_in(cell: &str) -> Vec<String> {
    cell.split(',').filter_map(|part| part.split_whitespace().next()).map(str::to_owned).collect()
}

fn reason_column(table: &Table) -> Option<usize> {
    table.header.iter().position(|h| h.trim().eq_ignore_ascii_case("reason"))
}

/// docs/api.md's table of reasons (`| reason | condition | meaning |`) against `known`: every
/// row names known reasons only, and every known reason has a row. Other tables of the docs
/// with a reason column may name known reasons only.
fn reason_table_problems(pages: &[Page], known: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    let mut tables = 0;
    for page in pages {
        for table in &page.tables {
            let Some(column) = reason_column(table) else { continue };
            let complete = page.path == "docs/api.md" && column == 0 && table.header.len() == 3;
            tables += usize::from(complete);
            for (i, row) in table.rows.iter().enumerate() {
                let names = reasons_in(&row[column]);
                if names.is_empty() {
                    problems.push(format!("{}:{} row {}: no reason", table.page, table.line, i + 1));
                }
                for name in names {
                    if !known.contains(&name.as_str()) {
                        problems.push(format!("{}:{} row {}: {name:?} is no Reason", table.page, table.line, i + 1));
                    } else if complete {
                        listed.insert(name);
                    }
                }
            }
        }
    }
    if tables != 1 {
        problems
            .push(format!("docs/api.md has {tables} tables of reasons (| reason | condition | meaning |), not one"));
    }
    let missing = known.iter().filter(|r| !listed.contains(**r));
    problems.extend(missing.map(|r| format!("docs/api.md's table of reasons has no row for {r}")));
    problems
}

fn api_page() -> Vec<Page> {
    vec![docs::page_at("docs/api.md")]
}

fn all_reasons() -> Vec<&'static str> {
    Reason::ALL.iter().map(|r| r.as_str()).collect()
}

#[test]
fn every_reason_has_a_row_in_the_api_docs_and_every_row_is_a_reason() {
    let known = all_reasons();
    assert!(known.len() > 60, "{known:?}");
    report(reason_table_problems(&all_pages(), &known));
}

#[test]
fn a_reason_missing_from_the_table_or_a_row_naming_none_is_caught() {
    // A variant added to the code without its row.
    let mut known = all_reasons();
    known.push("BrandNewReason");
    assert_eq!(
        reason_table_problems(&api_page(), &known),
        vec!["docs/api.md's table of reasons has no row for BrandNewReason".to_owned()]
    );
    // A row left in the docs for a reason the code no longer gives.
    let known: Vec<&str> = all_reasons().into_iter().filter(|r| *r != "Retained").collect();
    let problems = reason_table_problems(&api_page(), &known);
    assert!(problems.len() == 1 && problems[0].contains("\"Retained\" is no Reason"), "{problems:?}");
    // A table that trails off.
    let mut pages = api_page();
    let table = pages[0].tables.iter_mut().find(|t| reason_column(t) == Some(0) && t.header.len() == 3).unwrap();
    table.rows.push(vec!["Throttled, ...".into(), "Synced=False".into(), "the rest".into()]);
    let problems = reason_table_problems(&pages, &all_reasons());
    assert!(problems.len() == 1 && problems[0].contains("\"...\" is no Reason"), "{problems:?}");
}

// ---- links -----------------------------------------------------------------------------

#[test]
fn every_link_inside_the_repository_leads_somewhere() {
    let pages = all_pages();
    let anchors: BTreeMap<&str, &[String]> = pages.iter().map(|p| (p.path.as_str(), p.anchors.as_slice())).collect();
    let root = project_root();
    let mut problems = Vec::new();
    for page in &pages {
        for link in &page.links {
            if link.text.contains("://") || link.text.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = link.text.split_once('#').unwrap_or((&link.text, ""));
            let target = if file.is_empty() {
                page.path.clone()
            } else {
                let base = Path::new(&page.path).parent().unwrap_or(Path::new(""));
                normalise(&base.join(file))
            };
            let place = format!("{}:{} ({})", link.page, link.line, link.text);
            if !root.join(&target).exists() {
                problems.push(format!("{place}: {target} does not exist"));
            } else if !anchor.is_empty() {
                match anchors.get(target.as_str()) {
                    Some(found) if found.iter().any(|a| a == anchor) => {}
                    Some(_) => problems.push(format!("{place}: {target} has no heading #{anchor}")),
                    None => {}
                }
            }
        }
    }
    report(problems);
}

/// `docs/../deploy/iam/README.md` as `deploy/iam/README.md`.
fn normalise(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

//! Progress of a long `apply` or `delete` when stderr is not a terminal (a CI log): a plain line
//! every few seconds on stderr, saying how far the run is, and nothing extra on stdout, which
//! stays one JSON document with `--output json`. A write held at the proxy keeps the run going
//! until the line has been seen; nothing here is timed.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use serde_json::Value;
use support::cli::command;
use support::manifests::{Workspace, account, key};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};

struct Run {
    progress_line: String,
    stdout: String,
    stderr: String,
    code: i32,
}

/// Runs `kms-operator VERB -o json` in `ws` until a progress line appears on stderr, then opens
/// `gate` so that the held write, and with it the run, can finish.
async fn held_run(verb: &'static str, ws: &Workspace, gate: Gate) -> Run {
    let dir = ws.path().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command(&[verb, "-f", ".", "-o", "json"], &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kms-operator");
        let mut stdout = child.stdout.take().expect("stdout");
        let reading_stdout = std::thread::spawn(move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).expect("read stdout");
            text
        });
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut seen = String::new();
        let progress_line = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).expect("read stderr") > 0,
                "stderr ended with no progress line:\n{seen}"
            );
            seen.push_str(&line);
            if line.starts_with(&format!("{verb}: ")) {
                break line.trim_end().to_owned();
            }
        };
        gate.open();
        stderr.read_to_string(&mut seen).expect("read stderr");
        let status = child.wait().expect("kms-operator ends");
        Run {
            progress_line,
            stdout: reading_stdout.join().expect("stdout reader"),
            stderr: seen,
            code: status.code().unwrap_or(-1),
        }
    })
    .await
    .expect("run")
}

/// `apply: 2/3 resources done; 7 AWS calls, 0 throttled; 5s elapsed`: the numbers of the line.
fn numbers(line: &str, verb: &str) -> (u64, u64, u64, u64) {
    let rest = line.strip_prefix(&format!("{verb}: ")).unwrap_or_else(|| panic!("{line}"));
    let (done, rest) = rest.split_once('/').unwrap_or_else(|| panic!("{line}"));
    let (total, rest) = rest.split_once(" resources done; ").unwrap_or_else(|| panic!("{line}"));
    let (calls, rest) = rest.split_once(" AWS calls, ").unwrap_or_else(|| panic!("{line}"));
    let (_throttled, rest) = rest.split_once(" throttled; ").unwrap_or_else(|| panic!("{line}"));
    let elapsed = rest.strip_suffix("s elapsed").unwrap_or_else(|| panic!("{line}"));
    let number = |text: &str| text.parse::<u64>().unwrap_or_else(|_| panic!("{text} in {line}"));
    (number(done), number(total), number(calls), number(elapsed))
}

fn assert_json_only(run: &Run) {
    let parsed: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{}\nstderr:\n{}", run.stdout, run.stderr));
    assert_eq!(parsed.as_array().map(Vec::len), Some(3), "{parsed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_apply_logs_progress_lines_on_stderr_and_leaves_stdout_to_the_json() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    ws.write("a.yaml", &key("a", "description: a"));
    ws.write("b.yaml", &key("b", "description: b"));

    let run = held_run("apply", &ws, gate).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (done, total, calls, _) = numbers(&run.progress_line, "apply");
    assert_eq!(total, 3, "the account and two keys: {}", run.progress_line);
    assert!(done < total, "one key's CreateKey is held: {}", run.progress_line);
    assert!(calls > 0, "{}", run.progress_line);
    assert_json_only(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_delete_logs_progress_lines_too() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    ws.write("a.yaml", &key("a", "deletion: {policy: Delete, pendingWindowDays: 7}"));
    ws.write("b.yaml", &key("b", "deletion: {policy: Delete, pendingWindowDays: 7}"));
    let dir = ws.path().to_owned();
    let applied = tokio::task::spawn_blocking(move || support::cli::run_json("apply", &dir)).await.expect("apply");
    applied.assert_code(0);
    let gate = Gate::new();
    proxy.inject("ScheduleKeyDeletion", Fault::Hold(gate.clone()), 1);

    let run = held_run("delete", &ws, gate).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (done, total, _, _) = numbers(&run.progress_line, "delete");
    assert_eq!(total, 3, "{}", run.progress_line);
    assert!(done < total, "one key's deletion is held: {}", run.progress_line);
    assert_json_only(&run);
}

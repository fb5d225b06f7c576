//! `just bench`: reading manifests as a pull request's plan does, on untrusted input. The
//! release binary, `kms-operator validate -f DIR`, runs as its own process on each input: large
//! valid sets, many documents, the most documents one file under the size limit holds, the
//! widest document, a nesting bomb and a link into /proc. Prints each one's wall time, peak
//! memory (the child's own, from wait4) and outcome, and the ratio of each input read whole at
//! twice the size, which a linear reader keeps near 2.
//!
//!     cargo bench --bench reading

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const MIB: usize = 1024 * 1024;
/// The reader's default limit (`--max-file-size`).
const LIMIT: usize = 8 * MIB;

const ACCOUNT: &str = "apiVersion: kmsoperator.dev/v1alpha1
kind: AwsAccount
metadata: {name: bench}
spec:
  accountId: \"484357440923\"
  region: eu-west-1
  allowedNamespaces: {}
  permissions: {principalAccounts: [\"339712836516\"], aliasNames: [\"alias/{namespace}/*\"]}
";

/// A KmsKey with a policy, tags and a replica, and its alias: about 1 KB, like a real one.
fn key_and_alias(namespace: &str, i: usize) -> String {
    format!(
        "---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsKey
metadata: {{name: key-{i}, namespace: {namespace}}}
spec:
  accountRef: bench
  description: \"key {i} of the benchmark\"
  multiRegion: true
  tags: {{Application: app-{i}, Environment: prod, CostCenter: platform}}
  rotation: {{enabled: true, periodDays: 365}}
  policy:
    administrators: [\"arn:aws:iam::484357440923:role/PlatformKmsAdmin\"]
    users: [\"arn:aws:iam::339712836516:role/app-{i}\"]
    trustedAccounts: [\"339712836516\"]
    services: [{{name: rds, callerAccounts: [\"339712836516\"]}}]
  replicas:
    - region: us-west-2
---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsAlias
metadata: {{name: key-{i}, namespace: {namespace}}}
spec:
  name: alias/{namespace}/key-{i}
  keyRef: {{name: key-{i}}}
"
    )
}

/// The smallest KmsKey a set can hold.
fn small_key(i: usize) -> String {
    format!(
        "---\napiVersion: kmsoperator.dev/v1alpha1\nkind: KmsKey\nmetadata: {{name: k{i}, namespace: bench}}\nspec: {{accountRef: bench}}\n"
    )
}

/// One benchmark input: a directory to pass to `-f`.
struct Input {
    name: String,
    dir: PathBuf,
    bytes: usize,
    documents: usize,
}

fn write(dir: &Path, name: &str, text: &str) -> usize {
    fs::create_dir_all(dir).expect("create input directory");
    fs::write(dir.join(name), text).expect("write input");
    text.len()
}

/// The account and `files` files of key-and-alias pairs, `bytes` in all.
fn valid_set(root: &Path, bytes: usize, files: usize) -> Input {
    let dir = root.join(format!("valid-{bytes}"));
    let mut written = write(&dir, "00-account.yaml", ACCOUNT);
    let mut documents = 1;
    let mut i = 0;
    for file in 0..files {
        let mut text = String::new();
        while text.len() < bytes / files {
            text.push_str(&key_and_alias("bench", i));
            i += 1;
            documents += 2;
        }
        written += write(&dir, &format!("keys-{file:02}.yaml"), &text);
    }
    Input { name: format!("valid manifests over {files} files"), dir, bytes: written, documents }
}

/// `documents` small KmsKeys over `files` files, beside the account.
fn many_documents(root: &Path, documents: usize, files: usize) -> Input {
    let dir = root.join(format!("many-{documents}"));
    let mut written = write(&dir, "00-account.yaml", ACCOUNT);
    for file in 0..files {
        let text: String = (file * documents / files..(file + 1) * documents / files).map(small_key).collect();
        written += write(&dir, &format!("keys-{file:02}.yaml"), &text);
    }
    Input { name: format!("small KmsKeys over {files} files"), dir, bytes: written, documents: documents + 1 }
}

/// One file of empty documents (`---`), as many as fit under the limit.
fn most_documents(root: &Path, bytes: usize) -> Input {
    let dir = root.join(format!("empty-documents-{bytes}"));
    let text = "---\n".repeat(bytes / 4);
    let written = write(&dir, "documents.yaml", &text);
    Input { name: "empty documents in one file".to_owned(), dir, bytes: written, documents: bytes / 4 }
}

/// One document: a flow sequence of as many items as fit under the limit.
fn widest_document(root: &Path, bytes: usize) -> Input {
    let dir = root.join(format!("wide-{bytes}"));
    let items = bytes / 2 - 2;
    let text = format!("items: [{}1]\n", "1,".repeat(items - 1));
    let written = write(&dir, "wide.yaml", &text);
    Input { name: format!("one document of {items} items"), dir, bytes: written, documents: 1 }
}

/// 160 KB of `- - - ...`.
fn nesting_bomb(root: &Path) -> Input {
    let dir = root.join("nesting-bomb");
    let written = write(&dir, "bomb.yaml", &format!("{}x\n", "- ".repeat(80_000)));
    Input { name: "nesting bomb (80,000 levels)".to_owned(), dir, bytes: written, documents: 1 }
}

/// `x.yaml -> /proc/self/pagemap` beside a valid account.
fn proc_link(root: &Path) -> Input {
    let dir = root.join("proc-link");
    let written = write(&dir, "00-account.yaml", ACCOUNT);
    std::os::unix::fs::symlink("/proc/self/pagemap", dir.join("x.yaml")).expect("symlink");
    Input { name: "x.yaml -> /proc/self/pagemap".to_owned(), dir, bytes: written, documents: 1 }
}

/// Writes an input of a given size (bytes or documents) under a directory.
type MakeInput = fn(&Path, usize) -> Input;

struct Measured {
    seconds: f64,
    /// User and system time: on a shared machine, what the run itself cost.
    cpu_seconds: f64,
    peak_mib: f64,
    exit: i32,
    /// The last line on stderr: the verdict.
    verdict: String,
}

/// `kms-operator validate -f DIR`, timed, with the child's own peak memory from wait4.
// The child is reaped by wait4, which std's wait cannot do: it does not report rusage.
#[allow(clippy::zombie_processes)]
fn measure(input: &Input) -> Measured {
    let log = input.dir.with_extension("stderr");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_kms-operator"))
        .args(["validate", "-f"])
        .arg(&input.dir)
        .env_clear()
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).expect("stderr file"))
        .spawn()
        .expect("start kms-operator");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, whose handle is not waited on elsewhere.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = fs::read_to_string(&log).unwrap_or_default();
    let verdict = stderr.lines().last().unwrap_or_default().chars().take(110).collect();
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measured {
        seconds,
        cpu_seconds: cpu(usage.ru_utime) + cpu(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        exit: if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 },
        verdict,
    }
}

fn row(table: &mut String, input: &Input, measured: &Measured) {
    let _ = writeln!(
        table,
        "| {} | {:.1} MiB | {} | {:.2} s | {:.2} s | {:.0} MiB | {} | {} |",
        input.name,
        input.bytes as f64 / MIB as f64,
        input.documents,
        measured.seconds,
        measured.cpu_seconds,
        measured.peak_mib,
        measured.exit,
        measured.verdict.replace('|', "\\|"),
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("reading: run it with `cargo bench --bench reading`");
        return;
    }
    let root = tempfile::tempdir().expect("temp dir");
    let mut table = String::from(
        "| input | size | documents | time | CPU | peak RSS | exit | verdict |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut ratios = String::new();
    // Each input read whole at half and full size: a linear reader costs about twice as much
    // for twice the input.
    let scaled: [(&str, MakeInput, usize); 3] = [
        ("valid manifests", |root, n| valid_set(root, n, 10), 10 * 1000 * 1000),
        ("small KmsKeys", |root, n| many_documents(root, n, 8), 400_000),
        ("empty documents", |root, n| most_documents(root, n), LIMIT - 4),
    ];
    for (what, make, full) in scaled {
        let half = make(root.path(), full / 2);
        let whole = make(root.path(), full);
        let (a, b) = (measure(&half), measure(&whole));
        row(&mut table, &half, &a);
        row(&mut table, &whole, &b);
        let _ = writeln!(
            ratios,
            "{what}: twice the input took {:.2}x the time, {:.2}x the CPU",
            b.seconds / a.seconds,
            b.cpu_seconds / a.cpu_seconds
        );
    }
    // Inputs refused before anything is built from them.
    for input in [widest_document(root.path(), LIMIT - 4), nesting_bomb(root.path()), proc_link(root.path())] {
        let measured = measure(&input);
        row(&mut table, &input, &measured);
    }
    println!("{table}\n{ratios}");
}

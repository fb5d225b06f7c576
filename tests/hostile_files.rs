//! A pull request's plan reads files an attacker wrote, in CI where credentials are around.
//! Each hostile file sits beside a valid key that `apply` would create, and every command is
//! refused before any AWS call: the proxy in front of the local KMS counts the requests that
//! reach it (none), and nothing of a file that is not a manifest shows up in the output.

mod support;

use std::path::Path;

use support::cli::{Output, kms_operator};
use support::manifests::{Workspace, account, key};
use support::moto::Moto;
use support::proxy::FaultProxy;

const SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";

/// How one hostile file is made in the workspace, and what its refusal says.
struct Attack {
    name: &'static str,
    plant: fn(&Path, &Path),
    refusal: &'static str,
}

fn mkfifo(path: &Path) {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path and a mode; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
}

const ATTACKS: &[Attack] = &[
    Attack {
        name: "a link to credentials outside the repository",
        plant: |ws, outside| {
            std::fs::write(outside.join("credentials"), format!("aws_secret_access_key = {SECRET}\n")).expect("write");
            std::os::unix::fs::symlink(outside.join("credentials"), ws.join("x.yaml")).expect("symlink");
        },
        refusal: "outside the paths given with -f; it was not read",
    },
    Attack {
        name: "a link into /proc",
        plant: |ws, _| std::os::unix::fs::symlink("/proc/self/pagemap", ws.join("x.yaml")).expect("symlink"),
        refusal: "outside the paths given with -f; it was not read",
    },
    Attack {
        name: "a FIFO",
        plant: |ws, _| mkfifo(&ws.join("x.yaml")),
        refusal: "is not a regular file (a FIFO, socket or device); it was not read",
    },
    Attack {
        name: "a file over the size limit",
        plant: |ws, _| std::fs::write(ws.join("x.yaml"), "#".repeat(8 * 1024 * 1024 + 1)).expect("write"),
        refusal: "is 8388609 bytes, over the limit of 8388608 bytes; it was not read",
    },
    Attack {
        name: "a nesting bomb",
        plant: |ws, _| std::fs::write(ws.join("x.yaml"), "- ".repeat(80_000)).expect("write"),
        refusal: "YAML nests deeper than 64 levels here; nothing in the file was read",
    },
    Attack {
        name: "a document of millions of values",
        plant: |ws, _| std::fs::write(ws.join("x.yaml"), format!("[{}1]", "1,".repeat(2_000_000))).expect("write"),
        refusal: "holds more than 100000 values; nothing in the file was read",
    },
    Attack {
        name: "a secret that is not a manifest",
        plant: |ws, _| std::fs::write(ws.join("x.yaml"), format!("{SECRET}: a\n{SECRET}: b\n")).expect("write"),
        refusal: "the file is not valid YAML: a mapping repeats a key",
    },
];

async fn run(args: Vec<String>, dir: &Path) -> Output {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kms_operator(&args, &dir)
    })
    .await
    .expect("kms-operator")
}

// Multi-threaded: the proxy keeps serving while the binary runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_file_is_refused_before_any_call_to_aws() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    for attack in ATTACKS {
        let ws = Workspace::new();
        let outside = tempfile::tempdir().expect("temp dir");
        ws.write("account.yaml", &account(&proxy.endpoint()));
        ws.write("key.yaml", &key("k", ""));
        (attack.plant)(ws.path(), outside.path());
        for command in ["validate", "plan", "apply", "delete"] {
            let mut args = vec![command.to_owned(), "-f".to_owned(), ".".to_owned()];
            if command != "validate" {
                args.extend(["-o".to_owned(), "json".to_owned()]);
            }
            let output = run(args, ws.path()).await;
            output.assert_code(1);
            assert!(output.stdout.trim().is_empty() || command == "validate", "{}: {}", attack.name, output.stdout);
            assert!(output.stderr.contains(attack.refusal), "{}, {command}:\n{}", attack.name, output.stderr);
            assert!(output.stderr.contains("nothing was sent to AWS"), "{}", output.stderr);
            assert!(!output.stderr.contains(SECRET) && !output.stderr.contains("wJalr"), "{}", output.stderr);
        }
        assert!(proxy.received().is_empty(), "{}: not one request reached AWS: {:?}", attack.name, proxy.received());
    }

    // Positive control: without the hostile file the key is created; a limit set lower refuses
    // the same manifests, and one set back reads them.
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    ws.write("key.yaml", &key("k", ""));
    let args = |limit: &str| ["validate", "-f", ".", "--max-file-size", limit].map(str::to_owned).to_vec();
    let small = run(args("64"), ws.path()).await;
    small.assert_code(1);
    assert!(small.stderr.contains("over the limit of 64 bytes"), "{}", small.stderr);
    run(args("1KiB"), ws.path()).await.assert_code(0);
    let applied = run(["apply", "-f", ".", "-o", "json"].map(str::to_owned).to_vec(), ws.path()).await;
    applied.assert_code(0);
    assert!(!proxy.received().is_empty());
}

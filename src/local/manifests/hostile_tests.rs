//! The reader against files an attacker wrote into a pull request: links out of the `-f`
//! roots, FIFOs, kernel files, oversized and deeply nested files, and files whose bytes must not
//! reach a log. Each test shows the file was refused and nothing of it was read or quoted.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

use super::lines::MAX_DEPTH;
use super::tests::{ACCOUNT, KEY, render, write};
use super::{ManifestSet, ReadLimits, load};
use crate::api::validate::Issue;

/// What a secret looks like in a file nobody meant to read.
const SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";

fn load_dir(dir: &Path) -> (ManifestSet, Vec<Issue>) {
    load(&[dir.to_path_buf()], ReadLimits::default())
}

fn problems(issues: &[Issue]) -> String {
    render(issues)
}

/// `repo/` holding the manifests, and `outside/` beside it holding a secret.
fn repo_and_outside() -> (TempDir, PathBuf, PathBuf) {
    let top = TempDir::new().expect("temp dir");
    let repo = top.path().join("repo");
    write(&repo, "account.yaml", ACCOUNT);
    let secret = write(&top.path().join("outside"), "credentials.yaml", &format!("aws_secret_access_key: {SECRET}\n"));
    (top, repo, secret)
}

#[test]
fn a_link_out_of_the_roots_is_refused_unread() {
    let (_top, repo, secret) = repo_and_outside();
    symlink(&secret, repo.join("stolen.yaml")).expect("symlink");
    symlink(secret.parent().expect("dir"), repo.join("more")).expect("symlink");
    let (set, issues) = load_dir(&repo);
    assert_eq!(set.accounts.len(), 1, "the repository's own file is read");
    let text = problems(&issues);
    assert_eq!(issues.len(), 2, "{text}");
    assert!(issues.iter().all(|i| i.problem.contains("outside the paths given with -f; it was not read")), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn a_link_inside_the_roots_is_read_once_and_a_link_named_alone_must_stay_inside() {
    let (_top, repo, secret) = repo_and_outside();
    // The way a mounted ConfigMap lays out its files.
    write(&repo, "..2026_01_01/key.yaml", KEY);
    symlink("..2026_01_01", repo.join("..data")).expect("symlink");
    symlink("..data/key.yaml", repo.join("key.yaml")).expect("symlink");
    symlink(".", repo.join("loop")).expect("symlink");
    let (set, issues) = load_dir(&repo);
    assert!(issues.is_empty(), "{}", problems(&issues));
    assert_eq!((set.accounts.len(), set.keys.len()), (1, 1));

    let named = repo.join("named.yaml");
    symlink(&secret, &named).expect("symlink");
    let (_set, issues) = load(&[named], ReadLimits::default());
    assert!(issues[0].problem.contains("outside the paths given with -f"), "{}", problems(&issues));
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = TempDir::new().expect("temp dir");
    let fifo = dir.path().join("pipe.yaml");
    let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path and a mode; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
    let (done, finished) = mpsc::channel();
    let walked = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let by_directory = load_dir(&walked).1;
        let by_name = load(&[fifo], ReadLimits::default()).1;
        let _ = done.send((by_directory, by_name));
    });
    // A reader that opened the FIFO would wait here for a writer that never comes.
    let (by_directory, by_name) = finished.recv_timeout(Duration::from_secs(20)).expect("the run was not held");
    for issues in [by_directory, by_name] {
        assert!(issues[0].problem.contains("not a regular file"), "{}", problems(&issues));
    }
}

#[test]
fn kernel_files_are_refused_whether_linked_or_named() {
    let dir = TempDir::new().expect("temp dir");
    symlink("/proc/self/pagemap", dir.path().join("x.yaml")).expect("symlink");
    let (_set, issues) = load_dir(dir.path());
    assert!(issues[0].problem.contains("outside the paths given with -f"), "{}", problems(&issues));

    let (_set, issues) = load(&[PathBuf::from("/proc/self/status")], ReadLimits::default());
    assert!(issues[0].problem.contains("a kernel interface rather than a file"), "{}", problems(&issues));
}

#[test]
fn a_file_over_the_limit_is_refused_and_a_raised_limit_reads_it() {
    let dir = TempDir::new().expect("temp dir");
    let padding = format!("# {}\n", "x".repeat(2000));
    let file = write(dir.path(), "big.yaml", &format!("{}{ACCOUNT}", padding.repeat(10)));
    let size = fs::metadata(&file).expect("size").len();
    let small = ReadLimits { max_file_size: size - 1 };
    let (set, issues) = load(std::slice::from_ref(&file), small);
    assert!(set.is_empty());
    assert!(
        issues[0].problem.contains(&format!("is {size} bytes, over the limit of {} bytes", size - 1)),
        "{}",
        problems(&issues)
    );
    assert!(issues[0].fix.contains("--max-file-size"));
    let (set, issues) = load(&[file], ReadLimits { max_file_size: size });
    assert!(issues.is_empty() && set.accounts.len() == 1, "{}", problems(&issues));
}

#[test]
fn yaml_nested_past_the_limit_is_refused_before_anything_is_built() {
    let dir = TempDir::new().expect("temp dir");
    // 160 KB of `- - - ...`: the line index once kept a path per level, growing with the square.
    let bomb = format!("{ACCOUNT}---\n{}x\n", "- ".repeat(80_000));
    let file = write(dir.path(), "bomb.yaml", &bomb);
    let (set, issues) = load(&[file], ReadLimits::default());
    assert!(set.is_empty(), "nothing of the file is loaded, not even its first document");
    let issue = &issues[0];
    assert!(issue.problem.contains(&format!("deeper than {MAX_DEPTH} levels")), "{issue}");
    assert_eq!(issue.line, Some(8), "the line where the limit was passed");
}

#[test]
fn no_byte_of_a_file_that_is_not_a_manifest_is_quoted() {
    let dir = TempDir::new().expect("temp dir");
    let shapes = [
        format!("{SECRET}: 1\n{SECRET}: 2\n"),
        format!("secret: {SECRET}\nsecret: again\n"),
        format!("key: \"{SECRET}\n"),
        format!("[{SECRET}\n"),
        format!("kind: {SECRET}\n"),
        format!("kind: [{SECRET}]\n"),
        format!("- {SECRET}\n"),
        format!("{SECRET}\n"),
        format!("a: {SECRET}\n"),
        format!("\t{SECRET}: x\n"),
        format!("a: !{SECRET} x\nb: *{SECRET}\n"),
        format!("%{SECRET}\n---\na: 1\n"),
    ];
    for (i, text) in shapes.iter().enumerate() {
        write(dir.path(), &format!("f{i}.yaml"), text);
    }
    fs::write(dir.path().join("binary.yaml"), [0xff, 0xfe, 0x00, 0x41]).expect("write");
    let (_set, issues) = load_dir(dir.path());
    let text = problems(&issues);
    assert!(issues.len() >= shapes.len(), "each file gets its issue:\n{text}");
    assert!(!text.contains(SECRET) && !text.contains("wJalr"), "{text}");
}

#[test]
fn a_document_of_too_many_values_is_refused_before_anything_is_built() {
    let dir = TempDir::new().expect("temp dir");
    let wide = format!("{ACCOUNT}---\nitems: [{}]\n", vec!["1"; super::lines::MAX_VALUES].join(","));
    let file = write(dir.path(), "wide.yaml", &wide);
    let (set, issues) = load(&[file], ReadLimits::default());
    assert!(set.is_empty(), "nothing of the file is loaded");
    assert!(issues[0].problem.contains("holds more than 100000 values"), "{}", problems(&issues));
    assert_eq!(issues[0].line, Some(8));
}

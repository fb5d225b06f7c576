//! `crds`, `validate`, `plan`, `apply`, `delete`.

use std::path::PathBuf;

use super::args::{CrdsArgs, FileArgs, LocalArgs, OutputFormat, PlanArgs};
use super::signals::Signals;
use crate::api::crds;
use crate::local::admission::Admission;
use crate::local::manifests::{self, ManifestSet};
use crate::local::progress::ProgressDisplay;
use crate::local::removals::{Removals, mark_removed, removals};
use crate::local::runner::{Command, Runner};
use crate::local::{markdown, output};

pub fn crds(args: &CrdsArgs) -> u8 {
    let Some(dir) = &args.output_dir else {
        return match crds::all_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                0
            }
            Err(error) => {
                eprintln!("error: cannot render the CRDs: {error}");
                1
            }
        };
    };
    if let Err(error) = std::fs::create_dir_all(dir) {
        eprintln!("error: cannot create {}: {error}", dir.display());
        return 1;
    }
    for crd in crds::all() {
        let path = dir.join(crds::file_name(&crd));
        let written = crds::to_yaml(&crd)
            .map_err(|e| e.to_string())
            .and_then(|yaml| std::fs::write(&path, yaml).map_err(|e| e.to_string()));
        if let Err(error) = written {
            eprintln!("error: cannot write {}: {error}", path.display());
            return 1;
        }
    }
    0
}

/// Loads and validates (for `delete`, with its rules), and checks which files may declare what;
/// prints every issue. `None` when anything is wrong.
fn load_valid(files: &FileArgs, command: Option<Command>) -> Option<ManifestSet> {
    let (set, mut issues) = manifests::load(&files.filename, files.limits());
    for note in &set.skipped {
        eprintln!("note: {note}");
    }
    issues.extend(if command == Some(Command::Delete) { set.validate_for_deletion() } else { set.validate() });
    let refused = match std::env::current_dir().and_then(|dir| dir.canonicalize()) {
        Ok(dir) => files.trust().refusals(&set, &dir),
        Err(error) if files.trust().is_active() => {
            eprintln!(
                "error: the working directory, which --platform-files and --tenant-files are relative to, cannot be read: {error}"
            );
            return None;
        }
        Err(_) => Vec::new(),
    };
    if issues.is_empty() && refused.is_empty() {
        return Some(set);
    }
    for issue in &issues {
        eprintln!("error: {issue}");
    }
    for (reason, issue) in &refused {
        eprintln!("error: {reason}: {issue}");
    }
    eprintln!("{} problem(s) found; nothing was sent to AWS.", issues.len() + refused.len());
    None
}

/// Spec rules, then the tenancy rules of every object whose account is in the set.
pub fn validate(files: &FileArgs) -> u8 {
    let Some(set) = load_valid(files, None) else {
        return 1;
    };
    let refusals = Admission::new(&set).refusals();
    if !refusals.is_empty() {
        for (reason, issue) in &refusals {
            eprintln!("error: {reason}: {issue}");
        }
        eprintln!("{} tenancy rule(s) refuse these manifests; nothing was sent to AWS.", refusals.len());
        return 1;
    }
    let count = set.accounts.len() + set.keys.len() + set.aliases.len() + set.grants.len();
    println!("{count} resource(s) valid.");
    0
}

/// The manifests before the change, for `plan --base`: they must load (or a removal could go
/// unseen), but need not hold anything nor pass validation (the controller deletes an object
/// whatever its spec).
fn load_base(paths: &[PathBuf], files: &FileArgs) -> Option<ManifestSet> {
    let (set, issues) = manifests::load_files(paths, files.limits());
    if issues.is_empty() {
        return Some(set);
    }
    for issue in &issues {
        eprintln!("error: --base: {issue}");
    }
    eprintln!(
        "{} problem(s) in the manifests before the change (--base): what the change removes is unknown; nothing was sent to AWS.",
        issues.len()
    );
    None
}

/// `plan`, with `--base` first what removing the objects missing from `-f` does.
pub async fn plan(args: &PlanArgs) -> u8 {
    if args.base.is_empty() {
        return run(Command::Plan, &args.local).await;
    }
    let Some(after) = load_valid(&args.local.files, Some(Command::Plan)) else {
        return 1;
    };
    let Some(before) = load_base(&args.base, &args.local.files) else {
        return 1;
    };
    let removals = removals(&before, &after);
    execute(Command::Plan, &args.local, &after, Some(&removals)).await
}

pub async fn run(command: Command, args: &LocalArgs) -> u8 {
    let Some(set) = load_valid(&args.files, Some(command)) else {
        return 1;
    };
    execute(command, args, &set, None).await
}

/// Runs `command` on `set` (after planning the deletion of `removals`, if any), prints the
/// result, and returns the exit code.
async fn execute(command: Command, args: &LocalArgs, set: &ManifestSet, removals: Option<&Removals>) -> u8 {
    let engine = match args.engine.engine(args.engine.settings()).await {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("error: {error}");
            return 1;
        }
    };
    let role = args.assume_role_name.as_deref();
    let runner = Runner::new(&engine, set, args.engine.concurrency).through_role(role);
    let removal =
        removals.map(|r| Runner::new(&engine, &r.set, args.engine.concurrency).through_role(role).with_reference(set));
    let progress = match command {
        Command::Plan => ProgressDisplay::off(),
        Command::Apply | Command::Delete => {
            ProgressDisplay::start(command.name(), runner.progress(), engine.calls().stats.clone())
        }
    };
    let run = async {
        let before = engine.calls().stats.snapshot();
        let mut removed = Vec::new();
        if let (Some(removal), Some(removals)) = (&removal, removals) {
            let deleted = removal.plan_deletion().await;
            removed = deleted.results.into_iter().filter(|r| removals.removed.contains(&r.object)).collect();
            removed.iter_mut().for_each(mark_removed);
        }
        let mut output = runner.run(command).await;
        removed.append(&mut output.results);
        output.results = removed;
        output.calls = engine.calls().stats.snapshot().since(&before);
        output
    };
    tokio::pin!(run);
    let mut signals = Signals::listen();
    let result = tokio::select! {
        result = &mut run => result,
        () = signals.next() => {
            engine.stop_writes();
            progress.note(&format!(
                "interrupted: no new change starts; waiting up to {}s for the writes under way (interrupt again to stop at once)",
                STOP_GRACE.as_secs()
            ));
            tokio::select! {
                result = &mut run => result,
                () = signals.next() => {
                    drop(progress);
                    eprintln!("stopped at once; writes under way may still land, and a later run finds them");
                    return STOPPED_AT_ONCE;
                }
                () = tokio::time::sleep(STOP_GRACE) => {
                    drop(progress);
                    eprintln!("gave up waiting; writes under way may still land, and a later run finds them");
                    return 1;
                }
            }
        }
    };
    // The bar goes before the result is printed, so that it is not left among the output.
    drop(progress);
    match args.output {
        OutputFormat::Json => {
            println!("{}", output::json(&result));
            eprintln!("{}", output::json_summary(&result));
        }
        OutputFormat::Markdown => print!("{}", markdown::markdown(&result)),
        OutputFormat::Text if command == Command::Plan => print!("{}", output::plan(&result)),
        OutputFormat::Text => print!("{}", output::result(&result)),
    }
    if engine.is_stopping() {
        let unfinished = result.results.iter().filter(|r| r.failed()).count();
        eprintln!("interrupted: {unfinished} resource(s) not finished; run the same command again to complete them.");
        return 1;
    }
    u8::try_from(result.exit_code()).unwrap_or(1)
}

/// How long an interrupted run waits for the writes under way: past one request's timeout.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// 128 + SIGINT, as shells report a process stopped by Ctrl-C.
const STOPPED_AT_ONCE: u8 = 130;

//! Which files a list of paths names, and their text. A pull request's plan reads files an
//! attacker wrote, so only regular files inside the `-f` roots are read: a symbolic link that
//! leads outside them, or to a FIFO, a device or a kernel interface (`/proc`), is refused
//! without being opened, and no file is read past the size limit.

use std::collections::BTreeSet;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use walkdir::{DirEntry, WalkDir};

use crate::api::validate::Issue;

/// The size limit unless `--max-file-size` says otherwise: far above any real manifest file,
/// far below what would hurt the machine reading it.
const DEFAULT_MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

/// Where the kernel exposes itself as files: "regular" files there can be endless or change
/// what they report as they are read.
const KERNEL_INTERFACES: &[&str] = &["/proc", "/sys", "/dev"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    pub max_file_size: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits { max_file_size: DEFAULT_MAX_FILE_SIZE }
    }
}

/// A file to read: the path messages show (as the user reached it), and where it really is
/// (links resolved), which decides whether it may be read and whose it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ManifestFile {
    pub shown: PathBuf,
    pub real: PathBuf,
}

/// The directories named with `-f`, links resolved: links inside them may be followed.
struct Roots {
    dirs: Vec<PathBuf>,
}

impl Roots {
    fn inside(&self, real: &Path) -> bool {
        self.dirs.iter().any(|dir| real.starts_with(dir))
    }
}

/// Files in a stable order: the paths in the order given, each directory walked in file-name
/// order. A file reached twice (directly and through a link) is read once.
pub(super) fn manifest_files(paths: &[PathBuf], issues: &mut Vec<Issue>) -> Vec<ManifestFile> {
    let roots =
        Roots { dirs: paths.iter().filter_map(|p| p.canonicalize().ok()).filter(|real| real.is_dir()).collect() };
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    let mut add = |file: ManifestFile, files: &mut Vec<ManifestFile>| {
        if seen.insert(file.real.clone()) {
            files.push(file);
        }
    };

    for path in paths {
        let (real, metadata) = match resolve(path) {
            Ok(found) => found,
            Err(err) => {
                issues.push(unreadable(path, &err.to_string()));
                continue;
            }
        };
        if !metadata.is_dir() {
            let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            let refusal =
                if link && !roots.inside(&real) { Some(outside(path, &real)) } else { special(path, &real, &metadata) };
            match refusal {
                Some(issue) => issues.push(issue),
                None => add(ManifestFile { shown: path.clone(), real }, &mut files),
            }
            continue;
        }
        let before = files.len();
        // Hidden entries are skipped: `.git`, editor state, and the `..data` links of mounted
        // ConfigMaps would otherwise be read as manifests or read twice.
        let walk = WalkDir::new(path)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !is_hidden(entry.file_name()));
        for entry in walk {
            match entry {
                Ok(entry) => {
                    if let Some(found) = walked(&entry, &roots, issues) {
                        add(found, &mut files);
                    }
                }
                Err(err) => {
                    let at = err.path().unwrap_or(path).to_path_buf();
                    issues.push(unreadable(&at, &err.to_string()));
                }
            }
        }
        if files.len() == before {
            issues.push(
                Issue::new(
                    None,
                    "",
                    "the directory holds no *.yaml or *.yml files",
                    "point -f at the directory or file that holds the manifests",
                )
                .in_file(path, None),
            );
        }
    }
    files
}

/// A path with its links resolved, and what is there.
fn resolve(path: &Path) -> std::io::Result<(PathBuf, Metadata)> {
    let real = path.canonicalize()?;
    let metadata = std::fs::metadata(&real)?;
    Ok((real, metadata))
}

/// What one entry of a directory walk adds: a YAML file, a YAML link to a file inside the
/// roots; a link or special file that may not be read becomes an issue.
fn walked(entry: &DirEntry, roots: &Roots, issues: &mut Vec<Issue>) -> Option<ManifestFile> {
    let kind = entry.file_type();
    let path = entry.path();
    let yaml = is_yaml(path);
    if kind.is_dir() || (!yaml && !kind.is_symlink()) {
        return None;
    }
    let (real, metadata) = match resolve(path) {
        Ok(found) => found,
        Err(err) => {
            // A dangling link or a loop: only worth a word where a manifest was expected.
            if yaml {
                issues.push(unreadable(path, &err.to_string()));
            }
            return None;
        }
    };
    if kind.is_symlink() {
        if !roots.inside(&real) {
            // A link to a directory elsewhere would bring in files nobody passed with -f.
            if yaml || metadata.is_dir() {
                issues.push(outside(path, &real));
            }
            return None;
        }
        // A directory inside the roots is walked where it really is.
        if metadata.is_dir() || !yaml {
            return None;
        }
    }
    match special(path, &real, &metadata) {
        Some(issue) => {
            issues.push(issue);
            None
        }
        None => Some(ManifestFile { shown: path.to_path_buf(), real }),
    }
}

fn outside(path: &Path, real: &Path) -> Issue {
    Issue::new(
        None,
        "",
        format!("is a symbolic link to {}, outside the paths given with -f; it was not read", real.display()),
        "pass the files themselves (or their directory) with -f, or remove the link",
    )
    .in_file(path, None)
}

/// Why a file may not be read even though the roots hold it: it is not a regular file, or it
/// is a kernel interface.
fn special(path: &Path, real: &Path, metadata: &Metadata) -> Option<Issue> {
    let problem = if !metadata.is_file() {
        "is not a regular file (a FIFO, socket or device); it was not read".to_owned()
    } else if let Some(interface) = KERNEL_INTERFACES.iter().find(|dir| real.starts_with(dir)) {
        format!("is {} under {interface}, a kernel interface rather than a file; it was not read", real.display())
    } else {
        return None;
    };
    Some(Issue::new(None, "", problem, "keep manifests in regular files").in_file(path, None))
}

/// The text of `file`, read through a handle that is checked again (a regular file, within
/// the limit) and never read past the limit, whatever the file claims its size is.
pub(super) fn read_text(file: &ManifestFile, limits: ReadLimits) -> Result<String, Box<Issue>> {
    let cannot = |err: std::io::Error| Box::new(unreadable(&file.shown, &err.to_string()));
    let handle = open(&file.real).map_err(cannot)?;
    let metadata = handle.metadata().map_err(cannot)?;
    if let Some(issue) = special(&file.shown, &file.real, &metadata) {
        return Err(Box::new(issue));
    }
    let limit = limits.max_file_size;
    if metadata.len() > limit {
        return Err(Box::new(too_large(&file.shown, Some(metadata.len()), limit)));
    }
    let mut bytes = Vec::new();
    handle.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > limit {
        // It said it was smaller (a kernel file, or one still growing).
        return Err(Box::new(too_large(&file.shown, None, limit)));
    }
    String::from_utf8(bytes).map_err(|_| {
        Box::new(
            Issue::new(None, "", "is not UTF-8 text; it was not read", "keep manifests in UTF-8 YAML files")
                .in_file(&file.shown, None),
        )
    })
}

/// Opened without waiting: a FIFO put in a file's place after it was checked would otherwise
/// hold the run until something writes to it.
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// `size`: what the file says it holds, when it says more than the limit.
fn too_large(path: &Path, size: Option<u64>, limit: u64) -> Issue {
    let shown = size.map_or_else(|| format!("more than {limit}"), |size| size.to_string());
    Issue::new(
        None,
        "",
        format!("is {shown} bytes, over the limit of {limit} bytes; it was not read"),
        "split the manifests into smaller files, or raise the limit with --max-file-size",
    )
    .in_file(path, None)
}

pub(super) fn unreadable(path: &Path, error: &str) -> Issue {
    Issue::new(None, "", format!("cannot be read: {error}"), "check that the path exists and is readable")
        .in_file(path, None)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

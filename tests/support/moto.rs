//! A moto server on a loopback port of its own, from the project's pinned virtual environment.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Installs the pinned tools once per test binary (scripts/venv.sh serialises across binaries).
pub fn ensure_venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let root = project_root();
        let status = Command::new("bash").arg(root.join("scripts/venv.sh")).status().expect("run scripts/venv.sh");
        assert!(status.success(), "scripts/venv.sh failed: cannot install the local KMS server");
        root.join(".venv")
    })
}

/// How long a loaded machine may take to start moto (Python imports most of its startup).
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// What werkzeug, moto's HTTP server, prints once its socket listens.
const LISTENING: &str = " * Running on http://127.0.0.1:";

/// A running moto server; stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// A server on a port the kernel picks for it (docs/testing.md, "A server of its own"):
    /// choosing a free port here and handing it to moto left a gap, seconds long on a loaded
    /// machine, in which another test (of this run, or another worktree's) could be given the
    /// same port; one of the two servers then failed to bind, and its test, seeing the other
    /// answer on the port, shared it: two KmsKeys of one name, two keys with one ownership tag.
    pub fn start() -> Moto {
        Moto::start_on(0).unwrap_or_else(|why| panic!("moto_server did not start: {why}"))
    }

    /// A server on `port` (0: the kernel's choice). It is ready when it says it listens on that
    /// port, never because something answers there: a server that could not bind is an error,
    /// whoever else holds the port.
    pub fn start_on(port: u16) -> Result<Moto, String> {
        let venv = ensure_venv();
        let mut child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run moto_server: {e}"))?;
        let stderr = child.stderr.take().ok_or("moto_server's stderr was not piped")?;
        match listening_port(read_lines(stderr)) {
            Ok(bound) => Ok(Moto { child, port: bound }),
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(why)
            }
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// moto's stderr, line by line, read on a thread of its own for the server's whole life: werkzeug
/// logs every request there, and a full pipe would stall the server.
fn read_lines(stderr: ChildStderr) -> Receiver<String> {
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // Once the port is known nobody listens: the rest is only drained.
            let _ = lines.send(line);
        }
    });
    received
}

/// The port of the server's own startup line; its last words when it ends before one.
fn listening_port(lines: Receiver<String>) -> Result<u16, String> {
    let deadline = Instant::now() + STARTUP_DEADLINE;
    let mut said = Vec::new();
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                if let Some(port) = line.split_once(LISTENING).and_then(|(_, rest)| rest.trim().parse().ok()) {
                    return Ok(port);
                }
                said.push(line);
            }
            Err(RecvTimeoutError::Disconnected) => return Err(format!("it exited: {}", said.join(" | "))),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("no listening socket after {STARTUP_DEADLINE:?}: {}", said.join(" | ")));
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

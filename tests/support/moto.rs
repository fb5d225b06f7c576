//! A moto server on a free loopback port, from the project's pinned virtual environment.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
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

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A running moto server; stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let venv = ensure_venv();
        for _ in 0..5 {
            let port = free_port();
            let mut command = Command::new(venv.join("bin/moto_server"));
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
            for (k, v) in env {
                command.env(k, v);
            }
            let child = command.spawn().expect("start moto_server");
            let mut moto = Moto { child, port };
            if moto.wait_ready() {
                return moto;
            }
            let _ = moto.child.kill();
        }
        panic!("moto_server did not start");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

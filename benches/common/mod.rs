//! What the fleet benchmarks share: the fleet, reading a process's peak memory, and the
//! command line.

pub mod shape;

use std::future::Future;

use shape::Shape;

/// Peak resident memory of process `pid` (`"self"` for this one), from `/proc`.
pub fn peak_rss_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Runs `bench` for each fleet on the command line (`--accounts A --regions R
/// --keys-per-account K`, or sizes: one account and region, 100 keys when none is given), only
/// under `cargo bench`: `cargo test --all-targets` may start bench binaries too.
pub fn run_shapes<F, Fut>(name: &str, bench: F)
where
    F: Fn(Shape) -> Fut,
    Fut: Future<Output = ()>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!(
            "{name}: run it with `cargo bench --bench {name} -- --accounts A --regions R --keys-per-account K` (or `-- N`)"
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    for shape in Shape::parse(&args) {
        runtime.block_on(bench(shape));
    }
}

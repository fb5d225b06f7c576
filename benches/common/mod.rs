//! What the fleet benchmarks share: reading a process's peak memory, and the command line.

use std::future::Future;

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

/// Runs `bench` for each fleet size on the command line (100 when none is given), only under
/// `cargo bench`: `cargo test --all-targets` may start bench binaries too.
pub fn run_sizes<F, Fut>(name: &str, bench: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("{name}: run it with `cargo bench --bench {name} -- N`");
        return;
    }
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    for n in if sizes.is_empty() { vec![100] } else { sizes } {
        runtime.block_on(bench(n));
    }
}

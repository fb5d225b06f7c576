//! What the fleet benchmarks share: the fleet, the quotas, reading a process's peak memory,
//! and the command line.

pub mod shape;

use std::future::Future;

use kms_operator::aws::Op;
use shape::Shape;

/// The quotas a run enforces: KMS's defaults, or every one of them times `--quota-scale F`, in
/// the operator's limiter, in the proxy's buckets and in the bound alike. The local KMS server
/// answers only so many requests per second on this machine; a fleet whose bound asks more of
/// it measures the server, not the operator. Scaled down, the same fleet asks proportionally
/// fewer requests per second and the ratio to its (longer) bound measures the operator's
/// scheduling again. 0.2 keeps every KMS quota a whole number (5/s becomes 1/s).
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    pub scale: f64,
}

impl Quotas {
    pub fn from_args() -> Quotas {
        let args: Vec<String> = std::env::args().collect();
        let flag = args.iter().position(|a| a == "--quota-scale").and_then(|i| args.get(i + 1));
        let scale = flag.and_then(|v| v.parse::<f64>().ok()).filter(|s| *s > 0.0 && *s <= 1.0).unwrap_or(1.0);
        Quotas { scale }
    }

    /// Requests per second of `op`: a whole number, as the operator's `--rate-limit` takes.
    pub fn per_second(&self, op: Op) -> u32 {
        ((f64::from(op.default_quota()) * self.scale).round() as u32).max(1)
    }

    /// Every operation but GetCallerIdentity (not counted by the proxy), with its quota.
    pub fn enforced(&self) -> Vec<(Op, u32)> {
        Op::ALL.iter().filter(|op| **op != Op::GetCallerIdentity).map(|op| (*op, self.per_second(*op))).collect()
    }

    /// The operator's `--rate-limit` entries for these quotas.
    pub fn rate_limits(&self) -> Vec<String> {
        self.enforced().into_iter().map(|(op, rate)| format!("{}={rate}", op.name())).collect()
    }

    /// What the run enforced, as the report prints it.
    pub fn describe(&self) -> String {
        if self.scale == 1.0 {
            return "KMS default quotas per (account, region, operation)".to_owned();
        }
        let shown = [Op::CreateKey, Op::ReplicateKey, Op::CreateAlias, Op::EnableKeyRotation, Op::TagResource];
        let rates: Vec<String> = shown.iter().map(|op| format!("{} {}/s", op.name(), self.per_second(*op))).collect();
        let inexact: Vec<&str> = self
            .enforced()
            .into_iter()
            .filter(|(op, rate)| (f64::from(op.default_quota()) * self.scale - f64::from(*rate)).abs() > 1e-9)
            .map(|(op, _)| op.name())
            .collect();
        let rounding = if inexact.is_empty() { String::new() } else { format!("; rounded: {}", inexact.join(", ")) };
        format!(
            "KMS default quotas x {} per (account, region, operation), --quota-scale: the local server's ceiling kept out of the measure ({}{rounding})",
            self.scale,
            rates.join(", ")
        )
    }
}

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

/// The machine's load averages (1, 5, 15 minutes), as `/proc/loadavg` gives them: benchmarks
/// on a shared machine are read beside it.
pub fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
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

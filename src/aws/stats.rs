//! Counts of AWS calls by operation: the evidence behind the call budgets, shown in
//! `--output json` summaries and exported as metrics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::operation::Op;

#[derive(Debug)]
pub struct CallStats {
    calls: Vec<AtomicU64>,
    throttles: Vec<AtomicU64>,
    failures: Vec<AtomicU64>,
}

impl Default for CallStats {
    fn default() -> Self {
        let zeroes = || Op::ALL.iter().map(|_| AtomicU64::new(0)).collect();
        CallStats { calls: zeroes(), throttles: zeroes(), failures: zeroes() }
    }
}

impl CallStats {
    pub fn record_call(&self, op: Op) {
        self.calls[op.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_throttle(&self, op: Op) {
        self.throttles[op.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_failure(&self, op: Op) {
        self.failures[op.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn calls(&self, op: Op) -> u64 {
        self.calls[op.index()].load(Ordering::Relaxed)
    }

    pub fn throttles(&self, op: Op) -> u64 {
        self.throttles[op.index()].load(Ordering::Relaxed)
    }

    pub fn failures(&self, op: Op) -> u64 {
        self.failures[op.index()].load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> CallSummary {
        let mut summary = CallSummary::default();
        for op in Op::ALL {
            let calls = self.calls(*op);
            if calls > 0 {
                summary.by_operation.insert(op.name().to_owned(), calls);
                if op.is_write() {
                    summary.writes += calls;
                } else {
                    summary.reads += calls;
                }
            }
            summary.throttles += self.throttles(*op);
            summary.failures += self.failures(*op);
        }
        summary
    }
}

/// What a run cost in AWS calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallSummary {
    pub reads: u64,
    pub writes: u64,
    /// Responses that were throttling errors (each was retried).
    pub throttles: u64,
    /// Calls that ended in an error, throttles included.
    pub failures: u64,
    #[serde(rename = "byOperation")]
    pub by_operation: BTreeMap<String, u64>,
}

impl CallSummary {
    pub fn count(&self, op: Op) -> u64 {
        self.by_operation.get(op.name()).copied().unwrap_or(0)
    }

    /// Calls made since `earlier` was taken.
    pub fn since(&self, earlier: &CallSummary) -> CallSummary {
        let mut by_operation = BTreeMap::new();
        for (name, calls) in &self.by_operation {
            let delta = calls - earlier.by_operation.get(name).copied().unwrap_or(0);
            if delta > 0 {
                by_operation.insert(name.clone(), delta);
            }
        }
        CallSummary {
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
            throttles: self.throttles - earlier.throttles,
            failures: self.failures - earlier.failures,
            by_operation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_splits_reads_from_writes_and_diffs() {
        let stats = CallStats::default();
        stats.record_call(Op::DescribeKey);
        stats.record_call(Op::DescribeKey);
        let before = stats.snapshot();
        stats.record_call(Op::CreateKey);
        stats.record_throttle(Op::CreateKey);
        stats.record_failure(Op::CreateKey);
        let after = stats.snapshot();
        assert_eq!(before.reads, 2);
        assert_eq!(after.writes, 1);
        let delta = after.since(&before);
        assert_eq!(delta.reads, 0);
        assert_eq!(delta.writes, 1);
        assert_eq!(delta.throttles, 1);
        assert_eq!(delta.count(Op::CreateKey), 1);
        assert_eq!(delta.count(Op::DescribeKey), 0);
    }
}

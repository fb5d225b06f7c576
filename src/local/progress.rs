//! Live progress of `apply` and `delete` on stderr: a bar (resources done of all, AWS calls,
//! throttles, elapsed time) when stderr is a terminal; otherwise, as in CI logs, a plain line
//! every few seconds. Never anything on stdout, which holds the result (`--output json`,
//! `markdown`).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::aws::{CallStats, CallSummary};

/// How often a log without a terminal gets a line: often enough to show the run is alive, rarely
/// enough not to flood it.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// How often the bar takes the counts.
const BAR_EVERY: Duration = Duration::from_millis(200);

/// Resources finished out of all of a run, counted by the runner as each one ends.
#[derive(Debug)]
pub struct RunProgress {
    total: usize,
    done: AtomicUsize,
}

impl RunProgress {
    pub fn new(total: usize) -> Self {
        RunProgress { total, done: AtomicUsize::new(0) }
    }

    pub fn finish_one(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    pub fn total(&self) -> usize {
        self.total
    }
}

/// `apply: 3/10 resources done; 42 AWS calls, 1 throttled; 15s elapsed`.
pub fn line(verb: &str, progress: &RunProgress, calls: &CallSummary, elapsed: Duration) -> String {
    format!(
        "{verb}: {}/{} resources done; {}; {}s elapsed",
        progress.done(),
        progress.total(),
        call_counts(calls),
        elapsed.as_secs()
    )
}

fn call_counts(calls: &CallSummary) -> String {
    format!("{} AWS calls, {} throttled", calls.reads + calls.writes, calls.throttles)
}

/// The display of one run; dropping it stops it and clears the bar.
pub struct ProgressDisplay {
    bar: Option<ProgressBar>,
    task: Option<JoinHandle<()>>,
}

impl ProgressDisplay {
    /// No progress (`plan`): notes still go to stderr.
    pub fn off() -> Self {
        ProgressDisplay { bar: None, task: None }
    }

    /// Shows `progress` and the calls counted in `stats` from now on, under the name `verb`.
    pub fn start(verb: &'static str, progress: Arc<RunProgress>, stats: Arc<CallStats>) -> Self {
        let before = stats.snapshot();
        let calls = move || stats.snapshot().since(&before);
        if !std::io::stderr().is_terminal() {
            let started = Instant::now();
            let task = tokio::spawn(async move {
                let mut every = tokio::time::interval_at(tokio::time::Instant::now() + LINE_EVERY, LINE_EVERY);
                loop {
                    every.tick().await;
                    eprintln!("{}", line(verb, &progress, &calls(), started.elapsed()));
                }
            });
            return ProgressDisplay { bar: None, task: Some(task) };
        }
        let total = u64::try_from(progress.total()).unwrap_or(u64::MAX);
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()).with_prefix(verb);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} resources; {msg}; {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        let task = tokio::spawn({
            let bar = bar.clone();
            async move {
                let mut every = tokio::time::interval(BAR_EVERY);
                loop {
                    every.tick().await;
                    bar.set_position(u64::try_from(progress.done()).unwrap_or(u64::MAX));
                    bar.set_message(call_counts(&calls()));
                }
            }
        });
        ProgressDisplay { bar: Some(bar), task: Some(task) }
    }

    /// A line on stderr that the bar does not overwrite.
    pub fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{message}")),
            None => eprintln!("{message}"),
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_how_far_how_many_calls_and_how_long() {
        let progress = RunProgress::new(10);
        for _ in 0..3 {
            progress.finish_one();
        }
        let calls = CallSummary { reads: 40, writes: 2, throttles: 1, ..CallSummary::default() };
        assert_eq!(
            line("apply", &progress, &calls, Duration::from_millis(15_900)),
            "apply: 3/10 resources done; 42 AWS calls, 1 throttled; 15s elapsed"
        );
    }
}

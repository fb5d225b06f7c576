//! SIGINT and SIGTERM for `apply` and `delete`: the first stops new writes and waits, bounded,
//! for the ones under way; the second stops at once.

/// The signals that ask a run to stop.
pub struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => drop(signal.recv().await),
        None => std::future::pending().await,
    }
}

impl Signals {
    /// Listens from now on; a signal that cannot be listened for keeps its default action,
    /// which stops the process as it would without this.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals { interrupt: signal(SignalKind::interrupt()).ok(), terminate: signal(SignalKind::terminate()).ok() }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Resolves at the next SIGINT or SIGTERM (Ctrl-C elsewhere).
    pub async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            () = received(self.interrupt.as_mut()) => {}
            () = received(self.terminate.as_mut()) => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

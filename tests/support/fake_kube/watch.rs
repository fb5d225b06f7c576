//! Watches: the changes after a resource version, then new ones as they happen, as a stream
//! of JSON lines, until the watch's timeout.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame};
use serde_json::json;

use super::Body;
use super::store::{Path, Store};

fn matches(change: &super::store::Change, path: &Path) -> bool {
    change.group_version == path.group_version
        && change.plural == path.plural
        && path.namespace.as_ref().is_none_or(|ns| *ns == change.namespace)
}

pub fn stream(
    store: Arc<Mutex<Store>>,
    mut changes: tokio::sync::broadcast::Receiver<()>,
    path: Path,
    since: u64,
    timeout_seconds: u64,
) -> Response<Body> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    tokio::spawn(async move {
        let mut seen = since;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_seconds.min(30));
        loop {
            let pending: Vec<super::store::Change> = {
                let store = store.lock().unwrap();
                store.log.iter().filter(|c| c.version > seen && matches(c, &path)).cloned().collect()
            };
            for change in pending {
                seen = seen.max(change.version);
                let line = format!("{}\n", json!({"type": change.kind, "object": change.object}));
                if sender.send(Ok(Frame::data(Bytes::from(line)))).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = changes.recv() => {}
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    });
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|frame| (frame, receiver))
    });
    let body = StreamBody::new(frames);
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.boxed())
        .expect("watch response")
}

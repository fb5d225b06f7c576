//! Watches: the changes after a resource version (or the objects as they are, from version 0),
//! then new ones as they happen, as a stream of JSON lines until the watch's timeout. A version
//! older than the history is answered with an ERROR event, 410 Expired, as the API server
//! answers it ([`expired`]); a watch that asked for bookmarks gets one with the current version
//! before it ends at its timeout; a compaction ends every open watch at once.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame};
use serde_json::{Value, json};

use super::Body;
use super::path::Path;
use super::selector::Selector;
use super::store::{Change, Store};

pub struct WatchRequest {
    pub path: Path,
    /// `None` (or `0`): the objects as they are now, then what changes.
    pub since: Option<u64>,
    pub timeout_seconds: u64,
    pub selector: Selector,
    pub bookmarks: bool,
}

fn in_scope(change: &Change, path: &Path) -> bool {
    change.group_version == path.group_version
        && change.plural == path.plural
        && path.namespace.as_ref().is_none_or(|ns| *ns == change.namespace)
}

/// The event a selecting watch sees for `change`: an object that starts to match is ADDED, one
/// that stops matching is DELETED, one that never matched is not seen.
fn event(store: &Store, change: &Change, selector: &Selector) -> Option<Value> {
    let now = selector.matches(&change.object);
    // Without a selector every change is the object's own, as the API server sends it; only a
    // selector needs the version before (was it selected?), a walk back through the history
    // that at 10,000 objects cost the fake more than the controller it served.
    let before = change.kind != "ADDED"
        && (selector.is_everything() || store.previous(change).is_some_and(|p| selector.matches(&p.object)));
    let kind = match (before, now) {
        (false, false) => return None,
        (false, true) if change.kind != "DELETED" => "ADDED",
        (false, true) => return None,
        (true, false) => "DELETED",
        (true, true) => change.kind,
    };
    Some(json!({"type": kind, "object": change.object}))
}

/// The answer to a watch from a version the history no longer holds: one ERROR event, 410
/// Expired, in a successful response, as the API server sends it.
pub fn expired(since: u64, compacted: u64) -> Response<Body> {
    let event = json!({"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired", "code": 410,
        "message": format!("too old resource version: {since} ({compacted})"),
    }});
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(format!("{event}\n"))).boxed())
        .expect("watch response")
}

pub fn stream(
    store: Arc<Mutex<Store>>,
    mut changes: tokio::sync::broadcast::Receiver<()>,
    mut compactions: tokio::sync::watch::Receiver<u64>,
    request: WatchRequest,
) -> Response<Body> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    compactions.mark_unchanged();
    tokio::spawn(async move {
        let send = |event: Value| {
            let sender = sender.clone();
            async move { sender.send(Ok(Frame::data(Bytes::from(format!("{event}\n"))))).await.is_ok() }
        };
        let (start, current) = {
            let store = store.lock().unwrap();
            let since = request.since.filter(|v| *v > 0);
            let current: Vec<Value> = match since {
                Some(_) => Vec::new(),
                None => store
                    .all(&request.path.group_version, &request.path.plural)
                    .into_iter()
                    .filter(|o| {
                        let namespace = o["metadata"]["namespace"].as_str().unwrap_or_default();
                        request.path.namespace.as_deref().is_none_or(|ns| ns == namespace)
                            && request.selector.matches(o)
                    })
                    .collect(),
            };
            (since.unwrap_or(store.version()), current)
        };
        for object in current {
            if !send(json!({"type": "ADDED", "object": object})).await {
                return;
            }
        }
        let mut seen = start;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(request.timeout_seconds.min(30));
        loop {
            let pending: Vec<Value> = {
                let store = store.lock().unwrap();
                // The history is in version order: start after what this watch has seen rather
                // than walk it all on every change.
                let first = store.log.partition_point(|c| c.version <= seen);
                let fresh = store.log[first..].iter().filter(|c| in_scope(c, &request.path));
                let events = fresh.filter_map(|c| event(&store, c, &request.selector).map(|e| (c.version, e)));
                let events: Vec<(u64, Value)> = events.collect();
                seen = seen.max(store.log.last().map_or(seen, |c| c.version));
                events.into_iter().map(|(_, e)| e).collect()
            };
            for event in pending {
                if !send(event).await {
                    return;
                }
            }
            tokio::select! {
                _ = changes.recv() => {}
                _ = compactions.changed() => return,
                _ = tokio::time::sleep_until(deadline) => {
                    if request.bookmarks {
                        let object = {
                            let store = store.lock().unwrap();
                            let resource = store.resources.get(&request.path.group_version, &request.path.plural);
                            let kind = resource.map(|r| r.kind.clone());
                            json!({"kind": kind, "apiVersion": request.path.group_version, "metadata": {"resourceVersion": store.version().to_string()}})
                        };
                        let _ = send(json!({"type": "BOOKMARK", "object": object})).await;
                    }
                    return;
                }
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

//! An in-memory Kubernetes API server behind a `kube::Client`, for controller tests without a
//! cluster, as strict as a real one where the controller relies on it: create, get, list and
//! watch with label and field selectors, replace, merge/JSON/strategic/apply patches, resources
//! served at their scope only and namespaced objects only in namespaces that exist, status
//! subresources (status is dropped on create and ignored on object writes; writes to `/status`
//! change nothing else), generations, finalizers (none added once deletion began) with
//! deletion timestamps, pruning by the CRDs' structural schemas, conflicts on stale resource
//! versions and on a DELETE's preconditions, watch bookmarks, 410 Gone for a watch from before
//! a compaction, and garbage collection by owner references. It records every request and every
//! pruned field, and can fail chosen requests. docs/testing.md lists what it still does
//! differently.

pub mod limits;
mod patch;
mod path;
mod schema;
mod selector;
mod serve;
mod store;
pub mod structural;
mod watch;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

pub use path::Path;
use selector::Selector;
use store::{ApiError, Store};
use watch::WatchRequest;

type Body = BoxBody<Bytes, Infallible>;

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Which client sent it (see [`FakeKube::client_named`]).
    pub client: String,
    pub method: String,
    pub path: String,
    pub query: String,
}

struct Failure {
    method: String,
    path_contains: String,
    status: u16,
    /// Matching requests to let through before failing.
    skip: usize,
    remaining: usize,
}

#[derive(Default)]
struct Recorder {
    requests: Vec<Seen>,
    failures: Vec<Failure>,
    /// Fields pruned from writes, by the client that sent them: `(client, "plural/ns/name: .path")`.
    pruned: Vec<(String, String)>,
    /// Watches answered 410 Expired.
    expired_watches: usize,
}

#[derive(Clone)]
pub struct FakeKube {
    store: Arc<Mutex<Store>>,
    recorder: Arc<Mutex<Recorder>>,
    changes: Arc<tokio::sync::broadcast::Sender<()>>,
    /// Counts compactions; open watches end when it moves.
    compactions: Arc<tokio::sync::watch::Sender<u64>>,
}

pub fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code});
    respond(code, &body)
}

pub fn respond(code: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .expect("response")
}

impl FakeKube {
    pub fn new() -> FakeKube {
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        FakeKube {
            store: Arc::new(Mutex::new(Store::new())),
            recorder: Arc::default(),
            changes: Arc::new(changes),
            compactions: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// A client whose every request this server answers.
    pub fn client(&self) -> kube::Client {
        self.client_named("default")
    }

    /// A client whose requests are recorded under `name`, to tell the code under test from
    /// the test driving it.
    pub fn client_named(&self, name: &str) -> kube::Client {
        let server = self.clone();
        let name = name.to_owned();
        let service = tower::service_fn(move |request: Request<kube::client::Body>| {
            let (server, name) = (server.clone(), name.clone());
            async move { Ok::<_, Infallible>(server.handle(&name, request).await) }
        });
        kube::Client::new(service, "default")
    }

    /// Fails the next `times` requests with `method` whose path contains `path_contains`.
    pub fn fail_next(&self, method: &str, path_contains: &str, status: u16, times: usize) {
        self.fail_after(method, path_contains, 0, status, times);
    }

    /// Like `fail_next`, but lets the first `skip` matching requests through.
    pub fn fail_after(&self, method: &str, path_contains: &str, skip: usize, status: u16, times: usize) {
        let failure = Failure {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            status,
            skip,
            remaining: times,
        };
        self.recorder.lock().unwrap().failures.push(failure);
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.recorder.lock().unwrap().requests.clone()
    }

    /// Writes (anything but GET) whose path ends with `suffix`.
    pub fn writes_to(&self, suffix: &str) -> usize {
        self.requests().iter().filter(|r| r.method != "GET" && r.path.ends_with(suffix)).count()
    }

    /// Every stored object of a resource (e.g. `events.k8s.io/v1`, `events`).
    pub fn objects(&self, group_version: &str, plural: &str) -> Vec<Value> {
        self.store.lock().unwrap().all(group_version, plural)
    }

    /// Fields the schema pruned from the writes of `client` (`"kmskeys/apps/logs: .status.x"`).
    pub fn pruned(&self, client: &str) -> Vec<String> {
        let recorder = self.recorder.lock().unwrap();
        recorder.pruned.iter().filter(|(c, _)| c == client).map(|(_, field)| field.clone()).collect()
    }

    /// Watches answered 410 Expired so far.
    pub fn expired_watches(&self) -> usize {
        self.recorder.lock().unwrap().expired_watches
    }

    /// Serves a newer CRD than the binary's (after a rollback of the operator): `patch`, a JSON
    /// merge patch, is merged into the structural schema of `plural` in `group_version`.
    pub fn extend_schema(&self, group_version: &str, plural: &str, patch: &Value) {
        self.store.lock().unwrap().resources.extend_schema(group_version, plural, patch);
    }

    /// Compacts the history, as etcd does, past every version handed out so far, and ends every
    /// open watch, as an API server restart does: a client resuming from what it saw gets 410
    /// Gone and must list again.
    pub fn compact(&self) {
        self.store.lock().unwrap().compact();
        self.compactions.send_modify(|count| *count += 1);
    }

    fn injected_failure(&self, method: &Method, path: &str) -> Option<u16> {
        let mut recorder = self.recorder.lock().unwrap();
        let failure = recorder
            .failures
            .iter_mut()
            .find(|f| f.remaining > 0 && f.method == method.as_str() && path.contains(&f.path_contains))?;
        if failure.skip > 0 {
            failure.skip -= 1;
            return None;
        }
        failure.remaining -= 1;
        Some(failure.status)
    }

    async fn handle(&self, client: &str, request: Request<kube::client::Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or_default().to_owned();
        let seen = Seen {
            client: client.to_owned(),
            method: parts.method.to_string(),
            path: path.clone(),
            query: query.clone(),
        };
        self.recorder.lock().unwrap().requests.push(seen);
        if let Some(code) = self.injected_failure(&parts.method, &path) {
            return status(code, "InternalError", "failure injected by the test");
        }
        let Some(target) = Path::parse(&path) else {
            return status(404, "NotFound", &format!("no route for {path}"));
        };
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return status(400, "BadRequest", "unreadable body"),
        };
        let params: Vec<(String, String)> = url_pairs(&query);
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let selector = match Selector::parse(param("labelSelector").as_deref(), param("fieldSelector").as_deref()) {
            Ok(selector) => selector,
            Err(message) => return status(400, "BadRequest", &message),
        };
        if parts.method == Method::GET && param("watch").is_some_and(|w| w == "true" || w == "1") {
            return self.watch(target, &param, selector);
        }
        let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let manager = param("fieldManager").unwrap_or_else(|| "unknown".to_owned());
        let force = param("force").is_some_and(|f| f == "true");
        let response = {
            let mut store = self.store.lock().unwrap();
            let written = match parts.method {
                Method::GET => store.get_or_list(&target, &selector),
                Method::POST => decode(&body).and_then(|object| store.create(&target, object)),
                Method::PUT => decode(&body).and_then(|object| store.replace(&target, object)),
                Method::PATCH => {
                    decode(&body).and_then(|patch| store.patch(&target, &content_type, patch, &manager, force))
                }
                Method::DELETE => {
                    background_only(&body).and_then(|()| store.delete_if(&target, &preconditions(&body)?))
                }
                _ => Err(ApiError::new(405, "MethodNotAllowed", "method not allowed")),
            };
            // Garbage appears only where an owner goes (a delete, or a write that lets a deleted
            // object go) or a reference is written; the collector walks every object, so it runs
            // only then: after every write, it made the fake quadratic in the objects it holds.
            let may_leave_garbage = |object: &Value| {
                parts.method == Method::DELETE
                    || object["metadata"].get("deletionTimestamp").is_some()
                    || object["metadata"]["ownerReferences"].as_array().is_some_and(|r| !r.is_empty())
            };
            if parts.method != Method::GET && written.as_ref().is_ok_and(may_leave_garbage) {
                store.collect_garbage();
            }
            let pruned = std::mem::take(&mut store.pruned);
            self.recorder.lock().unwrap().pruned.extend(pruned.into_iter().map(|field| (client.to_owned(), field)));
            written
        };
        if parts.method != Method::GET {
            let _ = self.changes.send(());
        }
        match response {
            Ok(value) => respond(if parts.method == Method::POST { 201 } else { 200 }, &value),
            Err(error) => status(error.code, error.reason, &error.message),
        }
    }

    fn watch(&self, path: Path, param: &dyn Fn(&str) -> Option<String>, selector: Selector) -> Response<Body> {
        let since = param("resourceVersion").and_then(|v| v.parse::<u64>().ok()).filter(|v| *v > 0);
        {
            let store = self.store.lock().unwrap();
            if let Err(error) = store.resource(&path) {
                return status(error.code, error.reason, &error.message);
            }
            if let Some(since) = since.filter(|v| *v < store.compacted) {
                self.recorder.lock().unwrap().expired_watches += 1;
                return watch::expired(since, store.compacted);
            }
        }
        let request = WatchRequest {
            path,
            since,
            timeout_seconds: param("timeoutSeconds").and_then(|v| v.parse().ok()).unwrap_or(290),
            selector,
            bookmarks: param("allowWatchBookmarks").is_some_and(|b| b == "true"),
        };
        watch::stream(self.store.clone(), self.changes.subscribe(), self.compactions.subscribe(), request)
    }
}

/// The garbage collector here propagates deletion in the background only: a DELETE asking to
/// orphan dependents or to delete them first is refused rather than answered as if it had.
fn background_only(body: &[u8]) -> Result<(), ApiError> {
    if body.is_empty() {
        return Ok(());
    }
    match decode(body)?["propagationPolicy"].as_str() {
        None | Some("Background") => Ok(()),
        Some(policy) => Err(ApiError::new(400, "BadRequest", &format!("propagationPolicy {policy} is not modelled"))),
    }
}

/// A DELETE's `preconditions` (`null` without a body or without them).
fn preconditions(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    Ok(decode(body)?["preconditions"].clone())
}

/// A request body as JSON: every body the server reads goes through here.
fn decode(body: &[u8]) -> Result<Value, ApiError> {
    limits::parse(body)
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

//! An in-memory Kubernetes API server behind a `kube::Client`, for controller tests without a
//! cluster: create, get, list, watch, replace, merge/JSON/strategic/apply patches, status
//! subresources, generations, finalizers with deletion timestamps, and conflicts on stale
//! resource versions. It records every request and can fail chosen ones.

pub mod limits;
mod patch;
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

pub use store::Path;
use store::Store;

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
}

#[derive(Clone)]
pub struct FakeKube {
    store: Arc<Mutex<Store>>,
    recorder: Arc<Mutex<Recorder>>,
    changes: Arc<tokio::sync::broadcast::Sender<()>>,
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
        FakeKube { store: Arc::default(), recorder: Arc::default(), changes: Arc::new(changes) }
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
        if parts.method == Method::GET && param("watch").is_some_and(|w| w == "true" || w == "1") {
            let since = param("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
            let timeout = param("timeoutSeconds").and_then(|v| v.parse().ok()).unwrap_or(290);
            return watch::stream(self.store.clone(), self.changes.subscribe(), target, since, timeout);
        }
        let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let manager = param("fieldManager").unwrap_or_else(|| "unknown".to_owned());
        let force = param("force").is_some_and(|f| f == "true");
        let response = {
            let mut store = self.store.lock().unwrap();
            match parts.method {
                Method::GET => store.get_or_list(&target),
                Method::POST => store.create(&target, &body),
                Method::PUT => store.replace(&target, &body),
                Method::PATCH => store.patch(&target, &content_type, &body, &manager, force),
                Method::DELETE => store.delete(&target),
                _ => Err(store::ApiError::new(405, "MethodNotAllowed", "method not allowed")),
            }
        };
        if parts.method != Method::GET {
            let _ = self.changes.send(());
        }
        match response {
            Ok(value) => respond(if parts.method == Method::POST { 201 } else { 200 }, &value),
            Err(error) => status(error.code, error.reason, &error.message),
        }
    }
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.replace("%3A", ":").replace("%2F", "/"))
        })
        .collect()
}

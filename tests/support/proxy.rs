//! A small HTTP proxy in front of the local KMS server that injects the failures real KMS and
//! real networks produce: throttling, server errors, refused policies, dropped connections
//! (before or after the request reached KMS), and delays. It can also enforce request quotas.
//! STS requests (`GetCallerIdentity`, the operator's identity check) pass through it too and
//! can be failed the same way; their errors are written in STS's XML. On request it also
//! reports rotation periods as KMS does and moto does not (`rotation_periods.rs`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::rotation_periods::RotationPeriods;

#[derive(Clone, Debug)]
pub enum Fault {
    /// An AWS JSON error response (the request does not reach KMS).
    Error { status: u16, code: &'static str, message: &'static str },
    /// The connection closes before the request reaches KMS.
    DropBeforeForward,
    /// The request reaches KMS, then the connection closes before the answer: the write
    /// happened but the client cannot know.
    DropAfterForward,
    /// The answer comes late (still forwarded).
    Delay(Duration),
    /// The request reaches KMS late, whether or not its client is still there to hear back.
    Late(Duration),
    /// The request waits at the proxy until the gate opens.
    Hold(Arc<tokio::sync::Notify>),
}

impl Fault {
    pub fn throttle() -> Fault {
        Fault::Error { status: 400, code: "ThrottlingException", message: "Rate exceeded" }
    }

    pub fn server_error() -> Fault {
        Fault::Error { status: 500, code: "KMSInternalException", message: "We encountered an internal error" }
    }

    pub fn unavailable() -> Fault {
        Fault::Error { status: 503, code: "ServiceUnavailable", message: "Service Unavailable" }
    }

    pub fn not_found() -> Fault {
        Fault::Error { status: 400, code: "NotFoundException", message: "Key does not exist (yet)" }
    }

    pub fn access_denied() -> Fault {
        Fault::Error { status: 400, code: "AccessDeniedException", message: "not authorized to perform this operation" }
    }

    /// STS's answer to a session token it does not know: a verdict on the credentials.
    pub fn invalid_token() -> Fault {
        Fault::Error {
            status: 403,
            code: "InvalidClientTokenId",
            message: "The security token included in the request is invalid.",
        }
    }

    pub fn invalid_principal() -> Fault {
        Fault::Error {
            status: 400,
            code: "MalformedPolicyDocumentException",
            message: "Policy contains a statement with one or more invalid principals.",
        }
    }
}

struct Rule {
    /// KMS or STS operation (`CreateKey`, `GetCallerIdentity`), or `*` for every KMS operation.
    operation: String,
    fault: Fault,
    /// Requests to skip before the fault applies.
    skip: usize,
    remaining: usize,
}

#[derive(Default)]
struct Bucket {
    tokens: f64,
    refilled: Option<Instant>,
}

#[derive(Default)]
struct State {
    /// Requests received and not yet answered (or dropped).
    in_flight: usize,
    /// Keys created through the proxy, and when: ListKeys leaves them out for `hide_new_keys`,
    /// as KMS's eventually consistent listing may.
    created: Vec<(String, Instant)>,
    hide_new_keys: Option<Duration>,
    rules: Vec<Rule>,
    forwarded: BTreeMap<String, usize>,
    /// Every request received, in order: its operation and the access key id that signed it.
    received: Vec<(String, String)>,
    injected: BTreeMap<String, usize>,
    throttled: BTreeMap<String, usize>,
    quotas: HashMap<String, f64>,
    buckets: HashMap<String, Bucket>,
    /// `Some` once `report_rotation_periods` was called.
    rotation_periods: Option<RotationPeriods>,
    /// Keys DescribeKey reports as AWS managed (moto creates customer managed keys only).
    aws_managed: Vec<String>,
}

impl State {
    fn take_fault(&mut self, operation: &str, protocol: Protocol) -> Option<Fault> {
        let matches = |rule: &str| rule == operation || (rule == "*" && protocol == Protocol::Json);
        let rule = self.rules.iter_mut().find(|r| matches(&r.operation) && r.remaining > 0)?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        rule.remaining -= 1;
        Some(rule.fault.clone())
    }

    /// A token bucket per operation holding one second of quota, as KMS allows bursts.
    fn over_quota(&mut self, operation: &str) -> bool {
        let Some(rate) = self.quotas.get(operation).copied() else {
            return false;
        };
        let bucket = self.buckets.entry(operation.to_owned()).or_default();
        let now = Instant::now();
        match bucket.refilled {
            None => bucket.tokens = rate,
            Some(at) => bucket.tokens = (bucket.tokens + rate * now.duration_since(at).as_secs_f64()).min(rate),
        }
        bucket.refilled = Some(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            false
        } else {
            true
        }
    }
}

#[derive(Clone)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

/// How the request names its operation, which also decides how errors are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// KMS: `x-amz-target: TrentService.CreateKey`, JSON errors.
    Json,
    /// STS: a form body with `Action=GetCallerIdentity`, XML errors.
    Query,
}

fn operation_of(parts: &hyper::http::request::Parts, body: &[u8]) -> (String, Protocol) {
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).and_then(|v| v.split('.').nth(1));
    if let Some(operation) = target {
        return (operation.to_owned(), Protocol::Json);
    }
    let action = std::str::from_utf8(body)
        .ok()
        .and_then(|form| form.split('&').find_map(|pair| pair.strip_prefix("Action=")))
        .unwrap_or("other");
    (action.to_owned(), Protocol::Query)
}

/// The access key id in a SigV4 `Authorization` header (`... Credential=AKID/date/...`).
fn access_key_of(parts: &hyper::http::request::Parts) -> String {
    let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    header.split("Credential=").nth(1).and_then(|c| c.split('/').next()).unwrap_or("").to_owned()
}

fn error_response(protocol: Protocol, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let (content_type, body) = match protocol {
        Protocol::Json => ("application/x-amz-json-1.1", format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
        Protocol::Query => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        ),
    };
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .header("x-amzn-errortype", code)
        .body(Full::new(Bytes::from(body)))
        .expect("error response")
}

/// Notes the key a CreateKey made, hides keys created moments ago from ListKeys, and reports
/// rotation periods and AWS managed keys when asked to.
async fn rewrite(
    state: &Mutex<State>,
    operation: &str,
    request: &[u8],
    response: Response<Full<Bytes>>,
) -> Response<Full<Bytes>> {
    let (mut parts, body) = response.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let mut state = state.lock().expect("proxy state");
    if let Some(periods) = state.rotation_periods.as_mut() {
        periods.record(operation, request, parts.status.is_success());
        if let Some(answer) = json.as_ref().and_then(|j| periods.answer(operation, request, j)) {
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
            return Response::from_parts(parts, Full::new(Bytes::from(answer.to_string())));
        }
    }
    if operation == "DescribeKey"
        && let Some(mut described) = json.clone()
        && described["KeyMetadata"]["KeyId"].as_str().is_some_and(|id| state.aws_managed.iter().any(|k| k == id))
    {
        described["KeyMetadata"]["KeyManager"] = serde_json::Value::from("AWS");
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        return Response::from_parts(parts, Full::new(Bytes::from(described.to_string())));
    }
    let now = Instant::now();
    if operation == "CreateKey"
        && let Some(id) = json.as_ref().and_then(|j| j["KeyMetadata"]["KeyId"].as_str())
    {
        state.created.push((id.to_owned(), now));
    }
    let (Some(hide), true, Some(mut listing)) = (state.hide_new_keys, operation == "ListKeys", json) else {
        return Response::from_parts(parts, Full::new(bytes));
    };
    let hidden: Vec<&str> =
        state.created.iter().filter(|(_, at)| now.duration_since(*at) < hide).map(|(id, _)| id.as_str()).collect();
    if let Some(keys) = listing["Keys"].as_array_mut() {
        keys.retain(|k| k["KeyId"].as_str().is_none_or(|id| !hidden.contains(&id)));
    }
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    Response::from_parts(parts, Full::new(Bytes::from(listing.to_string())))
}

async fn forward(
    upstream: SocketAddr,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, String> {
    let stream = TcpStream::connect(upstream).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender.send_request(Request::from_parts(parts, Full::new(body))).await.map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// `Err(())` closes the connection without an answer.
async fn handle(
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ()> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| ())?.to_bytes();
    let (operation, protocol) = operation_of(&parts, &body);
    let (fault, throttled) = {
        let mut state = state.lock().expect("proxy state");
        state.received.push((operation.clone(), access_key_of(&parts)));
        let fault = state.take_fault(&operation, protocol);
        let throttled = fault.is_none() && state.over_quota(&operation);
        if fault.is_some() {
            *state.injected.entry(operation.clone()).or_default() += 1;
        }
        if throttled {
            *state.throttled.entry(operation.clone()).or_default() += 1;
        }
        (fault, throttled)
    };
    if throttled {
        return Ok(error_response(protocol, 400, "ThrottlingException", "Rate exceeded"));
    }
    match &fault {
        Some(Fault::Error { status, code, message }) => return Ok(error_response(protocol, *status, code, message)),
        Some(Fault::DropBeforeForward) => return Err(()),
        Some(Fault::Hold(gate)) => gate.notified().await,
        Some(Fault::Late(delay)) => tokio::time::sleep(*delay).await,
        _ => {}
    }
    let response = forward(upstream, parts, body.clone()).await.map_err(|_| ())?;
    let response = rewrite(&state, &operation, &body, response).await;
    *state.lock().expect("proxy state").forwarded.entry(operation).or_default() += 1;
    match fault {
        Some(Fault::DropAfterForward) => Err(()),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(response)
        }
        _ => Ok(response),
    }
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (e.g. the moto server).
    pub async fn start(upstream_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        // Handled on a task of its own: a request that left its client reaches
                        // KMS even if the client dies meanwhile, as on a real network.
                        state.lock().expect("proxy state").in_flight += 1;
                        let handled = tokio::spawn({
                            let state = state.clone();
                            async move {
                                let answer = handle(upstream, state.clone(), request).await;
                                state.lock().expect("proxy state").in_flight -= 1;
                                answer
                            }
                        });
                        async move {
                            match handled.await {
                                Ok(Ok(response)) => Ok::<_, Dropped>(response),
                                _ => Err(Dropped),
                            }
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { addr, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `fault` to the next `times` requests of `operation` (or `*`).
    pub fn inject(&self, operation: &str, fault: Fault, times: usize) {
        self.inject_after(operation, 0, fault, times);
    }

    /// Like `inject`, but lets the first `skip` matching requests through.
    pub fn inject_after(&self, operation: &str, skip: usize, fault: Fault, times: usize) {
        let rule = Rule { operation: operation.to_owned(), fault, skip, remaining: times };
        self.state.lock().expect("proxy state").rules.push(rule);
    }

    /// Leaves keys created through the proxy out of ListKeys for `delay`, as KMS's eventually
    /// consistent listing may.
    pub fn hide_new_keys(&self, delay: Duration) {
        self.state.lock().expect("proxy state").hide_new_keys = Some(delay);
    }

    /// Keys created through the proxy so far.
    pub fn created_keys(&self) -> Vec<String> {
        self.state.lock().expect("proxy state").created.iter().map(|(id, _)| id.clone()).collect()
    }

    /// From now on, GetKeyRotationStatus reports the period the last EnableKeyRotation set, as
    /// KMS does (moto does not).
    pub fn report_rotation_periods(&self) {
        self.state.lock().expect("proxy state").rotation_periods.get_or_insert_with(RotationPeriods::default);
    }

    /// Throttles each operation beyond `per_second` requests per second, as KMS does.
    /// DescribeKey reports `key_id` as an AWS managed key from now on.
    pub fn report_aws_managed(&self, key_id: &str) {
        self.state.lock().expect("proxy state").aws_managed.push(key_id.to_owned());
    }

    pub fn enforce_quota(&self, operation: &str, per_second: f64) {
        self.state.lock().expect("proxy state").quotas.insert(operation.to_owned(), per_second);
    }

    pub fn forwarded(&self, operation: &str) -> usize {
        self.state.lock().expect("proxy state").forwarded.get(operation).copied().unwrap_or(0)
    }

    /// Every request received so far, in order: (operation, access key id that signed it).
    pub fn received(&self) -> Vec<(String, String)> {
        self.state.lock().expect("proxy state").received.clone()
    }

    pub fn injected(&self, operation: &str) -> usize {
        self.state.lock().expect("proxy state").injected.get(operation).copied().unwrap_or(0)
    }

    pub fn throttled(&self) -> BTreeMap<String, usize> {
        self.state.lock().expect("proxy state").throttled.clone()
    }

    /// Requests that reached the proxy and have not been answered: a killed client's requests
    /// stay in flight until they land.
    pub fn in_flight(&self) -> usize {
        self.state.lock().expect("proxy state").in_flight
    }

    /// Faults still waiting to be injected.
    pub fn pending_faults(&self) -> usize {
        self.state.lock().expect("proxy state").rules.iter().map(|r| r.remaining).sum()
    }

    /// Drops every fault not injected yet: the outage is over.
    pub fn clear_faults(&self) {
        self.state.lock().expect("proxy state").rules.clear();
    }
}

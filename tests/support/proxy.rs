//! A small HTTP proxy in front of the local KMS server that injects the failures real KMS and
//! real networks produce: throttling, server errors, refused policies, dropped connections
//! (before or after the request reached KMS), and delays. It can also enforce request quotas.
//! STS requests (`GetCallerIdentity`, the operator's identity check) pass through it too and
//! can be failed the same way; their errors are written in STS's XML. On request it also
//! reports rotation periods (`rotation_periods.rs`) and AWS managed keys as KMS does and moto
//! does not. CloudWatch requests, which the Rust SDK sends in Smithy RPC v2 CBOR, are translated
//! to the JSON protocol moto parses and their answers back (`cbor.rs`); PutMetricFilter replaces
//! a filter of the same name, as CloudWatch Logs does (moto adds a second one). On request it
//! describes keys whose material KMS does not make, and HMAC keys, as KMS does
//! (`key_material.rs`).
//!
//! Quotas are kept as KMS keeps them, per (account, region, operation): the region is the one
//! the request was signed for, the account the one whose credentials signed it. moto's
//! AssumeRole into another account's role returns credentials of that account, so the proxy
//! learns each access key's account from the AssumeRole answers it forwards; any other key is
//! moto's default account. A ReplicateKey also spends two CreateKey requests of the replica's
//! region, as the operator's own limiter counts it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::cbor::{cbor_to_json, json_to_cbor, rpc_v2_operation};
use super::key_material::{CustomKeyStore, KeyMaterialAsKms};
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
    Hold(Gate),
}

/// A gate that held requests wait at. Opening it is a latch, not a wake-up: a request that
/// reaches the gate after it opened passes at once, so a test cannot open it too early and
/// leave a request held forever (`Notify::notify_waiters` wakes only those already waiting).
#[derive(Clone, Debug)]
pub struct Gate(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Gate {
    pub fn new() -> Gate {
        Gate(Arc::new(tokio::sync::watch::Sender::new(false)))
    }

    /// Lets every held request through, and every later one.
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn pass(&self) {
        let mut open = self.0.subscribe();
        // The sender lives in `self`, so waiting can only end by the gate opening.
        let _ = open.wait_for(|open| *open).await;
    }
}

impl Fault {
    /// Whether the request still reaches KMS (late, held, or unanswered).
    fn reaches_kms(&self) -> bool {
        matches!(self, Fault::DropAfterForward | Fault::Delay(_) | Fault::Late(_) | Fault::Hold(_))
    }

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
    /// Only requests signed with credentials of this account, when set.
    account: Option<String>,
    fault: Fault,
    /// Requests to skip before the fault applies.
    skip: usize,
    remaining: usize,
}

/// moto's account for credentials it did not issue (docs/testing.md).
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// Where KMS counts a request against its quotas: (account, region, operation).
pub type QuotaScope = (String, String, String);

#[derive(Default)]
struct Bucket {
    tokens: f64,
    refilled: Option<Instant>,
}

/// The throttles of one (operation, scope that had no room).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Throttles {
    pub requests: usize,
    /// The most any of them came too early: what its scope's bucket lacked, in seconds of quota.
    pub early_seconds: f64,
}

#[derive(Default)]
struct State {
    /// Requests received and not yet answered (or dropped).
    in_flight: usize,
    /// The same, by operation, from the moment the request's operation is known.
    in_flight_by_operation: BTreeMap<String, usize>,
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
    /// Throttles by the request's operation and the scope that had no room for it.
    throttled_scopes: BTreeMap<(String, QuotaScope), Throttles>,
    quotas: HashMap<String, f64>,
    buckets: HashMap<QuotaScope, Bucket>,
    /// Quota spent by the requests let through, per scope: what bounds a run's time.
    spent: BTreeMap<QuotaScope, usize>,
    /// The account of each access key that AssumeRole handed out.
    accounts: HashMap<String, String>,
    /// `Some` once `report_rotation_periods` was called.
    rotation_periods: Option<RotationPeriods>,
    /// `Some` once `describe_key_material` was called.
    key_material: Option<KeyMaterialAsKms>,
    /// Keys DescribeKey reports as AWS managed (`report_aws_managed`).
    aws_managed: Vec<String>,
}

impl State {
    fn take_fault(&mut self, operation: &str, protocol: Protocol, account: &str) -> Option<Fault> {
        let matches = |rule: &Rule| {
            (rule.operation == operation || (rule.operation == "*" && protocol == Protocol::Json))
                && rule.account.as_deref().is_none_or(|a| a == account)
        };
        let rule = self.rules.iter_mut().find(|r| matches(r) && r.remaining > 0)?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        rule.remaining -= 1;
        Some(rule.fault.clone())
    }

    /// Takes `tokens` from the bucket of `scope` if it holds that many, else none.
    fn take_tokens(&mut self, scope: &QuotaScope, tokens: f64) -> bool {
        let Some(rate) = self.quotas.get(&scope.2).copied() else {
            return true;
        };
        let bucket = self.buckets.entry(scope.clone()).or_default();
        let now = Instant::now();
        let capacity = bucket_capacity(rate, tokens);
        match bucket.refilled {
            None => bucket.tokens = capacity,
            Some(at) => bucket.tokens = (bucket.tokens + rate * now.duration_since(at).as_secs_f64()).min(capacity),
        }
        bucket.refilled = Some(now);
        if bucket.tokens >= tokens {
            bucket.tokens -= tokens;
            true
        } else {
            false
        }
    }

    /// A token bucket per (account, region, operation) holding one second of quota, as KMS
    /// allows bursts. `charges` are every scope the request spends; it passes only if each has
    /// room, and then spends them all.
    fn over_quota(&mut self, operation: &str, charges: &[(QuotaScope, usize)]) -> bool {
        // The first scope without room, and how much too early the request came for it.
        let short = charges.iter().find_map(|(scope, n)| {
            let rate = self.quotas.get(&scope.2).copied()?;
            let bucket = self.buckets.get(scope)?;
            let elapsed = bucket.refilled.map_or(1.0, |at| at.elapsed().as_secs_f64());
            let held = (bucket.tokens + rate * elapsed).min(bucket_capacity(rate, *n as f64));
            (held < *n as f64).then(|| (scope.clone(), (*n as f64 - held) / rate))
        });
        if let Some((scope, early)) = short {
            let record = self.throttled_scopes.entry((operation.to_owned(), scope)).or_default();
            record.requests += 1;
            record.early_seconds = record.early_seconds.max(early);
            return true;
        }
        for (scope, n) in charges {
            let taken = self.take_tokens(scope, *n as f64);
            debug_assert!(taken, "room was checked under the same lock");
        }
        self.record_spent(charges);
        false
    }

    fn record_spent(&mut self, charges: &[(QuotaScope, usize)]) {
        for (scope, n) in charges {
            *self.spent.entry(scope.clone()).or_default() += n;
        }
    }

    fn account_of(&self, access_key: &str) -> String {
        self.accounts.get(access_key).cloned().unwrap_or_else(|| DEFAULT_ACCOUNT.to_owned())
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
    /// CloudWatch: `/service/<service>/operation/<operation>`, CBOR bodies and errors.
    Cbor,
}

fn operation_of(parts: &hyper::http::request::Parts, body: &[u8]) -> (String, Protocol) {
    if let Some((_, operation)) = rpc_v2_operation(parts.uri.path()) {
        return (operation.to_owned(), Protocol::Cbor);
    }
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

/// The SigV4 credential scope of a request's `Authorization` header
/// (`... Credential=AKID/date/region/service/aws4_request`).
fn credential_scope(parts: &hyper::http::request::Parts) -> Vec<&str> {
    let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    header
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split(',').next())
        .map(|c| c.split('/').collect())
        .unwrap_or_default()
}

/// The access key id that signed the request.
fn access_key_of(parts: &hyper::http::request::Parts) -> String {
    credential_scope(parts).first().copied().unwrap_or("").to_owned()
}

/// The region the request was signed for.
fn region_of(parts: &hyper::http::request::Parts) -> String {
    credential_scope(parts).get(2).copied().unwrap_or("").to_owned()
}

/// What a request spends of which quotas: its own operation in its scope, and for
/// ReplicateKey two CreateKey requests of the replica's region: "A ReplicateKey operation counts
/// as one ReplicateKey request in the primary key's Region and two CreateKey requests in the
/// replica's Region" (https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html).
fn charges(account: &str, region: &str, operation: &str, body: &[u8]) -> Vec<(QuotaScope, usize)> {
    let mut charges = vec![((account.to_owned(), region.to_owned(), operation.to_owned()), 1)];
    if operation == "ReplicateKey"
        && let Ok(request) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(replica_region) = request["ReplicaRegion"].as_str()
    {
        charges.push(((account.to_owned(), replica_region.to_owned(), "CreateKey".to_owned()), 2));
    }
    charges
}

/// The account of the role an AssumeRole request names (`RoleArn=arn:aws:iam::ACCOUNT:role/...`,
/// form-encoded) and the access key id its answer hands out.
fn assumed_account(request: &[u8], response: &[u8]) -> Option<(String, String)> {
    let role = form_urlencoded::parse(request).find(|(name, _)| name == "RoleArn")?.1;
    let account = role.split(':').nth(4).filter(|a| !a.is_empty())?.to_owned();
    let answer = std::str::from_utf8(response).ok()?;
    let key = answer.split("<AccessKeyId>").nth(1)?.split("</AccessKeyId>").next()?.trim().to_owned();
    Some((key, account))
}

fn error_response(protocol: Protocol, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let json = format!(r#"{{"__type":"{code}","message":"{message}"}}"#);
    let (content_type, body) = match protocol {
        Protocol::Cbor => {
            let cbor = json_to_cbor(json.as_bytes()).expect("an error document");
            return Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header("content-type", "application/cbor")
                .header("smithy-protocol", "rpc-v2-cbor")
                .body(Full::new(Bytes::from(cbor)))
                .expect("error response");
        }
        Protocol::Json => ("application/x-amz-json-1.1", json),
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

/// Notes the key a CreateKey made, hides keys created moments ago from ListKeys, and describes
/// key material, rotation periods and AWS managed keys when asked to: each rewrite applies to
/// what the one before it left, so that they combine.
async fn rewrite(
    state: &Mutex<State>,
    operation: &str,
    request: &[u8],
    response: Response<Full<Bytes>>,
) -> Response<Full<Bytes>> {
    let (mut parts, body) = response.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let mut json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let mut guard = state.lock().expect("proxy state");
    let state = &mut *guard;
    if operation == "AssumeRole"
        && parts.status.is_success()
        && let Some((key, account)) = assumed_account(request, &bytes)
    {
        state.accounts.insert(key, account);
    }
    let now = Instant::now();
    let mut rewritten = false;
    if operation == "CreateKey"
        && let Some(id) = json.as_ref().and_then(|j| j["KeyMetadata"]["KeyId"].as_str())
    {
        state.created.push((id.to_owned(), now));
    }
    if let (Some(material), Some(body)) = (state.key_material.as_mut(), json.as_mut()) {
        material.record(operation, request, body);
        if let Some(answer) = material.answer(operation, body) {
            *body = answer;
            rewritten = true;
        }
    }
    if let Some(periods) = state.rotation_periods.as_mut() {
        periods.record(operation, request, parts.status.is_success());
        if let Some(answer) = json.as_ref().and_then(|j| periods.answer(operation, request, j)) {
            json = Some(answer);
            rewritten = true;
        }
    }
    if operation == "DescribeKey"
        && let Some(described) = json.as_mut()
        && described["KeyMetadata"]["KeyId"].as_str().is_some_and(|id| state.aws_managed.iter().any(|k| k == id))
    {
        described["KeyMetadata"]["KeyManager"] = serde_json::json!("AWS");
        rewritten = true;
    }
    if let (Some(hide), "ListKeys", Some(listing)) = (state.hide_new_keys, operation, json.as_mut()) {
        let hidden: Vec<&str> =
            state.created.iter().filter(|(_, at)| now.duration_since(*at) < hide).map(|(id, _)| id.as_str()).collect();
        if let Some(keys) = listing["Keys"].as_array_mut() {
            keys.retain(|k| k["KeyId"].as_str().is_none_or(|id| !hidden.contains(&id)));
        }
        rewritten = true;
    }
    match json.filter(|_| rewritten) {
        Some(json) => {
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
            Response::from_parts(parts, Full::new(Bytes::from(json.to_string())))
        }
        None => Response::from_parts(parts, Full::new(bytes)),
    }
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

/// One request of an operation in flight, counted until it is answered or dropped.
struct InFlight {
    state: Arc<Mutex<State>>,
    operation: String,
}

impl InFlight {
    fn start(state: &Arc<Mutex<State>>, operation: &str) -> InFlight {
        *state.lock().expect("proxy state").in_flight_by_operation.entry(operation.to_owned()).or_default() += 1;
        InFlight { state: state.clone(), operation: operation.to_owned() }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = state.in_flight_by_operation.get_mut(&self.operation) {
            *count = count.saturating_sub(1);
        }
    }
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
    let _in_flight = InFlight::start(&state, &operation);
    let (fault, throttled) = {
        let mut state = state.lock().expect("proxy state");
        let access_key = access_key_of(&parts);
        let account = state.account_of(&access_key);
        state.received.push((operation.clone(), access_key));
        if let Some(refused) = state.key_material.as_ref().and_then(|m| m.refuse(&operation, &body)) {
            return Ok(error_response(protocol, 400, refused.code, &refused.message));
        }
        let fault = state.take_fault(&operation, protocol, &account);
        let charges = charges(&account, &region_of(&parts), &operation, &body);
        let throttled = fault.is_none() && state.over_quota(&operation, &charges);
        if fault.as_ref().is_some_and(Fault::reaches_kms) {
            state.record_spent(&charges);
        }
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
        Some(Fault::Hold(gate)) => gate.pass().await,
        Some(Fault::Late(delay)) => tokio::time::sleep(*delay).await,
        _ => {}
    }
    let (parts, body) = match protocol {
        Protocol::Cbor => cbor_request(parts, &body, &operation)?,
        _ => (parts, body),
    };
    if operation == "PutMetricFilter" {
        replace_filter(upstream, &parts, &body).await?;
    }
    let response = forward(upstream, parts, body.clone()).await.map_err(|_| ())?;
    let response = rewrite(&state, &operation, &body, response).await;
    let response = match protocol {
        Protocol::Cbor => cbor_response(response).await?,
        _ => response,
    };
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

/// CloudWatch's CBOR request as the JSON 1.0 request moto parses.
fn cbor_request(
    mut parts: hyper::http::request::Parts,
    body: &[u8],
    operation: &str,
) -> Result<(hyper::http::request::Parts, Bytes), ()> {
    let service = rpc_v2_operation(parts.uri.path()).map(|(service, _)| service.to_owned()).ok_or(())?;
    let json = cbor_to_json(body).map_err(|_| ())?;
    parts.uri = hyper::Uri::from_static("/");
    let headers = &mut parts.headers;
    headers.remove("smithy-protocol");
    headers.remove(hyper::header::ACCEPT);
    headers.insert(hyper::header::CONTENT_TYPE, "application/x-amz-json-1.0".parse().map_err(|_| ())?);
    headers.insert("x-amz-target", format!("{service}.{operation}").parse().map_err(|_| ())?);
    headers.insert(hyper::header::CONTENT_LENGTH, json.len().into());
    Ok((parts, Bytes::from(json)))
}

/// moto's JSON answer as the CBOR answer the SDK reads.
async fn cbor_response(response: Response<Full<Bytes>>) -> Result<Response<Full<Bytes>>, ()> {
    let (mut parts, body) = response.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let cbor = json_to_cbor(&bytes).map_err(|_| ())?;
    parts.headers.insert(hyper::header::CONTENT_TYPE, "application/cbor".parse().map_err(|_| ())?);
    parts.headers.insert("smithy-protocol", "rpc-v2-cbor".parse().map_err(|_| ())?);
    parts.headers.insert(hyper::header::CONTENT_LENGTH, cbor.len().into());
    Ok(Response::from_parts(parts, Full::new(Bytes::from(cbor))))
}

/// CloudWatch Logs' PutMetricFilter creates or replaces; moto appends a second filter of the
/// same name, so the proxy deletes the old one first.
async fn replace_filter(upstream: SocketAddr, parts: &hyper::http::request::Parts, body: &[u8]) -> Result<(), ()> {
    let request: serde_json::Value = serde_json::from_slice(body).map_err(|_| ())?;
    let delete =
        serde_json::json!({ "logGroupName": request["logGroupName"], "filterName": request["filterName"] }).to_string();
    let mut request = Request::builder().method("POST").uri("/").body(Full::new(Bytes::new())).map_err(|_| ())?;
    *request.headers_mut() = parts.headers.clone();
    let headers = request.headers_mut();
    headers.insert("x-amz-target", "Logs_20140328.DeleteMetricFilter".parse().map_err(|_| ())?);
    headers.insert(hyper::header::CONTENT_LENGTH, delete.len().into());
    let (parts, _) = request.into_parts();
    forward(upstream, parts, Bytes::from(delete)).await.map(|_| ()).map_err(|_| ())
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
        let rule = Rule { operation: operation.to_owned(), account: None, fault, skip, remaining: times };
        self.state.lock().expect("proxy state").rules.push(rule);
    }

    /// Like `inject`, for requests signed with credentials of `account` only.
    pub fn inject_for_account(&self, account: &str, operation: &str, fault: Fault, times: usize) {
        let rule = Rule {
            operation: operation.to_owned(),
            account: Some(account.to_owned()),
            fault,
            skip: 0,
            remaining: times,
        };
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

    /// From now on, keys of imported material stay `PendingImport`, keys in the custom key
    /// `stores` carry their store, and key metadata lists the algorithms KMS lists (moto does
    /// neither): see `key_material.rs`.
    pub fn describe_key_material(&self, stores: &[CustomKeyStore]) {
        self.state.lock().expect("proxy state").key_material = Some(KeyMaterialAsKms::new(stores));
    }

    /// From now on, DescribeKey reports `key_id` as KMS reports an AWS managed key (`KeyManager:
    /// AWS`, the keys behind `alias/aws/...`), which moto never does.
    pub fn report_aws_managed(&self, key_id: &str) {
        self.state.lock().expect("proxy state").aws_managed.push(key_id.to_owned());
    }

    /// Throttles each operation beyond `per_second` requests per second in each account and
    /// region, as KMS does.
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

    /// Quota spent by the requests the proxy let through, per (account, region, operation);
    /// a ReplicateKey's two CreateKey requests of its replica's region included.
    pub fn spent(&self) -> BTreeMap<QuotaScope, usize> {
        self.state.lock().expect("proxy state").spent.clone()
    }

    /// The accounts the proxy has seen credentials of through AssumeRole.
    pub fn assumed_accounts(&self) -> BTreeSet<String> {
        self.state.lock().expect("proxy state").accounts.values().cloned().collect()
    }

    pub fn throttled(&self) -> BTreeMap<String, usize> {
        self.state.lock().expect("proxy state").throttled.clone()
    }

    /// Throttles by (the request's operation, the (account, region, operation) whose bucket had
    /// no room for it): a ReplicateKey refused for its replica region's CreateKey names that.
    pub fn throttled_scopes(&self) -> BTreeMap<(String, QuotaScope), Throttles> {
        self.state.lock().expect("proxy state").throttled_scopes.clone()
    }

    /// Requests that reached the proxy and have not been answered: a killed client's requests
    /// stay in flight until they land.
    pub fn in_flight(&self) -> usize {
        self.state.lock().expect("proxy state").in_flight
    }

    /// Requests of `operation` received and not answered yet.
    pub fn in_flight_of(&self, operation: &str) -> usize {
        self.state.lock().expect("proxy state").in_flight_by_operation.get(operation).copied().unwrap_or(0)
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

/// A bucket holds one second of quota, as KMS allows bursts, and at least what one request
/// spends: a quota scaled below KMS's (the fleet benchmarks' `--quota-scale`) must still let a
/// ReplicateKey spend its two CreateKey at once.
fn bucket_capacity(rate: f64, request: f64) -> f64 {
    rate.max(request)
}

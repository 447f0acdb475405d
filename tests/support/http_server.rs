//! A small loopback HTTP/1.1 server for the integration tests of the
//! `--http` step, on std only (plus `serde_json` for the `/script` route).
//!
//! [`TestServer::start`] binds `127.0.0.1:0` and serves each accepted TCP
//! connection on its own thread, with keep-alive, until the server is
//! dropped. Request bodies may come with `Content-Length` or with
//! `Transfer-Encoding: chunked`; every answer has a `Content-Length` and a
//! `Content-Type` (`application/json` unless stated). Every request is
//! logged, with its body, before it is answered ([`TestServer::requests`]).
//!
//! Routes (the method is ignored):
//! - `/echo`: 200 with the request body verbatim.
//! - `/delay/MS`: sleeps MS milliseconds, then as `/echo`.
//! - `/status/CODE`: that status, body `{"error":"status CODE"}`.
//! - `/headers`: 200, a JSON object of the request headers (lowercased).
//! - `/script`: the body is a JSON object with an `"id"` (any JSON value)
//!   and a `"script"` of comma-separated steps; the n-th request (from 0)
//!   for an id gets step `min(n, len - 1)`. Steps: `200` (echo), any other
//!   3-digit code (that status), `429:S` (429 with `Retry-After: S`), `429`,
//!   `close` (drop the connection unanswered), `hang` (sleep 10 s, then
//!   echo), `text` (200 `text/plain` `this is not json`), `null` (200
//!   `null`), `array` (200 `[BODY,BODY]`) and `label:X` (200, the request
//!   object with `"label":"X"` added).
//! - anything else: 404 `{"error":"no route"}`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running test server; it stops accepting, and shuts down its open
/// connections, when dropped.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
}

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Logged {
    /// When the request's head was fully read.
    pub at: Instant,
    /// The method, as sent.
    pub method: String,
    /// The path and query, as sent (e.g. `/delay/50`).
    pub path: String,
    /// The headers, names lowercased, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it was sent chunked.
    pub body: Vec<u8>,
    /// The accepted TCP connection it came on, numbered from 0.
    pub connection: u64,
}

#[derive(Default)]
struct State {
    stop: AtomicBool,
    connections: AtomicU64,
    log: Mutex<Vec<Logged>>,
    attempts: Mutex<HashMap<String, usize>>,
    open: Mutex<HashMap<u64, TcpStream>>,
}

/// What to do with a request.
enum Answer {
    Reply { status: u16, content_type: &'static str, extra: Vec<(String, String)>, body: Vec<u8> },
    Close,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and serves in background threads until dropped
    /// (or the process exits).
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test server");
        let addr = listener.local_addr().expect("the test server's address");
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let connection = shared.connections.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = stream.try_clone() {
                    shared.open.lock().unwrap().insert(connection, clone);
                }
                let state = Arc::clone(&shared);
                thread::spawn(move || serve(stream, connection, &state));
            }
        });
        TestServer { addr, state }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Logged> {
        self.state.log.lock().unwrap().clone()
    }

    /// How many TCP connections were accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Ok(open) = self.state.open.lock() {
            for stream in open.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Serves the requests of one connection until the client closes it, asks
/// for `Connection: close`, or a step closes it.
fn serve(stream: TcpStream, connection: u64, state: &State) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader, connection) {
        let close = request.headers.iter().any(|(name, value)| {
            name == "connection" && value.to_ascii_lowercase().contains("close")
        });
        state.log.lock().unwrap().push(request.clone());
        let Answer::Reply { status, content_type, extra, body } = route(&request, state) else {
            break;
        };
        let mut out = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
            reason(status),
            body.len()
        );
        for (name, value) in &extra {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&body);
        if writer.write_all(&bytes).and_then(|()| writer.flush()).is_err() || close {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
    state.open.lock().unwrap().remove(&connection);
}

/// Reads one request: `None` at end of stream or on a malformed request.
fn read_request(reader: &mut BufReader<TcpStream>, connection: u64) -> Option<Logged> {
    let request_line = read_line(reader)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let at = Instant::now();
    let header = |wanted: &str| headers.iter().find(|(n, _)| n == wanted).map(|(_, v)| v.as_str());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let size_line = read_line(reader)?;
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !read_line(reader)?.is_empty() {}
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).ok()?;
            read_line(reader)?;
        }
    } else if let Some(length) = header("content-length") {
        body.resize(length.parse().ok()?, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Logged { at, method, path, headers, body, connection })
}

/// One CRLF- (or LF-) terminated line without its terminator; `None` at
/// end of stream or on an error.
fn read_line(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line).ok()? == 0 {
        return None;
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Some(String::from_utf8_lossy(&line).into_owned())
}

fn route(request: &Logged, state: &State) -> Answer {
    let path = request.path.split('?').next().unwrap_or("");
    if path == "/echo" {
        return json(200, request.body.clone());
    }
    if path == "/headers" {
        let map: serde_json::Map<String, serde_json::Value> =
            request.headers.iter().map(|(n, v)| (n.clone(), v.as_str().into())).collect();
        return json(200, serde_json::Value::Object(map).to_string().into_bytes());
    }
    if path == "/script" {
        return script(request, state);
    }
    if let Some(ms) = path.strip_prefix("/delay/").and_then(|ms| ms.parse().ok()) {
        thread::sleep(Duration::from_millis(ms));
        return json(200, request.body.clone());
    }
    if let Some(code) = path.strip_prefix("/status/").and_then(|c| c.parse().ok()) {
        if (100..1000).contains(&code) {
            return status(code);
        }
    }
    json(404, br#"{"error":"no route"}"#.to_vec())
}

fn script(request: &Logged, state: &State) -> Answer {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(&request.body) else {
        return json(400, br#"{"error":"the body is not a JSON object"}"#.to_vec());
    };
    let Some(serde_json::Value::String(script)) = object.get("script") else {
        return json(400, br#"{"error":"no \"script\" string"}"#.to_vec());
    };
    let id = object.get("id").map_or_else(|| "null".to_string(), ToString::to_string);
    let attempt = {
        let mut attempts = state.attempts.lock().unwrap();
        let count = attempts.entry(id).or_insert(0);
        *count += 1;
        *count - 1
    };
    let steps: Vec<&str> = script.split(',').map(str::trim).collect();
    let step = steps[attempt.min(steps.len() - 1)];
    let echo = || request.body.clone();
    match step {
        "200" => json(200, echo()),
        "close" => Answer::Close,
        "hang" => {
            thread::sleep(Duration::from_secs(10));
            json(200, echo())
        }
        "text" => Answer::Reply {
            status: 200,
            content_type: "text/plain",
            extra: Vec::new(),
            body: b"this is not json".to_vec(),
        },
        "null" => json(200, b"null".to_vec()),
        "array" => json(200, [&b"["[..], &echo(), b",", &echo(), b"]"].concat()),
        "429" => json(429, br#"{"error":"rate limited"}"#.to_vec()),
        _ => {
            if let Some(seconds) = step.strip_prefix("429:") {
                return Answer::Reply {
                    status: 429,
                    content_type: "application/json",
                    extra: vec![("Retry-After".to_string(), seconds.to_string())],
                    body: br#"{"error":"rate limited"}"#.to_vec(),
                };
            }
            if let Some(label) = step.strip_prefix("label:") {
                let mut labelled = object.clone();
                labelled.insert("label".to_string(), label.into());
                return json(200, serde_json::Value::Object(labelled).to_string().into_bytes());
            }
            match step.parse::<u16>() {
                Ok(code) if step.len() == 3 => status(code),
                _ => {
                    let error = serde_json::json!({ "error": format!("unknown step {step}") });
                    json(400, error.to_string().into_bytes())
                }
            }
        }
    }
}

fn json(status: u16, body: Vec<u8>) -> Answer {
    Answer::Reply { status, content_type: "application/json", extra: Vec::new(), body }
}

/// `CODE` with body `{"error":"status CODE"}` (empty for 204 and 304,
/// which may not have a body).
fn status(code: u16) -> Answer {
    let body = if matches!(code, 204 | 304) {
        Vec::new()
    } else {
        format!(r#"{{"error":"status {code}"}}"#).into_bytes()
    };
    json(code, body)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

//! Checks of the loopback test server in `tests/support/http_server.rs`,
//! with raw HTTP/1.1 requests over `std::net::TcpStream`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::http_server::TestServer;

/// A raw client connection to the server.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

/// A parsed response: status, headers (names lowercased) and body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl Client {
    fn connect(server: &TestServer) -> Client {
        let url = server.url("");
        let addr = url.strip_prefix("http://").expect("an http URL");
        let writer = TcpStream::connect(addr).expect("connect");
        writer.set_read_timeout(Some(Duration::from_secs(5))).expect("set a read timeout");
        let reader = BufReader::new(writer.try_clone().expect("clone the stream"));
        Client { writer, reader }
    }

    /// Sends a request with a `Content-Length` body and the extra header
    /// lines `extra` (each ending in CRLF).
    fn send(&mut self, method: &str, path: &str, extra: &str, body: &str) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}Content-Length: {}\r\n\r\n",
            body.len()
        );
        // One write: a second small one would wait on Nagle's algorithm.
        self.writer.write_all((head + body).as_bytes()).expect("send the request");
    }

    /// Reads one response, or `None` when the server closed the connection.
    fn receive(&mut self) -> Option<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let status = line.split_whitespace().nth(1).expect("a status").parse().expect("a code");
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("a header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("a header");
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        let length = headers.iter().find(|(n, _)| n == "content-length").expect("content-length");
        let mut body = vec![0; length.1.parse().expect("a length")];
        self.reader.read_exact(&mut body).expect("the body");
        Some(Response { status, headers, body })
    }

    fn request(&mut self, method: &str, path: &str, body: &str) -> Response {
        self.send(method, path, "", body);
        self.receive().expect("a response")
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = TestServer::start();
    let mut client = Client::connect(&server);

    let echo = client.request("POST", "/echo", r#"{"a":1}"#);
    assert_eq!((echo.status, echo.body.as_slice()), (200, &br#"{"a":1}"#[..]));
    assert_eq!(echo.header("content-type"), Some("application/json"));

    // A chunked body, with a chunk extension and a trailer.
    let chunked = "POST /echo?x=1 HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
    client.writer.write_all(chunked.as_bytes()).expect("send chunked");
    let answer = client.receive().expect("an answer to the chunked request");
    assert_eq!((answer.status, answer.body.as_slice()), (200, &b"hello world"[..]));

    client.send("GET", "/headers", "X-Probe: yes\r\nConnection: close\r\n", "");
    let headers = client.receive().expect("an answer to /headers");
    let object: serde_json::Value = serde_json::from_slice(&headers.body).expect("JSON");
    assert_eq!(object["x-probe"], "yes");
    assert!(client.receive().is_none(), "Connection: close must close the connection");

    let missing = Client::connect(&server).request("GET", "/nowhere", "");
    assert_eq!((missing.status, missing.body.as_slice()), (404, &br#"{"error":"no route"}"#[..]));

    assert_eq!(server.connections(), 2);
    let log = server.requests();
    let summary: Vec<_> =
        log.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.connection)).collect();
    assert_eq!(
        summary,
        [
            ("POST", "/echo", 0),
            ("POST", "/echo?x=1", 0),
            ("GET", "/headers", 0),
            ("GET", "/nowhere", 1)
        ]
    );
    assert_eq!(log[1].body, b"hello world");
    assert!(log[2].headers.contains(&("x-probe".to_string(), "yes".to_string())));
}

#[test]
fn delay_and_status_routes() {
    let server = TestServer::start();
    let mut client = Client::connect(&server);
    let started = Instant::now();
    let delayed = client.request("POST", "/delay/80", "late");
    assert!(started.elapsed() >= Duration::from_millis(80), "{:?}", started.elapsed());
    assert_eq!((delayed.status, delayed.body.as_slice()), (200, &b"late"[..]));

    let failed = client.request("GET", "/status/503", "");
    assert_eq!((failed.status, failed.body.as_slice()), (503, &br#"{"error":"status 503"}"#[..]));
    assert_eq!(server.connections(), 1);
}

#[test]
fn script_steps_follow_the_attempts_of_each_id() {
    let server = TestServer::start();
    let mut client = Client::connect(&server);
    let body = |id: &str, script: &str| format!(r#"{{"id":{id},"script":"{script}"}}"#);
    let status = |client: &mut Client, id: &str, script: &str| {
        client.request("POST", "/script", &body(id, script)).status
    };

    assert_eq!(status(&mut client, "1", "500,200"), 500);
    assert_eq!(status(&mut client, r#""1""#, "503,200"), 503, "1 and \"1\" are different ids");
    assert_eq!(status(&mut client, "1", "500,200"), 200);
    assert_eq!(status(&mut client, "1", "500,200"), 200, "the last step repeats");
    assert_eq!(status(&mut client, "2", "500,200"), 500, "each id counts its own attempts");

    let limited = client.request("POST", "/script", &body("3", "429:2"));
    assert_eq!((limited.status, limited.header("retry-after")), (429, Some("2")));
    assert_eq!(limited.body, br#"{"error":"rate limited"}"#);
    let bare = client.request("POST", "/script", &body("4", "429"));
    assert_eq!((bare.status, bare.header("retry-after")), (429, None));

    let echoed = body("5", "200");
    assert_eq!(client.request("POST", "/script", &echoed).body, echoed.as_bytes());
    let text = client.request("POST", "/script", &body("6", "text"));
    assert_eq!(text.header("content-type"), Some("text/plain"));
    assert_eq!(text.body, b"this is not json");
    assert_eq!(client.request("POST", "/script", &body("7", "null")).body, b"null");
    let sent = body("8", "array");
    assert_eq!(
        client.request("POST", "/script", &sent).body,
        format!("[{sent},{sent}]").as_bytes()
    );
    let labelled = client.request("POST", "/script", &body("9", "label:x"));
    let value: serde_json::Value = serde_json::from_slice(&labelled.body).expect("JSON");
    assert_eq!((value["id"].clone(), value["label"].clone()), (9.into(), "x".into()));
}

#[test]
fn close_drops_the_connection_and_hang_blocks_only_its_own() {
    let server = TestServer::start();
    let mut client = Client::connect(&server);
    client.send("POST", "/script", "", r#"{"id":1,"script":"close"}"#);
    assert!(client.receive().is_none(), "the connection must close unanswered");
    assert_eq!(server.requests()[0].body, br#"{"id":1,"script":"close"}"#, "logged all the same");

    let mut hanging = Client::connect(&server);
    hanging.send("POST", "/script", "", r#"{"id":2,"script":"hang"}"#);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.requests().len() < 2 {
        assert!(Instant::now() < deadline, "the hanging request never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    let answer = Client::connect(&server).request("POST", "/echo", "quick");
    assert_eq!(answer.body, b"quick");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(server.connections(), 3);
}

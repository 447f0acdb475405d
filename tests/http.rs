//! `--http URL`: a request per record against a loopback test server
//! (`support::http_server`): output in input order whatever the answers'
//! order, retries with `Retry-After` and a step-wide cool-down after a
//! 429, timeouts, closed connections, answers that are not JSON,
//! `--on-error` per record, `--http-request` / `--http-response`, the
//! rate limit as the server sees it, replicas and a vote, resume, and
//! secrets kept out of every message, file and statistic.

#![cfg(feature = "http")]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use support::http_server::TestServer;

fn fanfold(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).args(args);
    cmd
}

/// Runs fanfold on `stdin` (NDJSON); returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut all = vec!["--input-format", "ndjson"];
    all.extend_from_slice(args);
    let out = fanfold(&all).write_stdin(stdin).output().expect("fanfold runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8(out.stderr).expect("UTF-8"),
    )
}

fn run_ok(args: &[&str], stdin: &str) -> String {
    let (code, out, err) = run(args, stdin);
    assert!(code == 0 && err.is_empty(), "fanfold {args:?}: status {code}, stderr: {err}");
    out
}

/// `n` records `{"id":i,"script":SCRIPT(i)}`, one a line.
fn records(n: usize, script: impl Fn(usize) -> String) -> String {
    (0..n).map(|i| format!("{{\"id\":{i},\"script\":\"{}\"}}\n", script(i))).collect()
}

#[test]
fn answers_replace_records_in_input_order_whatever_finishes_first() {
    let server = TestServer::start();
    let input: String =
        (0..120).map(|i| format!("{{\"id\":{i},\"ms\":{}}}\n", (i * 37) % 40)).collect();
    // Each record goes to /delay/MS with its own delay: answers come back
    // out of order, the output does not.
    let request = format!("{{url: (\"{}\" + (.ms | tostring)), body: .}}", server.url("/delay/"));
    for (threads, concurrency, chunk) in [("1", "1", "500"), ("4", "64", "7"), ("2", "16", "1")] {
        let started = Instant::now();
        let out = run_ok(
            &[
                "--http",
                &server.url("/echo"),
                "--http-request",
                &request,
                "--threads",
                threads,
                "--concurrency",
                concurrency,
                "--chunk-size",
                chunk,
            ],
            &input,
        );
        assert_eq!(out, input, "threads {threads}, concurrency {concurrency}, chunk {chunk}");
        if concurrency == "64" {
            // 120 requests of up to 40 ms each, 64 at once: well under
            // their sum (about 2.3 s).
            assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
        }
    }
    // Keep-alive: far fewer connections than requests.
    let n = server.requests().len();
    assert_eq!(n, 360);
    assert!(server.connections() < 120, "{} connections for {n} requests", server.connections());
}

#[test]
fn null_drops_an_array_fans_out_and_csv_goes_in_and_out() {
    let server = TestServer::start();
    let input = records(3, |i| ["null", "array", "200"][i].to_string());
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("stats.json");
    let out = run_ok(
        &["--http", &server.url("/script"), "--stats-json", stats.to_str().expect("UTF-8")],
        &input,
    );
    // The record its answer drops counts as filtered: every record read is
    // written, filtered or rejected.
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("JSON");
    assert_eq!(
        (stats["records_read"].as_u64(), stats["records_filtered"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(stats["records_written"], 3);
    let fanned = "{\"id\":1,\"script\":\"array\"}\n";
    assert_eq!(out, format!("{fanned}{fanned}{{\"id\":2,\"script\":\"200\"}}\n"));
    // CSV in, CSV out: the record is sent as a JSON object.
    let out = fanfold(&["--http", &server.url("/echo"), "--map", ".n = .n * 2"])
        .write_stdin("city,n\noslo,1\nlima,2\n")
        .output()
        .expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "city,n\noslo,2\nlima,4\n");
    let mut bodies: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path == "/echo")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    // The two requests run at once: they arrive in either order.
    bodies.sort();
    assert_eq!(bodies, ["{\"city\":\"lima\",\"n\":2}", "{\"city\":\"oslo\",\"n\":1}"]);
    let post = &server.requests()[0];
    assert_eq!(post.method, "POST");
    assert!(post.headers.contains(&("content-type".into(), "application/json".into())));
}

#[test]
fn request_and_response_expressions_shape_the_call() {
    let server = TestServer::start();
    let input = "{\"id\":7,\"text\":\"hello\"}\n{\"id\":8,\"text\":\"skip me\"}\n";
    let out = run_ok(
        &[
            "--http",
            &server.url("/script"),
            "--http-request",
            r#"select(.id != 8) | {method: "PUT", headers: {"X-Id": (.id | tostring)}, body: {id, script: "label:greeting"}}"#,
            "--http-response",
            ".record + {label: .body.label, status, type: .headers[\"content-type\"]}",
        ],
        input,
    );
    assert_eq!(
        out,
        "{\"id\":7,\"text\":\"hello\",\"label\":\"greeting\",\"status\":200,\"type\":\"application/json\"}\n"
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "the record with no request output is skipped");
    assert_eq!(reqs[0].method, "PUT");
    assert!(reqs[0].headers.contains(&("x-id".into(), "7".into())));
    // A body that is not JSON reaches --http-response as a string.
    let out = run_ok(
        &["--http", &server.url("/script"), "--http-response", "{id: .record.id, got: .body}"],
        &records(1, |_| "text".into()),
    );
    assert_eq!(out, "{\"id\":0,\"got\":\"this is not json\"}\n");
}

#[test]
fn failures_are_retried_then_set_aside_one_record_at_a_time() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.ndjson");
    let stats = dir.path().join("stats.json");
    let scripts = ["500,503,200", "404", "close,200", "text", "502,502,502,502", "200"];
    let input = records(scripts.len(), |i| scripts[i].to_string());
    let (code, out, err) = run(
        &[
            "--http",
            &server.url("/script"),
            "--retries",
            "3",
            "--on-error",
            "reject",
            "--rejects",
            rejects.to_str().expect("UTF-8 path"),
            "--stats-json",
            stats.to_str().expect("UTF-8 path"),
        ],
        &input,
    );
    // Exit status 3: the run finished with rejects.
    assert_eq!(code, 3, "{err}");
    assert_eq!(
        out,
        "{\"id\":0,\"script\":\"500,503,200\"}\n{\"id\":2,\"script\":\"close,200\"}\n{\"id\":5,\"script\":\"200\"}\n"
    );
    assert!(err.contains("3 of 6 records rejected"), "{err}");
    let rejects = std::fs::read_to_string(&rejects).expect("rejects written");
    let rejects: Vec<serde_json::Value> =
        rejects.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(rejects.len(), 3);
    // 404 is not retried; a body that is not JSON is not either; 502 is,
    // 3 times.
    assert_eq!(rejects[0]["kind"], "http");
    assert_eq!(rejects[0]["line"], 2);
    assert_eq!(rejects[0]["status"], 404);
    assert_eq!(rejects[0]["attempts"], 1);
    assert_eq!(rejects[0]["body"], "{\"error\":\"status 404\"}");
    assert_eq!(rejects[0]["record"], "{\"id\":1,\"script\":\"404\"}");
    let m = rejects[0]["message"].as_str().expect("message");
    assert!(m.starts_with("<stdin>:2: --http http://127.0.0.1:"), "{m}");
    assert!(m.contains("/script failed after 1 attempt: HTTP 404 Not Found"), "{m}");
    assert_eq!(rejects[1]["status"], 200);
    assert_eq!(rejects[1]["attempts"], 1);
    assert!(rejects[1]["message"].as_str().unwrap_or_default().contains("the answer is not JSON"));
    assert_eq!(rejects[2]["status"], 502);
    assert_eq!(rejects[2]["attempts"], 4);
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("JSON");
    let h = &stats["http"];
    assert_eq!(h["records"], 6);
    assert_eq!(h["requests"], 3 + 1 + 2 + 1 + 4 + 1);
    assert_eq!(h["retries"], 2 + 1 + 3);
    assert_eq!(h["failed_records"], 3);
    assert_eq!(h["connection_errors"], 1);
    assert_eq!(h["statuses"]["502"], 4, "{h}");
    assert_eq!(h["statuses"]["200"], 4, "{h}");
    assert!(h["latency_p95_secs"].as_f64().is_some_and(|p| p > 0.0), "{h}");
    // Without --on-error, the first failure in input order stops the run.
    let (code, _, err) = run(&["--http", &server.url("/status/404")], "{\"a\":1}\n{\"a\":2}\n");
    assert_eq!(code, 1);
    assert!(err.contains("<stdin>:1: --http") && err.contains("HTTP 404 Not Found"), "{err}");
}

#[test]
fn timeouts_end_an_attempt_and_a_dead_port_is_a_connection_error() {
    let server = TestServer::start();
    let started = Instant::now();
    let (code, _, err) = run(
        &["--http", &server.url("/script"), "--timeout", "200ms", "--retries", "1"],
        &records(1, |_| "hang".into()),
    );
    assert_eq!(code, 1);
    assert!(err.contains("failed after 2 attempts: timed out after 200ms"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // A port nothing listens on (bound, then closed).
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let url = format!("http://{port}/x");
    let (code, _, err) = run(&["--http", &url], "{\"a\":1}\n");
    assert_eq!(code, 1);
    assert!(err.contains("failed after 1 attempt: cannot connect"), "{err}");
}

#[test]
fn a_429_pauses_every_request_for_its_retry_after() {
    let server = TestServer::start();
    // Record 0 is told to come back in 1 s; the others wait with it.
    let input = records(12, |i| if i == 0 { "429:1,200".into() } else { "200".into() });
    let started = Instant::now();
    let out = run_ok(
        &[
            "--http",
            &server.url("/script"),
            "--retries",
            "2",
            "--concurrency",
            "2",
            "--chunk-size",
            "1",
        ],
        &input,
    );
    assert_eq!(out, input);
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
    let reqs = server.requests();
    let limited =
        reqs.iter().position(|r| String::from_utf8_lossy(&r.body).contains("429")).expect("logged");
    let t0 = reqs[limited].at;
    // What was in flight with it may arrive just after; nothing starts in
    // the second that follows.
    let during: Vec<u128> = reqs
        .iter()
        .filter(|r| {
            r.at > t0 + Duration::from_millis(100) && r.at < t0 + Duration::from_millis(900)
        })
        .map(|r| (r.at - t0).as_millis())
        .collect();
    assert!(during.is_empty(), "requests started during the cool-down at {during:?} ms");
}

#[test]
fn rate_100_per_second_never_starts_more_than_110_in_any_second() {
    let server = TestServer::start();
    let input = records(260, |_| "200".into());
    let started = Instant::now();
    let out = run_ok(
        &["--http", &server.url("/script"), "--rate", "100/s", "--concurrency", "64"],
        &input,
    );
    assert_eq!(out, input);
    let took = started.elapsed();
    // 260 requests at 100/s with a burst of 5: at least 2.5 s.
    assert!(took >= Duration::from_millis(2500), "{took:?}");
    let mut at: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    at.sort();
    let most = (0..at.len())
        .map(|i| at[i..].iter().take_while(|t| **t < at[i] + Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0);
    assert!(most <= 110, "{most} requests started within one second");
    assert!(most >= 90, "the rate is used: {most} in the busiest second");
}

#[test]
fn replicas_vote_on_a_field() {
    let server = TestServer::start();
    // The three requests of a record get a, b, a in some order.
    let input = records(4, |_| "label:a,label:b,label:a".into());
    let out = run_ok(
        &[
            "--http",
            &server.url("/script"),
            "--replicas",
            "3",
            "--vote",
            "label",
            "--http-response",
            "{id: .record.id, label: .body.label}",
        ],
        &input,
    );
    let expected: String = (0..4)
        .map(|i| format!("{{\"id\":{i},\"label\":\"a\",\"label_agreement\":0.6666666666666666}}\n"))
        .collect();
    assert_eq!(out, expected);
    assert_eq!(server.requests().len(), 12);
}

#[test]
fn secrets_never_leave_the_request() {
    let server = TestServer::start();
    let secret = "sk-test-0123456789abcdef";
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |n: &str| dir.path().join(n).to_str().expect("UTF-8").to_string();
    std::fs::write(
        path("in.ndjson"),
        records(3, |i| if i == 1 { "401".into() } else { "200".into() }),
    )
    .expect("write");
    let args = |extra: &[&str]| -> Vec<String> {
        let on_error = if extra.contains(&"fail") { "fail" } else { "reject" };
        let extra: Vec<&str> = extra.iter().copied().filter(|a| *a != "fail").collect();
        let mut a: Vec<String> = [
            path("in.ndjson").as_str(),
            "--http",
            &server.url("/headers"),
            "--http-header",
            "Authorization: Bearer $FANFOLD_TEST_KEY",
            "--http-header",
            "X-Key: ${FANFOLD_TEST_KEY}",
            // The answer echoes the headers: the expression fails on the
            // second record with a message that quotes the key.
            "--http-response",
            r#"if .record.id == 1 then error("bad key " + .body.authorization) else .record end"#,
            "--on-error",
            on_error,
            "--rejects",
            &path("rejects.ndjson"),
            "--stats-json",
            &path("stats.json"),
            "--journal",
            &path("journal"),
        ]
        .map(String::from)
        .into();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let out = fanfold(&[]).args(args(&[])).env("FANFOLD_TEST_KEY", secret).output().expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let sent = server.requests();
    assert!(sent
        .iter()
        .all(|r| r.headers.contains(&("authorization".into(), format!("Bearer {secret}")))));
    assert!(sent.iter().all(|r| r.headers.contains(&("x-key".into(), secret.into()))));
    let rejects = std::fs::read_to_string(path("rejects.ndjson")).expect("rejects");
    assert!(rejects.contains("bad key <redacted>"), "{rejects}");
    // --explain, and a run that keeps its journal (it fails: the journal
    // stays), and a run with the variable missing.
    let explain = fanfold(&[])
        .args(args(&["--explain"]))
        .env("FANFOLD_TEST_KEY", secret)
        .output()
        .expect("runs");
    let explained = String::from_utf8_lossy(&explain.stdout).into_owned();
    assert!(explained.contains("Authorization: <redacted>"), "{explained}");
    let _ = std::fs::remove_file(path("journal"));
    let kept =
        fanfold(&[]).args(args(&["fail"])).env("FANFOLD_TEST_KEY", secret).output().expect("runs");
    assert_eq!(kept.status.code(), Some(1));
    let failed = String::from_utf8_lossy(&kept.stderr).into_owned();
    assert!(failed.contains("<redacted>"), "{failed}");
    let journal = std::fs::read(path("journal")).expect("the journal is kept after a failure");
    std::fs::remove_file(path("journal")).expect("remove");
    let missing =
        fanfold(&[]).args(args(&[])).env_remove("FANFOLD_TEST_KEY").output().expect("runs");
    let missing = String::from_utf8_lossy(&missing.stderr).into_owned();
    assert!(missing.contains("`FANFOLD_TEST_KEY` is not set"), "{missing}");
    let stats = std::fs::read(path("stats.json")).expect("stats");
    for (what, bytes) in [
        ("rejects", rejects.as_bytes()),
        ("stats", &stats[..]),
        ("explain", &explain.stdout[..]),
        ("explain stderr", &explain.stderr[..]),
        ("stderr", &out.stderr[..]),
        ("failed stderr", kept.stderr.as_slice()),
        ("journal", &journal[..]),
        ("missing", missing.as_bytes()),
    ] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(secret) && !text.contains("0123456789abcdef"), "{what}: {text}");
    }
}

#[test]
fn a_killed_run_resumes_without_asking_again() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |n: &str| dir.path().join(n).to_str().expect("UTF-8").to_string();
    // Records from 40 on hang on their first request, and answer on the
    // next: the first run is killed while they hang.
    let input = records(80, |i| if i >= 40 { "hang,200".into() } else { "200".into() });
    std::fs::write(path("in.ndjson"), &input).expect("write");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            path("in.ndjson").as_str(),
            "--http",
            &server.url("/script"),
            "--chunk-size",
            "10",
            "--journal",
            &path("journal"),
            "-o",
            &path("out.ndjson"),
        ]
        .map(String::from)
        .into();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_fanfold"))
        .args(args(&[]))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let started = Instant::now();
    let asked = |below: usize| {
        server
            .requests()
            .iter()
            .filter(|r| {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                v["id"].as_u64().is_some_and(|id| (id as usize) < below)
            })
            .count()
    };
    while asked(40) < 40 || server.requests().len() < 41 {
        assert!(started.elapsed() < Duration::from_secs(20), "the first run did not get going");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The done chunks reach the journal as they finish.
    std::thread::sleep(Duration::from_millis(500));
    first.kill().expect("kill");
    let _ = first.wait();
    assert!(!Path::new(&path("out.ndjson")).exists());
    // A changed response expression is refused.
    let changed = fanfold(&[])
        .args(args(&["--resume", "--http-response", ".record"]))
        .output()
        .expect("runs");
    assert_eq!(changed.status.code(), Some(1), "{}", String::from_utf8_lossy(&changed.stderr));
    let why = String::from_utf8_lossy(&changed.stderr);
    assert!(why.contains("--http-response"), "{why}");
    let resumed = fanfold(&[]).args(args(&["--resume"])).output().expect("runs");
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(std::fs::read_to_string(path("out.ndjson")).expect("output"), input);
    // The first 40 records were asked once: the resumed run took them from
    // the journal.
    assert_eq!(asked(40), 40);
}

#[test]
fn the_token_rate_spaces_requests_by_their_estimate() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("stats.json");
    // 100 tokens a second (a burst of 100), 50 tokens a request: two at
    // once, then one every half second.
    let input = records(6, |_| "200".into());
    let started = Instant::now();
    let out = run_ok(
        &[
            "--http",
            &server.url("/script"),
            "--token-rate",
            "6000/min",
            "--tokens",
            "(.script | length) * 10 + 20",
            "--stats-json",
            stats.to_str().expect("UTF-8 path"),
        ],
        &input,
    );
    assert_eq!(out, input);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("JSON");
    assert_eq!(stats["http"]["tokens_estimated"], 6 * 50);
    let (code, _, err) = run(
        &["--http", &server.url("/script"), "--token-rate", "60/min", "--tokens", ".script"],
        &input,
    );
    assert_eq!(code, 1);
    assert!(err.contains("--tokens `.script`: the estimate must be a number"), "{err}");
}

#[test]
fn answers_reporting_more_tokens_are_charged_the_difference() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("stats.json");
    // /echo answers each record as it is: its `usage` says 150 tokens, the
    // estimate 10. At 100 tokens a second, the four calls take about 6 s
    // of tokens less the burst of 100: well over 3 s. Charged the
    // estimate only, they would take no time.
    let input: String =
        (0..4).map(|i| format!("{{\"id\":{i},\"usage\":{{\"total_tokens\":150}}}}\n")).collect();
    let started = Instant::now();
    let out = run_ok(
        &[
            "--http",
            &server.url("/echo"),
            "--token-rate",
            "100/s",
            "--tokens",
            "10",
            "--concurrency",
            "1",
            "--stats-json",
            stats.to_str().expect("UTF-8 path"),
        ],
        &input,
    );
    assert_eq!(out, input);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(3000), "{took:?}");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("JSON");
    assert_eq!(stats["http"]["tokens_estimated"], 40);
    assert_eq!(stats["http"]["tokens_reported"], 600);
}

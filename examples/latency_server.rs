//! A loopback HTTP/1.1 echo server with a fixed delay: the web service that
//! `benches/http_map.py` times the `--http` step (and curl, xargs and an
//! asyncio client) against. Each request, a POST or GET to any path, waits
//! `--delay-ms` and then gets 200 `application/json` with its own body back
//! (`{}` for an empty body), so with N requests in flight the ideal rate is
//! `N × 1000 / delay_ms` per second and the output must equal the input.
//!
//! ```text
//! cargo run --release --example latency_server -- --delay-ms 50 [--port 0]
//! ```
//!
//! It binds 127.0.0.1 (port 0: any free one), prints
//! `listening on http://127.0.0.1:PORT` and serves until killed: one thread
//! per connection (small stacks, mostly asleep), keep-alive, bodies by
//! `Content-Length` or chunked. Standard library only.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// The largest request body read; a larger one gets 413 and a close.
const MAX_BODY: usize = 64 << 20;

fn main() {
    let mut delay_ms = 50u64;
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value.and_then(|v| v.parse().ok())) {
            ("--delay-ms", Some(v)) => delay_ms = v,
            ("--port", Some(v)) => port = u16::try_from(v).unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("binding 127.0.0.1");
    let port = listener.local_addr().expect("the bound address").port();
    let mut stdout = io::stdout();
    writeln!(stdout, "listening on http://127.0.0.1:{port}").expect("writing stdout");
    stdout.flush().expect("flushing stdout");
    let delay = Duration::from_millis(delay_ms);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let spawned =
            std::thread::Builder::new().stack_size(128 << 10).spawn(move || serve(stream, delay));
        if let Err(err) = spawned {
            eprintln!("latency_server: no thread for a connection: {err}");
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: latency_server --delay-ms MS [--port PORT]");
    std::process::exit(2)
}

/// Answers the requests on one connection until the client closes it, asks
/// to, or sends something that isn't HTTP/1.x.
fn serve(stream: TcpStream, delay: Duration) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    while let Ok(Some(keep_alive)) = exchange(&mut reader, &mut writer, delay) {
        if !keep_alive {
            break;
        }
    }
}

/// One request and its answer: `Ok(None)` at a clean end of the stream,
/// otherwise whether the connection stays open.
fn exchange(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    delay: Duration,
) -> io::Result<Option<bool>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(_method), Some(_target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(io::ErrorKind::InvalidData.into());
    };
    let mut keep_alive = version == "HTTP/1.1";
    let (mut length, mut chunked, mut expect_continue) = (0usize, false, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else { continue };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().map_err(|_| io::ErrorKind::InvalidData)?,
            "transfer-encoding" => chunked = value.ends_with("chunked"),
            "connection" if value.contains("close") => keep_alive = false,
            "connection" if value.contains("keep-alive") => keep_alive = true,
            "expect" => expect_continue = value == "100-continue",
            _ => {}
        }
    }
    if length > MAX_BODY {
        writer.write_all(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(Some(false));
    }
    if expect_continue {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = Vec::new();
    if chunked {
        read_chunked(reader, &mut body)?;
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    if body.is_empty() {
        body.extend_from_slice(b"{}");
    }
    std::thread::sleep(delay);
    let close = if keep_alive { "" } else { "Connection: close\r\n" };
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{close}\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    writer.write_all(&answer)?;
    Ok(Some(keep_alive))
}

/// Reads a chunked body (chunk extensions and trailers are skipped).
fn read_chunked(reader: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| io::ErrorKind::InvalidData)?;
        if size == 0 {
            break;
        }
        if body.len() + size > MAX_BODY {
            return Err(io::ErrorKind::InvalidData.into());
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            return Ok(());
        }
    }
}

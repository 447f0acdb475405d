//! A command's process and its pipes, what both the per-chunk commands
//! (`--exec`) and the persistent workers (`--exec-persistent`) use:
//! starting it in its own process group ([`spawn`]), moving the bytes over
//! its three pipes with `poll(2)` ([`Streams`], [`Pipes`]), the deadline and
//! signal checks ([`expired`]), killing its group ([`kill_group`]) and
//! saying how it ended ([`describe`], [`AttemptError`]); [`run_once`] is
//! one per-chunk run.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::cancel::CancelToken;
use crate::error::Message;
use crate::transform::command::spec::show_duration;

/// How much of a failed command's standard error is kept, in bytes (the
/// end of it).
pub const STDERR_TAIL_BYTES: usize = 2048;

/// How often a worker waiting on a command checks for a signal (SIGINT,
/// SIGTERM), which kills the command's process group.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// How long to wait for a killed command's pipes to close (a process that
/// left its group can hold them open).
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(1);

/// One failed attempt.
#[derive(Debug)]
pub(crate) struct AttemptError {
    pub(crate) reason: Message,
    pub(crate) stderr: Vec<u8>,
    pub(crate) timed_out: bool,
}

impl AttemptError {
    pub(crate) fn new(reason: impl Into<Message>) -> AttemptError {
        AttemptError { reason: reason.into(), stderr: Vec::new(), timed_out: false }
    }
}

/// Starts `argv` (the program at `path`) in its own process group with
/// `env` added to its environment and its three standard streams piped.
pub(crate) fn spawn(
    path: &std::path::Path,
    argv: &[String],
    env: &[(&str, String)],
) -> std::result::Result<Child, AttemptError> {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    Command::new(path)
        .arg0(program)
        .args(argv.get(1..).unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| AttemptError::new(format!("cannot start `{program}`: {e}")))
}

/// Runs `argv` (the program at `path`) once in its own process group with
/// `env` added to its environment and `input` on its standard input;
/// returns its standard output and the tail of its standard error when it
/// exits with status 0.
///
/// This thread moves the bytes itself, waiting on the three pipes with
/// `poll(2)` (standard input non-blocking), so a command that writes before
/// it has read everything cannot deadlock and no thread is started. On the
/// timeout, a signal or `stop` it kills the whole process group.
pub(crate) fn run_once(
    path: &std::path::Path,
    argv: &[String],
    env: &[(&str, String)],
    input: &[u8],
    timeout: Option<Duration>,
    stop: &CancelToken,
) -> std::result::Result<(Vec<u8>, Vec<u8>), AttemptError> {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut child = spawn(path, argv, env)?;
    let mut streams = match Streams::take(&mut child) {
        Ok(s) => s,
        Err(e) => {
            kill_group(&mut child);
            return Err(AttemptError::new(format!("cannot set up the pipes: {e}")));
        }
    };
    let mut pipes = Pipes::new(&mut streams, input, None, Vec::new());
    // The outputs end when every process holding them has exited.
    let mut killed = pipes.pump(deadline, timeout, true, stop);
    // Then the process is exiting (or closed them early and goes on: it
    // gets until the deadline).
    let mut status = None;
    let mut nap = Duration::from_micros(20);
    while killed.is_none() {
        match child.try_wait() {
            Ok(Some(s)) => {
                status = Some(s);
                break;
            }
            Ok(None) => {}
            Err(e) => {
                kill_group(&mut child);
                return Err(AttemptError::new(format!("cannot wait for `{program}`: {e}")));
            }
        }
        killed = expired(deadline, timeout, stop);
        std::thread::sleep(nap.min(wait_step(deadline)));
        nap = (nap * 2).min(Duration::from_millis(5));
    }
    if let Some(why) = killed {
        kill_group(&mut child);
        return Err(pipes.killed(why, stop));
    }
    let Pipes { out, tail, error, .. } = pipes;
    let failed = |reason: String| AttemptError {
        reason: reason.into(),
        stderr: tail.clone(),
        timed_out: false,
    };
    let status = status.ok_or_else(|| failed("the process did not exit".into()))?;
    if !status.success() {
        return Err(failed(describe(status)));
    }
    match error {
        Some(e) => Err(failed(format!("cannot read its output: {e}"))),
        None => Ok((out, tail)),
    }
}

/// The parent's ends of a child's three pipes; `None` once closed.
#[derive(Debug)]
pub(crate) struct Streams {
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

impl Streams {
    /// Takes the child's pipes, standard input made non-blocking.
    pub(crate) fn take(child: &mut Child) -> std::io::Result<Streams> {
        let missing = || std::io::Error::other("a pipe is missing");
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let flags = fcntl(&stdin, FcntlArg::F_GETFL)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&stdin, FcntlArg::F_SETFL(flags))?;
        Ok(Streams {
            stdin: Some(stdin),
            stdout: Some(child.stdout.take().ok_or_else(missing)?),
            stderr: Some(child.stderr.take().ok_or_else(missing)?),
        })
    }

    /// True while standard input and output are both open.
    pub(crate) fn open(&self) -> bool {
        self.stdin.is_some() && self.stdout.is_some()
    }

    /// Closes standard input (the child reads its end) and drops the
    /// outputs.
    pub(crate) fn close(&mut self) {
        (self.stdin, self.stdout, self.stderr) = (None, None, None);
    }
}

/// One exchange over a child's pipes: the input to write, and what came
/// back.
pub(crate) struct Pipes<'a> {
    io: &'a mut Streams,
    input: &'a [u8],
    written: usize,
    /// Stop once this many lines were read (a persistent worker's
    /// answers), standard input left open; `None`: until both outputs
    /// close, standard input closed once written.
    lines_wanted: Option<usize>,
    /// Line ends read so far.
    pub(crate) lines: usize,
    /// What standard output gave.
    pub(crate) out: Vec<u8>,
    /// The last [`STDERR_TAIL_BYTES`] of standard error.
    pub(crate) tail: Vec<u8>,
    /// A read error on standard output.
    pub(crate) error: Option<std::io::Error>,
}

impl<'a> Pipes<'a> {
    /// An exchange writing `input`, reading until `lines_wanted` lines (or
    /// the end of the outputs), its standard error's tail going on from
    /// `tail`.
    pub(crate) fn new(
        io: &'a mut Streams,
        input: &'a [u8],
        lines_wanted: Option<usize>,
        tail: Vec<u8>,
    ) -> Pipes<'a> {
        if input.is_empty() && lines_wanted.is_none() {
            // Nothing to write: closed at once.
            io.stdin = None;
        }
        Pipes { io, input, written: 0, lines_wanted, lines: 0, out: Vec::new(), tail, error: None }
    }

    /// True once the input is written and the lines wanted were read.
    fn answered(&self) -> bool {
        self.lines_wanted.is_some_and(|n| self.lines >= n && self.written >= self.input.len())
    }

    /// The attempt's error after the child's group was killed for `why`:
    /// collects what the pipes still hold for a short while (stderr's tail
    /// explains a hang; a process that left the group may keep them open).
    pub(crate) fn killed(mut self, why: String, stop: &CancelToken) -> AttemptError {
        self.lines_wanted = None;
        let _ = self.pump(Some(Instant::now() + KILL_GRACE), None, false, stop);
        let timed_out = why.starts_with("timed out");
        AttemptError { reason: why.into(), stderr: self.tail, timed_out }
    }

    /// Writes the input and reads both outputs until both outputs are
    /// closed (or the lines wanted came); returns why it stopped early (the
    /// deadline passed, or with `signals` a signal asked the run to stop),
    /// if so. A command that exits without reading all its input gets a
    /// broken pipe: its exit status decides.
    pub(crate) fn pump(
        &mut self,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
        signals: bool,
        stop: &CancelToken,
    ) -> Option<String> {
        let mut buf = vec![0u8; 64 << 10];
        // Waiting for answers, a closed standard output ends the wait.
        let err_too = self.lines_wanted.is_none();
        while (self.io.stdout.is_some() || err_too && self.io.stderr.is_some()) && !self.answered()
        {
            let stop = match (signals, timeout) {
                (true, _) => expired(deadline, timeout, stop),
                (false, _) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    Some("grace period over".into())
                }
                _ => None,
            };
            if stop.is_some() {
                return stop;
            }
            let wait = wait_step(deadline);
            let ms = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
            let (mut ready_in, mut ready_out, mut ready_err) = (false, false, false);
            {
                let (mut which, mut fds) = (Vec::with_capacity(3), Vec::with_capacity(3));
                if let Some(p) = self.io.stdin.as_ref().filter(|_| self.written < self.input.len())
                {
                    which.push(0);
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLOUT));
                }
                if let Some(p) = &self.io.stdout {
                    which.push(1);
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                }
                if let Some(p) = &self.io.stderr {
                    which.push(2);
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        self.error = Some(e.into());
                        return Some(format!("cannot wait on its pipes: {e}"));
                    }
                }
                for (w, f) in which.iter().zip(&fds) {
                    let ready = f.revents().is_some_and(|r| !r.is_empty());
                    match w {
                        0 => ready_in = ready,
                        1 => ready_out = ready,
                        _ => ready_err = ready,
                    }
                }
            }
            if ready_in {
                self.write_some();
            }
            if ready_out {
                if let Some(p) = &mut self.io.stdout {
                    match p.read(&mut buf) {
                        Ok(0) => self.io.stdout = None,
                        Ok(n) => {
                            let got = &buf[..n];
                            if self.lines_wanted.is_some() {
                                self.lines += memchr::memchr_iter(b'\n', got).count();
                            }
                            self.out.extend_from_slice(got);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            self.error = Some(e);
                            self.io.stdout = None;
                        }
                    }
                }
            }
            if ready_err {
                if let Some(p) = &mut self.io.stderr {
                    match p.read(&mut buf) {
                        Ok(0) | Err(_) => self.io.stderr = None,
                        Ok(n) => push_tail(&mut self.tail, &buf[..n], STDERR_TAIL_BYTES),
                    }
                }
            }
        }
        None
    }

    /// Writes what the pipe takes of the rest of the input; closes it at
    /// the end (or on a broken pipe) unless lines are wanted back.
    fn write_some(&mut self) {
        let Some(p) = &mut self.io.stdin else { return };
        let rest = self.input.get(self.written..).unwrap_or_default();
        match p.write(rest) {
            Ok(n) => self.written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                self.written = self.input.len();
                self.io.stdin = None;
            }
        }
        if self.written >= self.input.len() && self.lines_wanted.is_none() {
            self.io.stdin = None;
        }
    }
}

/// Appends `bytes` to `tail`, keeping its last `keep` bytes.
fn push_tail(tail: &mut Vec<u8>, bytes: &[u8], keep: usize) {
    tail.extend_from_slice(bytes);
    if tail.len() > keep {
        tail.drain(..tail.len() - keep);
    }
}

/// Why to kill the process now, if so: the deadline passed, a signal asked
/// the run to stop, or `stop` was cancelled otherwise (by a caller, or the
/// run is stopping on an error).
pub(crate) fn expired(
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    stop: &CancelToken,
) -> Option<String> {
    if stop.signal().is_some() {
        return Some("interrupted".into());
    }
    if stop.is_cancelled() {
        return Some("cancelled: the run is stopping".into());
    }
    match (deadline, timeout) {
        (Some(d), Some(t)) if Instant::now() >= d => {
            Some(format!("timed out after {}; its process group was killed", show_duration(t)))
        }
        _ => None,
    }
}

/// How long to block before looking at the deadline and signals again.
pub(crate) fn wait_step(deadline: Option<Instant>) -> Duration {
    match deadline {
        Some(d) => d.saturating_duration_since(Instant::now()).min(POLL),
        None => POLL,
    }
}

/// Kills the child's process group (the command and every process it
/// started that stayed in the group) and reaps the child.
pub(crate) fn kill_group(child: &mut Child) {
    if let Ok(id) = i32::try_from(child.id()) {
        // The child is not reaped yet, so its id still names its group.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(id),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// An exit status in words: `exit status 3`, `killed by signal 9`.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut tail = Vec::new();
        data.chunks(999).for_each(|c| push_tail(&mut tail, c, 2048));
        assert_eq!(tail, data[data.len() - 2048..]);
    }

    #[test]
    fn run_once_and_timeout() {
        let argv: Vec<String> = ["sh", "-c", "tr a-z A-Z; echo oops >&2"].map(String::from).into();
        let sh = std::path::Path::new("/bin/sh");
        let no = CancelToken::new();
        let (out, err) = run_once(sh, &argv, &[], b"abc\n", None, &no).unwrap();
        assert_eq!((out.as_slice(), err.as_slice()), (&b"ABC\n"[..], &b"oops\n"[..]));
        let argv: Vec<String> = ["sh", "-c", "echo bad >&2; exit 3"].map(String::from).into();
        let e = run_once(sh, &argv, &[], b"", None, &no).unwrap_err();
        assert_eq!(
            (e.reason.to_string().as_str(), e.stderr.as_slice()),
            ("exit status 3", &b"bad\n"[..])
        );
        let argv: Vec<String> = ["sh", "-c", "sleep 5 & sleep 5; wait"].map(String::from).into();
        let t = Instant::now();
        let e = run_once(sh, &argv, &[], b"", Some(Duration::from_millis(200)), &no).unwrap_err();
        assert!(e.timed_out && t.elapsed() < Duration::from_secs(3), "{e:?}");
    }
}

//! The control channel of a mount server: a Unix socket per mount (in the
//! [`crate::registry`]) on which other processes ask for the status, a commit or the
//! unmount, and helpers the server and its clients share (is a directory mounted,
//! unmounting it).
//!
//! Protocol: one request line (`status`, `commit [append] [integrity]`,
//! `unmount commit|discard [append] [integrity]`), answered by any number of
//! `progress DONE TOTAL` lines and one final `ok TEXT` or `error CODE MESSAGE` line
//! (newlines and backslashes of the text escaped).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What a client asks a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Is the mount working? (`ok` with nothing else.)
    Status,
    /// Commit the changes; the image stays mounted.
    Commit { append: bool, integrity: bool },
    /// Unmount, committing first when `commit`.
    Unmount {
        commit: bool,
        append: bool,
        integrity: bool,
    },
}

impl Request {
    pub fn to_line(&self) -> String {
        let flags = |append: bool, integrity: bool| {
            let mut s = String::new();
            if append {
                s.push_str(" append");
            }
            if integrity {
                s.push_str(" integrity");
            }
            s
        };
        match *self {
            Request::Status => "status".into(),
            Request::Commit { append, integrity } => {
                format!("commit{}", flags(append, integrity))
            }
            Request::Unmount {
                commit,
                append,
                integrity,
            } => format!(
                "unmount {}{}",
                if commit { "commit" } else { "discard" },
                flags(append, integrity)
            ),
        }
    }

    pub fn parse(line: &str) -> Option<Request> {
        let mut words = line.split_whitespace();
        let verb = words.next()?;
        let rest: Vec<&str> = words.collect();
        let append = rest.contains(&"append");
        let integrity = rest.contains(&"integrity");
        match verb {
            "status" => Some(Request::Status),
            "commit" => Some(Request::Commit { append, integrity }),
            "unmount" => Some(Request::Unmount {
                commit: match rest.first() {
                    Some(&"commit") => true,
                    Some(&"discard") => false,
                    _ => return None,
                },
                append,
                integrity,
            }),
            _ => None,
        }
    }
}

/// The final answer of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(String),
    Failed { code: u32, message: String },
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Sends `req` to the server at `socket` and waits for its answer, passing progress
/// lines to `progress`. An error is returned when no server answers.
pub fn request(
    socket: &Path,
    req: &Request,
    progress: &mut dyn FnMut(u64, u64),
) -> std::io::Result<Outcome> {
    request_with_timeout(socket, req, None, progress)
}

fn request_with_timeout(
    socket: &Path,
    req: &Request,
    timeout: Option<Duration>,
    progress: &mut dyn FnMut(u64, u64),
) -> std::io::Result<Outcome> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(timeout)?;
    s.set_write_timeout(timeout)?;
    s.write_all(format!("{}\n", req.to_line()).as_bytes())?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the mount server closed the connection without an answer",
            ));
        }
        let l = line.trim_end_matches('\n');
        if let Some(p) = l.strip_prefix("progress ") {
            let mut it = p.split(' ').filter_map(|n| n.parse::<u64>().ok());
            if let (Some(d), Some(t)) = (it.next(), it.next()) {
                progress(d, t);
            }
        } else if let Some(t) = l.strip_prefix("ok") {
            return Ok(Outcome::Ok(unescape(t.trim_start())));
        } else if let Some(e) = l.strip_prefix("error ") {
            let (code, msg) = e.split_once(' ').unwrap_or((e, ""));
            return Ok(Outcome::Failed {
                code: code.parse().unwrap_or(31),
                message: unescape(msg),
            });
        }
    }
}

/// Whether a server answers `status` on `socket` within a few seconds.
pub fn ping(socket: &Path) -> bool {
    matches!(
        request_with_timeout(
            socket,
            &Request::Status,
            Some(Duration::from_secs(5)),
            &mut |_, _| {}
        ),
        Ok(Outcome::Ok(_))
    )
}

/// How a server answers one request.
pub struct Responder {
    stream: UnixStream,
}

impl Responder {
    pub fn progress(&mut self, done: u64, total: u64) {
        let _ = writeln!(self.stream, "progress {done} {total}");
    }

    pub fn ok(&mut self, text: &str) {
        let _ = writeln!(self.stream, "ok {}", escape(text));
        let _ = self.stream.flush();
    }

    pub fn error(&mut self, code: u32, message: &str) {
        let _ = writeln!(self.stream, "error {code} {}", escape(message));
        let _ = self.stream.flush();
    }
}

/// A request handler: answers through the [`Responder`].
pub type Handler = Arc<dyn Fn(Request, &mut Responder) + Send + Sync>;

/// Binds the control socket at `path` (replacing a stale one).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    UnixListener::bind(path)
}

/// Answers requests on `listener` forever, each connection on a thread of its own
/// (so that `status` is answered while a commit runs).
pub fn serve_requests(listener: UnixListener, handler: Handler) {
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let handler = handler.clone();
        std::thread::spawn(move || {
            let Ok(read) = stream.try_clone() else { return };
            let mut line = String::new();
            if BufReader::new(read).read_line(&mut line).is_err() {
                return;
            }
            let mut r = Responder { stream };
            match Request::parse(line.trim()) {
                Some(req) => handler(req, &mut r),
                None => r.error(87, &format!("unknown request {:?}", line.trim())),
            }
        });
    }
}

fn unescape_mountinfo(s: &str) -> String {
    // Octal escapes of space, tab, newline and backslash.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points of this mount namespace.
pub fn mount_points() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .collect()
}

/// Whether something is mounted on `dir` (given absolute).
pub fn is_mounted(dir: &Path) -> bool {
    mount_points().iter().any(|p| p == dir)
}

/// Unmounts `dir`: `umount2` as root, `fusermount3 -u` otherwise; `lazy` detaches a
/// mount that is busy or whose server is dead.
pub fn unmount(dir: &Path, lazy: bool) -> std::io::Result<()> {
    if rustix::process::geteuid().is_root() {
        let flags = if lazy {
            rustix::mount::UnmountFlags::DETACH
        } else {
            rustix::mount::UnmountFlags::empty()
        };
        return rustix::mount::unmount(dir, flags).map_err(std::io::Error::from);
    }
    let mut c = std::process::Command::new("fusermount3");
    c.arg("-u");
    if lazy {
        c.arg("-z");
    }
    let out = c.arg(dir).output()?;
    if out.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&out.stderr);
        let kind = if text.contains("busy") {
            std::io::ErrorKind::ResourceBusy
        } else {
            std::io::ErrorKind::Other
        };
        Err(std::io::Error::new(kind, text.trim().to_string()))
    }
}

/// Detaches this process from its session (a server started by a command must
/// outlive the command's terminal).
pub fn detach() {
    let _ = rustix::process::setsid();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for r in [
            Request::Status,
            Request::Commit {
                append: true,
                integrity: false,
            },
            Request::Unmount {
                commit: false,
                append: false,
                integrity: true,
            },
            Request::Unmount {
                commit: true,
                append: true,
                integrity: true,
            },
        ] {
            assert_eq!(Request::parse(&r.to_line()), Some(r));
        }
        assert_eq!(unescape(&escape("a\\b\nc")), "a\\b\nc");
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
    }
}

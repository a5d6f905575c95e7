//! A git server speaking smart HTTP, for tests: `git http-backend`, the CGI program git ships,
//! behind a small HTTP/1.1 server on 127.0.0.1. Ref updates go through git's own receive-pack,
//! so a push carries the same compare-and-swap semantics it has on GitHub. Like GitHub, the
//! server can demand a token as the password of the user `x-access-token`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

type Hook = Box<dyn FnOnce() + Send>;

/// A running server for the repositories in a folder; it lives as long as the test process.
pub struct GitServer {
    address: String,
    state: Arc<State>,
}

struct State {
    root: PathBuf,
    token: Option<String>,
    before_push: Mutex<Option<Hook>>,
    requests: Mutex<Vec<Request>>,
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

impl GitServer {
    /// Serves the repositories under `root`; with a `token`, only to clients that present it.
    pub fn start(root: &Path, token: Option<&str>) -> GitServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(State {
            root: root.to_path_buf(),
            token: token.map(str::to_string),
            before_push: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
        });
        let serving = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = serving.clone();
                std::thread::spawn(move || {
                    if let Err(e) = handle(stream, &state) {
                        eprintln!("git test server: {e}");
                    }
                });
            }
        });
        GitServer { address, state }
    }

    /// The URL of the repository `name` (a folder under the root).
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.address)
    }

    /// Runs `hook` when the next push arrives, after the client read the refs and before git
    /// looks at the push: the moment another pusher can slip in.
    pub fn before_next_push(&self, hook: impl FnOnce() + Send + 'static) {
        *self.state.before_push.lock().unwrap() = Some(Box::new(hook));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }
}

fn handle(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or(""),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());

    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    if header("expect").as_deref() == Some("100-continue") {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(&mut reader, &header)?;

    let authorization = header("authorization");
    state.requests.lock().unwrap().push(Request {
        method: method.clone(),
        path: path.clone(),
        authorization: authorization.clone(),
    });
    if let Some(token) = &state.token {
        let expected = format!("Basic {}", base64(&format!("x-access-token:{token}")));
        if authorization.as_deref() != Some(expected.as_str()) {
            let response = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                            Content-Length: 0\r\nConnection: close\r\n\r\n";
            return writer.write_all(response.as_bytes());
        }
    }
    if method == "POST" && path.ends_with("/git-receive-pack") {
        let hook = state.before_push.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
    }

    let mut command = Command::new("git");
    command
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &state.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(kind) = header("content-type") {
        command.env("CONTENT_TYPE", kind);
    }
    if let Some(protocol) = header("git-protocol") {
        command.env("HTTP_GIT_PROTOCOL", protocol);
    }
    let mut child = command.spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let feeding = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output()?;
    feeding.join().unwrap()?;

    // CGI output: headers (with an optional `Status:`), a blank line, the body.
    let split = output
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            output
                .stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .unwrap_or((output.stdout.len(), output.stdout.len()));
    let head = String::from_utf8_lossy(&output.stdout[..split.0]).to_string();
    let content = &output.stdout[split.1..];
    let mut status = "200 OK".to_string();
    let mut response = String::new();
    for line in head.lines().filter(|l| !l.is_empty()) {
        match line.strip_prefix("Status:") {
            Some(value) => status = value.trim().to_string(),
            None => response.push_str(&format!("{line}\r\n")),
        }
    }
    let response = format!(
        "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
        content.len()
    );
    writer.write_all(response.as_bytes())?;
    writer.write_all(content)
}

/// The request body, sent with a length or in chunks.
fn read_body(
    reader: &mut impl BufRead,
    header: &dyn Fn(&str) -> Option<String>,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if let Some(length) = header("content-length") {
        let length: usize = length.parse().unwrap_or(0);
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size =
                usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).unwrap_or(0);
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut end = String::new();
            reader.read_line(&mut end)?;
            if size == 0 {
                break;
            }
        }
    }
    Ok(body)
}

/// Standard base64 with padding.
pub fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

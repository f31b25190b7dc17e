//! The end-to-end harness: starts the real `betbet` binary on a free port and a fresh data
//! directory, talks to it over real HTTP (and WebSocket), and can kill it at any moment and
//! start it again on the same directory.
//!
//! The binary is `$BETBET_BIN`, or `target/debug/betbet` of this workspace: build it first
//! (`cargo build -p betbet-gateway`; the README's test command does).

use serde_json::Value;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use serde_json::json;

pub mod history;
pub mod postgres;
pub mod upgrade;

pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("BETBET_BIN") {
        return PathBuf::from(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    let path = target.join("debug").join("betbet");
    assert!(
        path.exists(),
        "{} does not exist: build the server first with `cargo build -p betbet-gateway`",
        path.display()
    );
    path
}

/// A port that is free for TCP and UDP on loopback now, drawn at random from below the
/// kernel's ephemeral range. Asking the kernel for port 0 would hand out ephemeral ports,
/// which the many outgoing connections of tests running in parallel also take, so a port
/// could be taken again between this check and the server's bind; outside that range only
/// another test drawing the same number can collide, and `Server` retries if one does.
pub fn free_port() -> u16 {
    use rand::Rng;
    let (low, high) = ephemeral_range();
    let (from, to) = if low > 11_000 {
        (10_000, low - 1)
    } else {
        (high + 1, 65_535)
    };
    let mut rng = rand::thread_rng();
    for _ in 0..1_000 {
        let port = rng.gen_range(from..=to);
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in {from}..={to}");
}

fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

/// A running `betbet serve`.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    /// Where `/metrics` is served (never on `port`).
    pub metrics_port: u16,
    pub data_dir: PathBuf,
    args: Vec<String>,
    _dir: Option<tempfile::TempDir>,
    log: PathBuf,
}

impl Server {
    /// `betbet serve` on a fresh data directory with sandbox payments, generous rate limits
    /// (tests make many requests quickly) and `extra` flags.
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_owned();
        let mut server = Server {
            child: None,
            port: free_port(),
            metrics_port: free_port(),
            log: data_dir.join("server.log"),
            data_dir,
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
            _dir: Some(dir),
        };
        server.launch(true);
        server
    }

    /// `betbet serve` on an existing data directory (a fixture's copy, say), which the
    /// caller keeps alive.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Server {
        let mut server = Server {
            child: None,
            port: free_port(),
            metrics_port: free_port(),
            log: data_dir.join("server.log"),
            data_dir: data_dir.to_owned(),
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
            _dir: None,
        };
        server.launch(true);
        server
    }

    /// Starts the process and waits until it is healthy. A first start whose port another
    /// test took in the meantime draws new ports and tries again; a restart keeps its ports
    /// (clients hold them) and tries them again.
    fn launch(&mut self, first: bool) {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let log_before = std::fs::metadata(&self.log).map_or(0, |m| m.len() as usize);
            self.spawn();
            let Err(exit) = self.try_wait_healthy() else {
                return;
            };
            let log = self.log_text();
            let port_taken = log
                .get(log_before..)
                .is_some_and(|tail| tail.contains("Address already in use"));
            if !port_taken || attempt == ATTEMPTS {
                panic!("{exit}\n{log}");
            }
            if first {
                self.port = free_port();
                self.metrics_port = free_port();
            }
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--http-addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--metrics-addr")
            .arg(format!("127.0.0.1:{}", self.metrics_port))
            .arg("--sandbox-payments");
        // Generous limits for the tests' bursts; a test's own `--rate-limits` adds to them.
        let limits = "default=100000/60,auth=100000/60,wallet=100000/60,trading=100000/1";
        let mut args = self.args.clone();
        match args.iter().position(|a| a == "--rate-limits") {
            Some(at) if at + 1 < args.len() => {
                args[at + 1] = format!("{limits},{}", args[at + 1]);
            }
            _ => args.extend(["--rate-limits".to_owned(), limits.to_owned()]),
        }
        command
            .args(&args)
            .env("BETBET_LOG", "warn")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null());
        self.child = Some(command.spawn().expect("start betbet"));
    }

    fn try_wait_healthy(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("betbet exited with {status} during start-up:"));
            }
            if Api::new(self.port)
                .try_get("/health")
                .is_some_and(|r| r.status == 200)
            {
                return Ok(());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "betbet did not become healthy:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn api(&self) -> Api {
        Api::new(self.port)
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    #[allow(unsafe_code)]
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        // SAFETY: sending a signal to our own child process by its pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        child.wait().expect("wait for betbet")
    }

    /// Starts again on the same data directory and port with the same flags.
    pub fn restart(&mut self) {
        self.kill();
        self.launch(false);
    }

    /// The credentials `--demo` wrote: (username, password).
    pub fn demo_login(&self, username: &str) -> (String, String) {
        let text = std::fs::read_to_string(self.data_dir.join("demo-credentials.txt"))
            .expect("demo credentials (start with --demo)");
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(username))
            .unwrap_or_else(|| panic!("no demo user {username}"));
        let password = line.split_whitespace().nth(1).expect("password").to_owned();
        (username.to_owned(), password)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP reply: status, JSON body (or `Null`) and headers we care about.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
    pub request_id: Option<String>,
}

impl Reply {
    /// `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected reply: {}", self.body);
        self.body
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected reply: {}",
            self.body
        );
    }
}

/// A small JSON-over-HTTP client; `token` is sent as a bearer token when set.
#[derive(Clone)]
pub struct Api {
    base: String,
    agent: ureq::Agent,
    pub token: Option<String>,
}

impl Api {
    pub fn new(port: u16) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Api {
            base: format!("http://127.0.0.1:{port}"),
            agent,
            token: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    fn finish(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut response = response.expect("HTTP request");
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after");
        let request_id = header("x-request-id");
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        });
        Reply {
            status,
            body,
            retry_after,
            request_id,
        }
    }

    /// Like [`Api::get`], but `None` when the server is not reachable (yet).
    pub fn try_get(&self, path: &str) -> Option<Reply> {
        let response = self.agent.get(format!("{}{path}", self.base)).call().ok()?;
        Some(Self::finish(Ok(response)))
    }

    pub fn get(&self, path: &str) -> Reply {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        Self::finish(request.call())
    }

    pub fn delete(&self, path: &str) -> Reply {
        let mut request = self.agent.delete(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        Self::finish(request.call())
    }

    pub fn send(&self, method: &str, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "POST" => self.agent.post(url),
            "PUT" => self.agent.put(url),
            other => panic!("unsupported method {other}"),
        };
        request = request.header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::finish(request.send(body.to_string()))
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, body, &[])
    }

    /// Like [`Api::post`], but `None` when the request got no answer (the server is down,
    /// or died while answering).
    pub fn try_post(&self, path: &str, body: &Value) -> Option<Reply> {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send(body.to_string()).ok()?;
        Some(Self::finish(Ok(response)))
    }

    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.send("PUT", path, body, &[])
    }

    /// `multipart/form-data` with text fields and one file.
    pub fn upload(&self, path: &str, fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> Reply {
        let boundary = "----betbet-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        let (name, content_type, bytes) = file;
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"doc\"\r\nContent-Type: {content_type}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut request = self.agent.post(format!("{}{path}", self.base)).header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        );
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        Self::finish(request.send(&body[..]))
    }

    /// Registers `username` (password `password-of-{username}`) and logs in.
    pub fn signup(&self, username: &str) -> (Api, String) {
        let reply = self.post(
            "/api/v1/auth/register",
            &json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": format!("password-of-{username}"),
            }),
        );
        let user = reply.expect(201)["id"]
            .as_str()
            .expect("user id")
            .to_owned();
        (
            self.login(username, &format!("password-of-{username}")),
            user,
        )
    }

    pub fn login(&self, username: &str, password: &str) -> Api {
        let body = self
            .post(
                "/api/v1/auth/login",
                &json!({ "username": username, "password": password }),
            )
            .expect(200);
        self.with_token(body["access_token"].as_str().expect("token"))
    }
}

/// RFC 6238 code for a base32 secret at `unix_seconds`, computed independently of the server.
pub fn totp(secret_base32: &str, unix_seconds: u64) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut bits = 0u64;
    let mut count = 0;
    let mut key = Vec::new();
    for c in secret_base32.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {c}"),
        };
        bits = (bits << 5) | u64::from(value);
        count += 5;
        if count >= 8 {
            key.push((bits >> (count - 8)) as u8);
            count -= 8;
        }
    }
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&key).expect("any key");
    mac.update(&(unix_seconds / 30).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let code = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]) % 1_000_000;
    format!("{code:06}")
}

/// RFC 3339 for one day from now.
pub fn in_a_day() -> String {
    in_seconds(86_400)
}

/// The time `seconds` from now, in RFC 3339.
pub fn in_seconds(seconds: u64) -> String {
    let secs = now_secs() + seconds;
    // RFC 3339 from seconds since the epoch, via the server's own format is not available
    // here: build it by hand (days from civil).
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// Its creator closes `market` and resolves it for `winner` (each step must succeed).
pub fn close_and_resolve(creator: &Api, market: &str, winner: &str) {
    creator
        .put(
            &format!("/api/v1/markets/{market}"),
            &json!({"status": "closed"}),
        )
        .expect(200);
    creator
        .post(
            &format!("/api/v1/markets/{market}/resolve"),
            &json!({"winning_outcome": winner}),
        )
        .expect(200);
}

/// A new user with `amount` of sandbox money in a USD wallet.
pub fn funded(api: &Api, name: &str, amount: &str) -> (Api, String) {
    let (user, id) = api.signup(name);
    user.post(
        "/api/v1/deposits/initiate",
        &json!({"amount": amount, "currency": "USD", "payment_method": "sandbox"}),
    )
    .expect(201);
    (user, id)
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// A decimal string from the API, compared exactly (`"12.50"` equals `"12.5"`).
#[track_caller]
pub fn assert_amount(value: &Value, expected: &str) {
    let got = value
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {value}"));
    let normalize = |s: &str| {
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        };
        if s.is_empty() || s == "-0" {
            "0".to_owned()
        } else {
            s.to_owned()
        }
    };
    assert_eq!(normalize(got), normalize(expected), "amount");
}

//! Every shell example of README.md and deploy/README.md, run as written against the real
//! binary, so the READMEs cannot drift from the program.
//!
//! Each ```sh block is one of:
//!
//! - a set-up command (`cargo run --release --bin betbet -- serve …`, `scripts/test`): not
//!   run, since it is what CI itself does, but there must be exactly these two, and the
//!   server under test is started with the serve command's own flags;
//! - `websocat URL`: replaced by a WebSocket client that connects to the same URL, gets the
//!   snapshot first and then (while the rest of the tour runs) deltas and trades with
//!   consecutive sequence numbers;
//! - the example market maker (`cargo run … --example market_maker -- FLAGS`): the example
//!   binary the build already made (`target/debug/examples/market_maker`) with the README's
//!   flags, for as long as it takes to see it quote, carry on after a refused quote, fill,
//!   and cancel its quotes on Ctrl-C;
//! - anything else: run by bash, one process per README section (the guided tour's blocks
//!   share shell variables and functions), `set -euo pipefail`, in a directory whose `data/`
//!   is the server's data directory. Each command's output is checked against what the
//!   README says it shows.
//!
//! The README's addresses (`localhost:8080`, `127.0.0.1:9443`) become the test server's,
//! and its placeholders (`<from the demo output>`, `<access_token>`, `<printed by serve>`,
//! `<secret>`) the real values. A command the test has no expectation for, a placeholder it
//! has no value for, or a failing command fails the test.
//!
//! Needs bash, curl and jq on the machine (`.ci/run` installs curl and jq when missing) and
//! the example bot built (`cargo build -p betbet-feed-client --example market_maker`;
//! scripts/test does).

use betbet_tests::{Api, Server, json};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one awaited condition may take (a debug build, tests in parallel).
const PATIENCE: Duration = Duration::from_secs(30);

/// The README's addresses, replaced by the test server's.
const README_HTTP: &str = "localhost:8080";
const README_HTTP_IP: &str = "127.0.0.1:8080";
const README_FEED: &str = "127.0.0.1:9443";

/// The two set-up commands, which are not run.
const SERVE: &str = "cargo run --release --bin betbet -- serve";
const TEST_COMMAND: &str = "scripts/test";
/// The example bot's command, whose flags are run with the already built example.
const BOT: &str = "cargo run --release -p betbet-feed-client --example market_maker --";

/// Every expectation must meet its command at least once: one that no README command uses
/// any more is dead and goes (or the README lost an example it should have kept).
const EXPECTATIONS: &[&str] = &[
    "definitions and assignments print nothing",
    "GET /health",
    "POST /api/v1/auth/login",
    "GET /api/v1/wallets/{user}",
    "GET /api/v1/markets",
    "GET /api/v1/markets/{id}/orderbook",
    "POST /api/v1/markets/{id}/orders (crossing)",
    "POST /api/v1/markets/{id}/orders (resting)",
    "GET /api/v1/orders?status=open",
    "GET /api/v1/users/{id}/positions",
    "PUT /api/v1/markets/{id}",
    "POST /api/v1/markets/{id}/resolve",
    "POST /api/v1/api-keys",
    "websocat",
    "market_maker",
];

#[test]
fn every_shell_example_of_the_readmes_works_as_written() {
    require_tools();
    let mut blocks = shell_blocks("README.md");
    blocks.extend(shell_blocks("deploy/README.md"));

    // Exactly the two set-up commands, in this order.
    let setup: Vec<&Block> = blocks
        .iter()
        .filter(|b| matches!(b.kind, Kind::SetUp))
        .collect();
    let texts: Vec<String> = setup.iter().map(|b| flat(&b.commands[0])).collect();
    assert!(
        texts.len() == 2 && texts[0].starts_with(SERVE) && texts[1] == TEST_COMMAND,
        "the READMEs must have exactly two set-up commands, `{SERVE} …` and then \
         `{TEST_COMMAND}`; found {texts:?}"
    );
    assert!(
        workspace().join(TEST_COMMAND).is_file(),
        "the README's test command {TEST_COMMAND} does not exist"
    );

    // The server, with the README's serve flags, its data in `<root>/data` as `./data`.
    let root = tempfile::tempdir().expect("temp dir");
    let data_dir = root.path().join("data");
    std::fs::create_dir(&data_dir).expect("data dir");
    let quic = format!("127.0.0.1:{}", betbet_tests::free_port());
    let serve_flags = texts[0][SERVE.len()..].to_owned();
    assert!(
        !serve_flags.contains(['\'', '"', '$', '\\']),
        "the README's serve command is read as plain words: {serve_flags}"
    );
    let flags: Vec<String> = serve_flags
        .split_whitespace()
        .map(|flag| flag.replace(README_FEED, &quic))
        .collect();
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_in(&data_dir, &flag_refs);

    let mut tour = Tour::new(&server, root.path(), quic);
    let mut start = 0;
    while start < blocks.len() {
        let end = (start..blocks.len())
            .find(|&i| {
                (blocks[i].file, &blocks[i].section) != (blocks[start].file, &blocks[start].section)
            })
            .unwrap_or(blocks.len());
        tour.section(&blocks[start..end]);
        start = end;
    }
    let unused: Vec<&&str> = EXPECTATIONS
        .iter()
        .filter(|e| !tour.used.contains(**e))
        .collect();
    assert!(
        unused.is_empty(),
        "expectations no README command met (remove them, or restore the example): {unused:?}"
    );
}

/// Where in which README.
struct Block {
    file: &'static str,
    line: usize,
    section: String,
    /// Complete shell commands (a command continued with `\` or spanning lines is one).
    commands: Vec<String>,
    kind: Kind,
}

enum Kind {
    SetUp,
    WebSocket(String),
    Bot(String),
    Shell,
}

impl Block {
    fn place(&self) -> String {
        format!("{} line {} ({})", self.file, self.line, self.section)
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target"))
}

fn require_tools() {
    for tool in ["bash", "curl", "jq"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "the README's examples need `{tool}`, which is not installed: install it \
             (`apt-get install {tool}`; .ci/run does when it is missing)"
        );
    }
}

/// One line of a command, whitespace collapsed and `\` continuations joined.
fn flat(command: &str) -> String {
    command
        .replace("\\\n", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn complete(text: &str) -> bool {
    !text.ends_with('\\')
        && Command::new("bash")
            .args(["-n", "-c", text])
            .stderr(Stdio::null())
            .status()
            .expect("bash")
            .success()
}

/// The ```sh (or bash, shell) blocks of a README, each with its section heading.
fn shell_blocks(file: &'static str) -> Vec<Block> {
    let text =
        std::fs::read_to_string(workspace().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut blocks = Vec::new();
    let mut section = String::from("(top)");
    let mut lines = text.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        if let Some(heading) = line.strip_prefix('#') {
            section = heading.trim_start_matches('#').trim().to_owned();
            continue;
        }
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let shell = matches!(info.trim(), "sh" | "bash" | "shell");
        let mut body = Vec::new();
        for (_, line) in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                break;
            }
            body.push(line);
        }
        if !shell {
            continue;
        }
        let mut commands = Vec::new();
        let mut current = String::new();
        for line in body {
            if current.is_empty() && line.trim().is_empty() {
                continue;
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(line);
            if complete(current.trim_end()) {
                commands.push(std::mem::take(&mut current));
            }
        }
        assert!(
            current.is_empty(),
            "{file} line {}: an incomplete shell command: {current}",
            number + 1
        );
        let place = format!("{file} line {}", number + 1);
        let kind = classify(&commands, &place);
        blocks.push(Block {
            file,
            line: number + 1,
            section: section.clone(),
            commands,
            kind,
        });
    }
    blocks
}

fn classify(commands: &[String], place: &str) -> Kind {
    let flats: Vec<String> = commands.iter().map(|c| flat(c)).collect();
    let special =
        |c: &String| c.starts_with("cargo ") || c == TEST_COMMAND || c.starts_with("websocat ");
    if flats.len() != 1 || !special(&flats[0]) {
        assert!(
            !flats.iter().any(special),
            "{place}: a set-up, websocat or cargo command must be alone in its block"
        );
        return Kind::Shell;
    }
    let command = &flats[0];
    if command.starts_with(SERVE) || command == TEST_COMMAND {
        Kind::SetUp
    } else if let Some(rest) = command.strip_prefix("websocat ") {
        Kind::WebSocket(rest.split_whitespace().next().expect("a URL").to_owned())
    } else if let Some(flags) = command.strip_prefix(BOT) {
        Kind::Bot(flags.trim().to_owned())
    } else {
        panic!("{place}: a cargo command the test does not know what to do with: {command}")
    }
}

/// The state the README's examples build up, and what they should print.
struct Tour<'a> {
    server: &'a Server,
    root: &'a Path,
    quic: String,
    fingerprint: String,
    anon: Api,
    /// username → (token, user id), logged in by the test.
    users: BTreeMap<String, (String, String)>,
    /// Who `<access_token>` is in the current section.
    token_of: String,
    /// The best ask the README's order book showed, and the fills alice's orders made.
    best_ask: Option<Decimal>,
    bought: (Decimal, Decimal),
    resting: Vec<String>,
    /// The market the tour created (as closing it printed it).
    created: Option<Value>,
    /// The API key the README made: (id, secret).
    key: Option<(String, String)>,
    socket: Option<(Socket, u64)>,
    used: BTreeSet<&'static str>,
    shells: usize,
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

impl<'a> Tour<'a> {
    fn new(server: &'a Server, root: &'a Path, quic: String) -> Tour<'a> {
        let log = server.log_text();
        let fingerprint = log
            .lines()
            .find_map(|l| l.split("certificate SHA-256 fingerprint ").nth(1))
            .unwrap_or_else(|| panic!("serve printed no feed fingerprint:\n{log}"))
            .trim()
            .to_owned();
        assert_eq!(fingerprint.len(), 64, "fingerprint: {fingerprint}");
        // "the logins are printed at start-up (and kept in data/demo-credentials.txt)"
        let credentials =
            std::fs::read_to_string(server.data_dir.join("demo-credentials.txt")).unwrap();
        let alice = credentials
            .lines()
            .find(|l| l.starts_with("alice "))
            .expect("alice in the credentials file");
        assert!(
            log.contains(alice),
            "serve did not print the logins:\n{log}"
        );
        let mut tour = Tour {
            server,
            root,
            quic,
            fingerprint,
            anon: server.api(),
            users: BTreeMap::new(),
            token_of: "alice".to_owned(),
            best_ask: None,
            bought: (Decimal::ZERO, Decimal::ZERO),
            resting: Vec::new(),
            created: None,
            key: None,
            socket: None,
            used: BTreeSet::new(),
            shells: 0,
        };
        for name in ["admin", "alice", "bob", "maker"] {
            let (_, password) = server.demo_login(name);
            tour.log_in(name, &password);
        }
        tour
    }

    fn log_in(&mut self, name: &str, password: &str) {
        let body = self
            .anon
            .post(
                "/api/v1/auth/login",
                &json!({"username": name, "password": password}),
            )
            .expect(200);
        self.users.insert(
            name.to_owned(),
            (
                body["access_token"].as_str().expect("token").to_owned(),
                body["user_id"].as_str().expect("user id").to_owned(),
            ),
        );
    }

    fn api(&self, name: &str) -> Api {
        self.anon.with_token(&self.users[name].0)
    }

    fn id(&self, name: &str) -> &str {
        &self
            .users
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not a user the test logged in"))
            .1
    }

    fn section(&mut self, blocks: &[Block]) {
        // The bot's key belongs to a user of its own with no money yet, so that its first
        // quote is refused (and it must carry on), and alice can trade against it.
        self.token_of = if blocks.iter().any(|b| matches!(b.kind, Kind::Bot(_))) {
            if !self.users.contains_key("carol") {
                let (carol, id) = self.anon.signup("carol");
                let token = carol.token.expect("carol's token");
                self.users.insert("carol".to_owned(), (token, id));
            }
            "carol".to_owned()
        } else {
            "alice".to_owned()
        };
        let mut shell: Option<Shell> = None;
        for block in blocks {
            match &block.kind {
                Kind::SetUp => eprintln!("not run (set-up) {}", block.place()),
                Kind::WebSocket(url) => self.websocket(block, url),
                Kind::Bot(flags) => self.bot(block, flags),
                Kind::Shell => {
                    for command in &block.commands {
                        let text = self.substitute(block, command);
                        let shell = shell.get_or_insert_with(|| {
                            self.shells += 1;
                            Shell::start(self.root, self.shells)
                        });
                        let output = shell.run(&text, block);
                        eprintln!("ran {}: {}", block.place(), flat(command));
                        if let Err(why) = self.check(command, &output) {
                            panic!(
                                "{}: the README's command\n{command}\nprinted\n{output}\n\
                                 but {why}",
                                block.place()
                            );
                        }
                        // What an assignment keeps must be something: a failed login
                        // leaves `null` (jq's answer for a missing field) or nothing.
                        for name in assigned(command) {
                            let value = shell.run(&format!("printf '%s' \"${{{name}-}}\""), block);
                            assert!(
                                !value.is_empty() && value != "null",
                                "{}: after the README's command\n{command}\n${name} is \
                                 `{value}`",
                                block.place()
                            );
                        }
                    }
                }
            }
        }
        if let Some(shell) = shell {
            shell.finish();
        }
        if let Some((socket, seq)) = self.socket.take() {
            watch_live(socket, seq);
        }
    }

    /// The README's addresses and placeholders replaced by the real ones.
    fn substitute(&self, block: &Block, command: &str) -> String {
        let text = command
            .replace(README_HTTP, &format!("localhost:{}", self.server.port))
            .replace(README_HTTP_IP, &format!("127.0.0.1:{}", self.server.port))
            .replace(README_FEED, &self.quic);
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(open) = rest.find('<') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name = after.find('>').map(|close| &after[..close]).filter(|name| {
                name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || " _-".contains(c))
            });
            let Some(name) = name else {
                out.push('<');
                rest = after;
                continue;
            };
            out.push_str(&self.placeholder(block, command, name));
            rest = &after[name.len() + 1..];
        }
        out.push_str(rest);
        out
    }

    fn placeholder(&self, block: &Block, command: &str, name: &str) -> String {
        match name {
            "from the demo output" => {
                let user = body(command)
                    .and_then(|b| b["username"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| {
                        panic!("{}: whose password is <{name}> in {command}", block.place())
                    });
                self.server.demo_login(&user).1
            }
            "access_token" => self.users[&self.token_of].0.clone(),
            "printed by serve" => self.fingerprint.clone(),
            "secret" => self
                .key
                .as_ref()
                .unwrap_or_else(|| panic!("{}: <secret> before any key was made", block.place()))
                .1
                .clone(),
            other => panic!(
                "{}: the placeholder <{other}> has no value: teach tests/tests/readme.rs one",
                block.place()
            ),
        }
    }

    /// What the README says `command` shows; the name of the expectation that met it.
    fn check(&mut self, command: &str, output: &str) -> Result<(), String> {
        let name = self.expect(command, output)?;
        self.used.insert(name);
        Ok(())
    }

    fn expect(&mut self, command: &str, output: &str) -> Result<&'static str, String> {
        let line = flat(command);
        let first = line.split_whitespace().next().unwrap_or("");
        let is_definition = first.ends_with("()") || line.contains("() {");
        let is_assignment = first
            .split_once('=')
            .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(is_name_char));
        if is_definition || is_assignment {
            ensure(output.trim().is_empty(), "it should print nothing")?;
            return Ok("definitions and assignments print nothing");
        }
        if first != "curl" {
            return Err(
                "the test has no expectation for this command: add one to tests/tests/readme.rs"
                    .into(),
            );
        }
        let (method, path) = route(&line)?;
        let route = path.split('?').next().unwrap_or("");
        let values: Vec<Value> = serde_json::Deserializer::from_str(output)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("it is not JSON ({e})"))?;
        if let Some(error) = values.iter().find_map(|v| v["error"]["code"].as_str()) {
            return Err(format!("the server answered with the error `{error}`"));
        }
        let one = || match values.as_slice() {
            [value] => Ok(value),
            _ => Err(format!(
                "it should print one JSON value, not {}",
                values.len()
            )),
        };
        let body = body(command);
        let segments: Vec<&str> = route.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", [.., "health"]) => {
                ensure(one()?["status"] == "healthy", "/health should say healthy")?;
                Ok("GET /health")
            }
            ("POST", [.., "auth", "login"]) => {
                let reply = one()?;
                let user = body
                    .as_ref()
                    .and_then(|b| b["username"].as_str())
                    .ok_or("a login without a username")?;
                ensure(
                    reply["access_token"].as_str().is_some_and(|t| t.len() > 20),
                    "a login should return an access_token",
                )?;
                ensure(
                    reply["user_id"] == self.id(user),
                    "the login should be the demo user's",
                )?;
                Ok("POST /api/v1/auth/login")
            }
            ("GET", [.., "wallets", user]) => {
                let reply = one()?;
                ensure(
                    reply["user_id"] == *user,
                    "the wallets should be the user's",
                )?;
                let balance = &reply["wallets"][0]["balance"];
                ensure(
                    decimal(balance).is_some_and(|b| b > Decimal::ZERO),
                    "the wallet should show the demo user's sandbox money as a balance",
                )?;
                Ok("GET /api/v1/wallets/{user}")
            }
            ("GET", [.., "markets"]) => {
                ensure(
                    values.iter().all(|m| {
                        m.as_object().is_some_and(|o| {
                            o.keys().map(String::as_str).collect::<BTreeSet<_>>()
                                == BTreeSet::from(["id", "status", "title"])
                        })
                    }),
                    "jq should print each market's id, title and status",
                )?;
                ensure(
                    values.iter().any(|m| {
                        m["id"] == "mkt_1"
                            && m["status"] == "open"
                            && m["title"].as_str().is_some_and(|t| t.contains("rain"))
                    }),
                    "the list should show mkt_1, the open rain market",
                )?;
                Ok("GET /api/v1/markets")
            }
            ("GET", [.., "markets", market, "orderbook"]) => {
                let book = one()?;
                ensure(
                    book["market_id"] == *market,
                    "the book should be the market's",
                )?;
                ensure(
                    path.contains("outcome_id=out_1") && book["outcome_id"] == "out_1",
                    "the book should be out_1's (Yes)",
                )?;
                let best = |side: &str| {
                    book[side]
                        .as_array()
                        .filter(|levels| !levels.is_empty())
                        .and_then(|levels| decimal(&levels[0]["price"]))
                };
                ensure(
                    best("bids").is_some() && best("asks").is_some(),
                    "the demo maker's bids and asks should be on the book",
                )?;
                ensure(book["seq"].is_u64(), "the book should have its sequence")?;
                // "alice buys 10 YES at 0.60 (it takes the maker's ask)"
                ensure(
                    best("asks") == decimal(&json!("0.60")),
                    "the maker's best ask should be 0.60, as the tour says",
                )?;
                self.best_ask = best("asks");
                Ok("GET /api/v1/markets/{id}/orderbook")
            }
            ("POST", [.., "markets", _, "orders"]) => {
                let order = one()?;
                let body = body.ok_or("an order without a body")?;
                let price = decimal(&body["price"]).ok_or("an order without a price")?;
                let quantity = decimal(&body["quantity"]).ok_or("an order without a quantity")?;
                let crosses =
                    body["order_type"] == "buy" && self.best_ask.is_some_and(|ask| price >= ask);
                if crosses {
                    ensure(
                        matches!(
                            order["status"].as_str(),
                            Some("filled" | "partially_filled")
                        ),
                        "a buy at the ask should fill",
                    )?;
                    ensure(
                        decimal(&order["filled_quantity"]) == Some(quantity)
                            && order["fills"][0]["liquidity"] == "taker",
                        "it should take the whole quantity from the maker's ask",
                    )?;
                    let notional =
                        decimal(&order["filled_notional"]).ok_or("no filled_notional")?;
                    self.bought = (self.bought.0 + quantity, self.bought.1 + notional);
                    Ok("POST /api/v1/markets/{id}/orders (crossing)")
                } else {
                    ensure(
                        order["status"] == "open"
                            && decimal(&order["remaining_quantity"]) == Some(quantity),
                        "a bid below the ask should rest, open",
                    )?;
                    self.resting
                        .push(order["id"].as_str().ok_or("no order id")?.to_owned());
                    Ok("POST /api/v1/markets/{id}/orders (resting)")
                }
            }
            ("GET", [.., "orders"]) => {
                ensure(
                    path.contains("status=open"),
                    "the tour lists the open orders",
                )?;
                let orders = one()?["orders"].as_array().cloned().unwrap_or_default();
                ensure(
                    !self.resting.is_empty()
                        && self.resting.iter().all(|id| {
                            orders
                                .iter()
                                .any(|o| o["id"] == id.as_str() && o["status"] == "open")
                        }),
                    "the open orders should show the resting bid",
                )?;
                Ok("GET /api/v1/orders?status=open")
            }
            ("GET", [.., "users", _, "positions"]) => {
                let positions = one()?["positions"].as_array().cloned().unwrap_or_default();
                let yes = positions
                    .iter()
                    .find(|p| p["market_id"] == "mkt_1" && p["outcome_id"] == "out_1")
                    .ok_or("there should be a position in mkt_1's Yes")?;
                ensure(yes["outcome_text"] == "Yes", "out_1 should be Yes")?;
                // "alice holds 10 YES at a cost of 6": what her fills add up to.
                let ten_at_six = (Decimal::from(10), Decimal::from(6));
                ensure(
                    self.bought == ten_at_six
                        && decimal(&yes["quantity"]) == Some(ten_at_six.0)
                        && decimal(&yes["stake"]) == Some(ten_at_six.1),
                    "alice should hold 10 YES at a cost of 6",
                )?;
                Ok("GET /api/v1/users/{id}/positions")
            }
            ("PUT", [.., "markets", _]) => {
                let market = one()?;
                ensure(market["status"] == "closed", "the market should be closed")?;
                ensure(
                    market["creator_id"] == self.id("bob")
                        && market["market_type"] == "binary"
                        && market["title"] == "Will the tour work?",
                    "it should be bob's new binary market",
                )?;
                self.created = Some(market.clone());
                Ok("PUT /api/v1/markets/{id}")
            }
            ("POST", [.., "markets", _, "resolve"]) => {
                let resolution = one()?;
                let market = self.created.as_ref().ok_or("resolving before closing")?;
                let winner = body
                    .as_ref()
                    .and_then(|b| b["winning_outcome"].as_str())
                    .ok_or("no winning_outcome")?;
                let outcome = market["outcomes"]
                    .as_array()
                    .and_then(|all| all.iter().find(|o| o["outcome_text"] == winner))
                    .ok_or("the winner should be one of the market's outcomes")?;
                ensure(
                    resolution["status"] == "proposed"
                        && resolution["proposed_value"] == outcome["id"]
                        && resolution["proposed_by"] == self.id("bob"),
                    "the resolution should be bob's proposal of the Yes outcome",
                )?;
                // "five minutes in the demo"
                let window = seconds(&resolution["dispute_window_ends_at"])
                    .zip(seconds(&resolution["proposed_at"]))
                    .map(|(end, start)| end - start);
                ensure(
                    window == Some(300),
                    "the demo's dispute window should be five minutes",
                )?;
                Ok("POST /api/v1/markets/{id}/resolve")
            }
            ("POST", [.., "api-keys"]) => {
                let key = one()?;
                let id = key["id"].as_str().ok_or("the key should have an id")?;
                let secret = key["secret"]
                    .as_str()
                    .ok_or("the key should show its secret")?;
                ensure(
                    id.starts_with("key_")
                        && secret.len() >= 32
                        && key["status"] == "active"
                        && key["user_id"] == self.id(&self.token_of),
                    "it should be an active key of the token's user, with its secret",
                )?;
                self.key = Some((id.to_owned(), secret.to_owned()));
                Ok("POST /api/v1/api-keys")
            }
            _ => Err(format!(
                "the test has no expectation for {method} {route}: add one to \
                 tests/tests/readme.rs"
            )),
        }
    }

    /// `websocat URL`: the same URL with a WebSocket client; the snapshot comes first.
    fn websocket(&mut self, block: &Block, url: &str) {
        let url = self.substitute(block, url);
        let (mut socket, _) = tungstenite::connect(url.as_str())
            .unwrap_or_else(|e| panic!("{}: connecting to {url}: {e}", block.place()));
        let started = Instant::now();
        let snapshot = loop {
            assert!(
                started.elapsed() < PATIENCE,
                "{}: no snapshot",
                block.place()
            );
            if let Some(message) = read_message(&mut socket) {
                break message;
            }
        };
        let book = &snapshot["data"]["books"][0];
        assert!(
            snapshot["type"] == "snapshot"
                && snapshot["data"]["market"]["id"] == "mkt_1"
                && book["seq"].is_u64()
                && book["outcome_id"] == "out_1"
                && book["mirrored_outcome_id"] == "out_2",
            "{}: the first message should be mkt_1's snapshot, its book with its sequence \
             number and the outcome that mirrors it: {snapshot}",
            block.place()
        );
        let seq = book["seq"].as_u64().unwrap();
        self.socket = Some((socket, seq));
        self.used.insert("websocat");
        eprintln!("websocket {}: {url} sent the snapshot", block.place());
    }

    /// The example bot with the README's flags: it quotes, carries on after a refused
    /// quote, reports a fill, and cancels its quotes on Ctrl-C.
    fn bot(&mut self, block: &Block, flags: &str) {
        let binary = target_dir().join("debug/examples/market_maker");
        assert!(
            binary.exists(),
            "{} does not exist: build it with `cargo build -p betbet-feed-client --example \
             market_maker` (scripts/test does)",
            binary.display()
        );
        let (key_id, _) = self
            .key
            .clone()
            .unwrap_or_else(|| panic!("{}: the bot's key was never made", block.place()));
        let readme_key = flags
            .split_whitespace()
            .skip_while(|f| *f != "--key-id")
            .nth(1)
            .unwrap_or_default();
        assert_eq!(
            readme_key,
            key_id,
            "{}: the README's bot uses --key-id {readme_key}, but the key its example made is \
             {key_id}",
            block.place()
        );
        let help = Command::new(&binary)
            .arg("--help")
            .output()
            .expect("bot --help");
        let help = String::from_utf8_lossy(&help.stdout);
        for (flag, default) in [
            ("--fair", ""),
            ("--spread", "[default: 0.04]"),
            ("--size", "[default: 10]"),
            ("--tick", "[default: 0.01]"),
            ("--max-inventory", "[default: 100]"),
        ] {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(flag) && l.contains(default)),
                "the README says `{flag}` {default}; --help says\n{help}"
            );
        }

        let flags = self.substitute(block, flags);
        let mut bot = Bot::start(&binary, &flags, self.root, "market_maker");
        let carol = self.api("carol");
        let open_orders = || -> Vec<Value> {
            carol.get("/api/v1/orders?status=open").expect(200)["orders"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        bot.wait_for(&format!("logged in as {}", self.id("carol")));
        // No money yet: the quote is refused, and the bot waits for the market to move.
        bot.wait_for("quoting out_1: bid ");
        let refused = bot.wait_for("quote 1 refused: ");
        assert!(refused.ends_with("; requoting"), "{refused}");
        carol
            .post(
                "/api/v1/deposits/initiate",
                &json!({"amount": "100", "currency": "USD", "payment_method": "sandbox"}),
            )
            .expect(201);
        let book = |api: &Api| {
            api.get("/api/v1/markets/mkt_1/orderbook?outcome_id=out_1")
                .expect(200)
        };
        let ask = book(&carol)["asks"][0]["price"].clone();
        let bob = self.api("bob");
        let trade = bob
            .post(
                "/api/v1/markets/mkt_1/orders",
                &json!({"outcome_id": "out_1", "order_type": "buy", "price": ask, "quantity": "1"}),
            )
            .expect(201);
        assert_eq!(trade["status"], "filled", "{trade}");

        // The trade makes it quote again, and this time the quote rests.
        let quote = bot.wait_for("quoting out_1: bid ");
        let (bid, ask) = quoted(&quote);
        let started = Instant::now();
        loop {
            let mut sides: Vec<(String, Option<Decimal>)> = open_orders()
                .iter()
                .map(|o| {
                    (
                        o["order_type"].as_str().unwrap_or("").to_owned(),
                        decimal(&o["price"]),
                    )
                })
                .collect();
            sides.sort();
            if sides
                == [
                    ("buy".to_owned(), Some(bid)),
                    ("sell".to_owned(), Some(ask)),
                ]
            {
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the bot's quote `{quote}` is not on the book: {sides:?}\n{}",
                bot.seen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        // Alice takes whichever side the bot alone is best on: the bot reports the fill.
        let book = book(&carol);
        let alone = |side: &str, price: Decimal| {
            let level = &book[side][0];
            decimal(&level["price"]) == Some(price) && level["orders"] == 1
        };
        let (order_type, price, report) = if alone("bids", bid) {
            (
                "sell",
                bid,
                format!("bought 1 @ {} on out_1; inventory 1", shown(bid)),
            )
        } else if alone("asks", ask) {
            (
                "buy",
                ask,
                format!("sold 1 @ {} on out_1; inventory -1", shown(ask)),
            )
        } else {
            panic!("the bot's quote `{quote}` is not alone at the top of the book: {book}")
        };
        let taken = self
            .api("alice")
            .post(
                "/api/v1/markets/mkt_1/orders",
                &json!({"outcome_id": "out_1", "order_type": order_type,
                        "price": price.to_string(), "quantity": "1"}),
            )
            .expect(201);
        assert_eq!(taken["status"], "filled", "{taken}");
        assert_eq!(decimal(&taken["fills"][0]["price"]), Some(price), "{taken}");
        bot.wait_for(&report);

        // Ctrl-C: it cancels its quotes and says so.
        bot.interrupt();
        bot.wait_for("quotes cancelled; bye");
        let status = bot.wait_exit();
        assert!(
            status.success(),
            "the bot exited with {status}\n{}",
            bot.seen()
        );
        let left = open_orders();
        assert!(left.is_empty(), "the bot left quotes on the book: {left:?}");

        // A secret can begin with `-` (it is base64url): the README's flags must still read
        // it as the secret. A wrong one then fails at login, not at reading the flags.
        let (_, secret) = self.key.clone().unwrap();
        let wrong = format!("-{}", &secret[1..]);
        let flags = flags.replace(&secret, &wrong);
        let mut wrong = Bot::start(&binary, &flags, self.root, "wrong-secret");
        let status = wrong.wait_exit();
        let said = wrong.seen();
        assert!(
            !status.success() && (said.contains("LoginRejected") || said.contains("login refused")),
            "{}: the README's bot flags cannot take a secret that begins with `-`: {said}",
            block.place()
        );
        self.used.insert("market_maker");
        eprintln!(
            "ran {}: the bot {}",
            block.place(),
            bot.lines.seen.join(" | ")
        );
    }
}

/// The shell variables a command assigns (`A=$(…); B=$(…)`).
fn assigned(command: &str) -> Vec<String> {
    flat(command)
        .split(';')
        .filter_map(|part| {
            let (name, _) = part.trim().split_once('=')?;
            (!name.is_empty() && name.chars().all(is_name_char)).then(|| name.to_owned())
        })
        .collect()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ensure(condition: bool, why: &str) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(why.to_owned())
    }
}

fn decimal(value: &Value) -> Option<Decimal> {
    value.as_str()?.parse().ok()
}

/// A price as the bot prints it (`0.6`, `0.56`).
fn shown(price: Decimal) -> String {
    price.normalize().to_string()
}

/// (bid, ask) of a bot line `quoting out_1: bid 0.56 × 10, ask 0.6 × 10`.
fn quoted(line: &str) -> (Decimal, Decimal) {
    let price = |side: &str| -> Decimal {
        line.split(side)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no {side}price in `{line}`"))
    };
    (price("bid "), price("ask "))
}

/// Seconds since the epoch of an RFC 3339 UTC time (`2030-01-01T00:00:00.123Z`).
fn seconds(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date.next()??, date.next()??, date.next()??);
    let mut time = time.trim_end_matches('Z').splitn(3, ':');
    let (h, min) = (
        time.next()?.parse::<i64>().ok()?,
        time.next()?.parse::<i64>().ok()?,
    );
    let s = time.next()?.split('.').next()?.parse::<i64>().ok()?;
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3_600 + min * 60 + s)
}

/// (method, path and query) of a curl command on the README's address.
fn route(line: &str) -> Result<(String, String), String> {
    let method = line
        .split_once("-X ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("GET")
        .to_owned();
    let path = line
        .split_once(README_HTTP)
        .map(|(_, rest)| {
            rest.split(|c: char| c.is_whitespace() || c == '\'' || c == '"')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .ok_or_else(|| format!("a curl command not on {README_HTTP}"))?;
    Ok((method, path))
}

/// The JSON of a command's `-d '…'` body, if it has one.
fn body(command: &str) -> Option<Value> {
    let (_, rest) = command.split_once("-d '")?;
    let (json, _) = rest.split_once('\'')?;
    serde_json::from_str(json).ok()
}

fn quote_path(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// The next JSON text message, or `None` after a quiet moment.
fn read_message(socket: &mut Socket) -> Option<Value> {
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    match socket.read() {
        Ok(tungstenite::Message::Text(text)) => Some(serde_json::from_str(&text).expect("JSON")),
        Ok(_) => None,
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(e) => panic!("socket: {e}"),
    }
}

/// "then deltas and trades with consecutive sequence numbers": what the tour's orders did
/// to the book while the socket watched.
fn watch_live(mut socket: Socket, mut seq: u64) {
    let (mut deltas, mut trades) = (0, 0);
    let started = Instant::now();
    while deltas == 0 || trades == 0 {
        assert!(
            started.elapsed() < PATIENCE,
            "the socket got {deltas} deltas and {trades} trades while the tour traded"
        );
        let Some(message) = read_message(&mut socket) else {
            continue;
        };
        let kind = message["type"].as_str().unwrap_or("");
        if kind != "book_delta" && kind != "trade" {
            continue;
        }
        let next = message["seq"].as_u64().expect("seq");
        assert_eq!(next, seq + 1, "consecutive sequence numbers: {message}");
        seq = next;
        if kind == "trade" {
            trades += 1;
        } else {
            deltas += 1;
        }
    }
    let _ = socket.close(None);
}

/// Lines of a child's output as they come, with a deadline for each one awaited.
struct Lines {
    receiver: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn new(from: impl Read + Send + 'static) -> Lines {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            receiver,
            seen: Vec::new(),
        }
    }

    /// The next line; `Err` with the reason when there is none in time or the output ended.
    fn next(&mut self, deadline: Instant) -> Result<String, &'static str> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.receiver.recv_timeout(left) {
            Ok(line) => {
                self.seen.push(line.clone());
                Ok(line)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err("timed out"),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err("the output ended"),
        }
    }
}

/// One bash process for a README section: commands in, each one's output out.
struct Shell {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines,
    stderr: PathBuf,
    commands: usize,
}

impl Shell {
    fn start(dir: &Path, number: usize) -> Shell {
        let stderr = dir.join(format!("bash-{number}.stderr"));
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start bash");
        let lines = Lines::new(child.stdout.take().expect("stdout"));
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "set -euo pipefail").expect("bash stdin");
        Shell {
            child,
            stdin: Some(stdin),
            lines,
            stderr,
            commands: 0,
        }
    }

    /// Runs one command (its stdin is /dev/null, so it cannot eat the script) and returns
    /// what it printed.
    fn run(&mut self, command: &str, block: &Block) -> String {
        self.commands += 1;
        let marker = format!("@@betbet-readme-{}@@", self.commands);
        let script = format!("{{\n{command}\n}} </dev/null\nprintf '\\n%s\\n' '{marker}'\n");
        let stdin = self.stdin.as_mut().expect("bash stdin");
        let mut output = Vec::new();
        let mut failure = stdin
            .write_all(script.as_bytes())
            .and_then(|()| stdin.flush())
            .err()
            .map(|_| "bash is gone");
        let deadline = Instant::now() + PATIENCE;
        while failure.is_none() {
            match self.lines.next(deadline) {
                Ok(line) if line == marker => break,
                Ok(line) => output.push(line),
                Err(why) => failure = Some(why),
            }
        }
        if let Some(why) = failure {
            let _ = self.child.kill();
            let status = self.child.wait().ok();
            panic!(
                "{}: {why} running the README's command\n{command}\n\
                 bash exited with {status:?}; it printed\n{}\nand on stderr\n{}",
                block.place(),
                output.join("\n"),
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
        }
        if output.last().is_some_and(String::is_empty) {
            output.pop();
        }
        output.join("\n")
    }

    fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for bash");
        assert!(
            status.success(),
            "bash exited with {status}: {}",
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        );
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example bot, running.
struct Bot {
    child: Child,
    lines: Lines,
    stderr: PathBuf,
}

impl Bot {
    fn start(binary: &Path, flags: &str, dir: &Path, name: &str) -> Bot {
        let stderr = dir.join(format!("{name}.stderr"));
        // bash reads the README's flags as a reader's shell would, then becomes the bot
        // (`exec`), so the pid is the bot's and Ctrl-C reaches it.
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(format!("exec {} {flags}", quote_path(binary)))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start the bot");
        let lines = Lines::new(child.stdout.take().expect("stdout"));
        Bot {
            child,
            lines,
            stderr,
        }
    }

    fn seen(&self) -> String {
        format!(
            "the bot printed\n{}\nand on stderr\n{}",
            self.lines.seen.join("\n"),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// The next line that starts with `prefix` (earlier ones are kept for messages).
    fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.lines.next(deadline) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(why) => panic!(
                    "{why} waiting for the bot to print `{prefix}…`; {}",
                    self.seen()
                ),
            }
        }
    }

    /// Ctrl-C.
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -INT the bot");
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the bot") {
                return status;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the bot did not stop: {}",
                self.seen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

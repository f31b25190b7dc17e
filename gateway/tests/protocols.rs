//! `docs/protocols.md` against the code.
//!
//! The WebSocket half of the document is checked against the source of
//! `gateway/src/api/ws.rs`, `gateway/src/api/games/socket.rs` and
//! `gateway/src/api/games/tournament_socket.rs` (and the constants of `hub.rs`), read as
//! Rust tokens — so line
//! breaks, comments and formatting do not matter:
//! - server message types: the literal first argument of every `envelope(…)` call, the
//!   literal kinds a request handler returns (`Ok(("order_ack", …))`, the only way a
//!   non-literal `envelope(kind, …)` gets its kind), and any `"type": "…"` / `["type"] = "…"`;
//! - client message types: the string patterns of every `match` on a `kind`;
//! - room types: the string patterns of the `match` on `room_type`;
//! - the JSON field names ws.rs writes (`"key": …` in `json!`, `x["key"] = …`);
//! - close codes: every `CLOSE_*` constant and every literal code passed to `close(…)`, with
//!   the reasons sent with them;
//! - error codes: `ApiError::new(_, "code", _)`, `ApiError::helper(…)` (resolved through
//!   `gateway/src/error.rs`) and `ApiError::from(ResultCode::Variant)`;
//! - every constant (a limit), with its value.
//!
//! The QUIC half is checked against the protocol crate itself: every tag of `FeedRequest`,
//! `FeedReply` and `FeedData` (found by decoding each of the 65 536 possible tags), with the
//! variant's name and its smallest payload size; every `ExecKind`, `ResultCode` and field enum
//! value; the login's signed message; the feed's constants and close codes from the source of
//! `gateway/src/feed.rs` and `protocol/src/feed.rs`.
//!
//! How the document must name them (see `missing`): a message type in a heading, in
//! backticks; a feed message in a heading as its backticked `Enum::Variant` followed by
//! `(tag N, M bytes`; an enum value or result code as a table row that begins with its
//! number and its backticked name; a close code in a table row with its backticked number,
//! its constant and its reasons; a constant on a line with its value; fields, error codes
//! and field values in backticks anywhere in their part.
//! The WebSocket part runs from the `## …WebSocket…` heading to the `## …QUIC…` one.

use betbet_protocol::codec::{Decode, DecodeError, Encode, Reader};
use betbet_protocol::command::{MarketStatus, OrderKind, SelfTradePrevention, Side, TimeInForce};
use betbet_protocol::event::{BookSide, DoneReason, OrderStatus};
use betbet_protocol::feed::{ExecKind, FeedData, FeedReply, FeedRequest};
use betbet_protocol::result::ResultCode;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------
// Reading Rust source as tokens.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// A string or byte-string literal's contents (escapes resolved).
    Str(String),
    Num(String),
    /// A char or byte literal.
    Char,
    Punct(&'static str),
}

fn is_ident(t: &Tok, name: &str) -> bool {
    matches!(t, Tok::Ident(i) if i == name)
}

fn is_punct(t: &Tok, p: &str) -> bool {
    matches!(t, Tok::Punct(q) if *q == p)
}

const PUNCTS: &[&str] = &[
    "=>", "::", "->", "<<", ">>", "==", "!=", "<=", ">=", "&&", "||", "..", "(", ")", "[", "]",
    "{", "}", "<", ">", ",", ";", ":", ".", "=", "+", "-", "*", "/", "%", "!", "&", "|", "^", "?",
    "#", "@", "$", "~",
];

/// Rust source as tokens, without comments; total on the files it reads (panics on
/// anything it cannot lex, so a change it does not understand is noticed).
fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= c.len() {
                    panic!("unterminated block comment");
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            let (text, next) = string(&c, i + 1);
            out.push(Tok::Str(text));
            i = next;
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{…}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                // Past the escaped character, which may itself be a quote.
                let mut j = i + 3;
                while at(j) != '\'' {
                    j += 1;
                }
                out.push(Tok::Char);
                i = j + 1;
            } else if at(i + 2) == '\'' {
                out.push(Tok::Char);
                i += 3;
            } else {
                i += 1;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
        } else if ch.is_ascii_digit() {
            let start = i;
            while at(i).is_ascii_alphanumeric()
                || at(i) == '_'
                || (at(i) == '.' && at(i + 1).is_ascii_digit())
            {
                i += 1;
            }
            out.push(Tok::Num(c[start..i].iter().collect()));
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            match (word.as_str(), at(i)) {
                ("b", '"') => {
                    let (text, next) = string(&c, i + 1);
                    out.push(Tok::Str(text));
                    i = next;
                }
                ("b", '\'') => {
                    let mut j = i + 1;
                    if at(j) == '\\' {
                        j += 1;
                    }
                    j += 1;
                    while at(j) != '\'' {
                        j += 1;
                    }
                    out.push(Tok::Char);
                    i = j + 1;
                }
                ("r" | "br", '"' | '#') if at(i) == '"' || at(i + 1) == '"' || at(i + 1) == '#' => {
                    let mut hashes = 0;
                    while at(i) == '#' {
                        hashes += 1;
                        i += 1;
                    }
                    assert_eq!(at(i), '"', "raw string");
                    i += 1;
                    let start = i;
                    loop {
                        if at(i) == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                            break;
                        }
                        assert!(i < c.len(), "unterminated raw string");
                        i += 1;
                    }
                    out.push(Tok::Str(c[start..i].iter().collect()));
                    i += 1 + hashes;
                }
                _ => out.push(Tok::Ident(word)),
            }
        } else {
            let rest: String = c[i..(i + 2).min(c.len())].iter().collect();
            let punct = PUNCTS
                .iter()
                .find(|p| rest.starts_with(**p))
                .unwrap_or_else(|| panic!("cannot lex {ch:?}"));
            out.push(Tok::Punct(punct));
            i += punct.chars().count();
        }
    }
    out
}

/// A string literal's contents from just after its opening quote; returns the index after
/// the closing quote.
fn string(c: &[char], mut i: usize) -> (String, usize) {
    let mut text = String::new();
    loop {
        match c.get(i).copied() {
            None => panic!("unterminated string"),
            Some('"') => return (text, i + 1),
            Some('\\') => {
                let e = c[i + 1];
                i += 2;
                match e {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    '0' => text.push('\0'),
                    '\n' => {
                        while c[i].is_whitespace() {
                            i += 1;
                        }
                    }
                    'u' => {
                        let close = (i..).find(|&k| c[k] == '}').expect("\\u{…}");
                        let hex: String = c[i + 1..close].iter().collect();
                        text.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                        i = close + 1;
                    }
                    'x' => {
                        let hex: String = c[i..i + 2].iter().collect();
                        text.push(char::from(u8::from_str_radix(&hex, 16).unwrap()));
                        i += 2;
                    }
                    other => text.push(other),
                }
            }
            Some(ch) => {
                text.push(ch);
                i += 1;
            }
        }
    }
}

fn depth_change(t: &Tok) -> i32 {
    match t {
        Tok::Punct("(" | "[" | "{") => 1,
        Tok::Punct(")" | "]" | "}") => -1,
        _ => 0,
    }
}

/// The arguments of the call whose `(` is at `open`, split at top-level commas.
fn args(toks: &[Tok], open: usize) -> Vec<&[Tok]> {
    assert!(is_punct(&toks[open], "("));
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, open + 1);
    for (k, t) in toks.iter().enumerate().skip(open) {
        depth += depth_change(t);
        if depth == 0 {
            if start < k {
                out.push(&toks[start..k]);
            }
            return out;
        }
        if depth == 1 && is_punct(t, ",") {
            out.push(&toks[start..k]);
            start = k + 1;
        }
    }
    panic!("unclosed call");
}

/// Every call of `name(…)` (a function, a method or the last segment of a path), not its
/// definition: the index of each call's `(`.
fn calls(toks: &[Tok], name: &str) -> Vec<usize> {
    (0..toks.len().saturating_sub(1))
        .filter(|&k| is_ident(&toks[k], name) && is_punct(&toks[k + 1], "("))
        .filter(|&k| k == 0 || !is_ident(&toks[k - 1], "fn"))
        .map(|k| k + 1)
        .collect()
}

/// Calls of `Type::function(…)`: the function's name and the index of its `(`.
fn path_calls<'a>(toks: &'a [Tok], ty: &str) -> Vec<(&'a str, usize)> {
    (0..toks.len().saturating_sub(3))
        .filter(|&k| is_ident(&toks[k], ty) && is_punct(&toks[k + 1], "::"))
        .filter_map(|k| match (&toks[k + 2], &toks[k + 3]) {
            (Tok::Ident(f), Tok::Punct("(")) => Some((f.as_str(), k + 3)),
            _ => None,
        })
        .collect()
}

fn single_str(arg: &[Tok]) -> Option<&str> {
    match arg {
        [Tok::Str(s)] => Some(s),
        _ => None,
    }
}

/// The string literals in the patterns of every `match` whose scrutinee names `ident`.
fn match_patterns(toks: &[Tok], ident: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for m in (0..toks.len()).filter(|&k| is_ident(&toks[k], "match")) {
        // The scrutinee runs to the first `{` outside brackets.
        let mut k = m + 1;
        let mut depth = 0;
        while !(depth == 0 && is_punct(&toks[k], "{")) {
            depth += depth_change(&toks[k]);
            k += 1;
        }
        if !toks[m + 1..k].iter().any(|t| is_ident(t, ident)) {
            continue;
        }
        // Arms: a pattern (collect its strings) up to `=>`, then a body up to the `,` at
        // arm level or the `}` closing a block body.
        let mut depth = 0;
        let mut in_pattern = true;
        let mut j = k + 1;
        loop {
            let t = &toks[j];
            if depth == 0 && is_punct(t, "}") {
                break;
            }
            if in_pattern {
                if let Tok::Str(s) = t {
                    found.insert(s.clone());
                }
                if depth == 0 && is_punct(t, "=>") {
                    in_pattern = false;
                }
                depth += depth_change(t);
            } else {
                depth += depth_change(t);
                if depth == 0 && is_punct(t, ",") {
                    in_pattern = true;
                } else if depth == 0 && is_punct(t, "}") {
                    let next = &toks[j + 1];
                    if !(is_punct(next, ",")
                        || is_punct(next, ".")
                        || is_punct(next, "?")
                        || is_ident(next, "else"))
                    {
                        in_pattern = true;
                    }
                }
            }
            j += 1;
        }
    }
    found
}

/// A constant's value when it is a plain number, a product or shift of numbers, a
/// `Duration::from_secs/millis(n)` (its number) or a (byte) string.
fn const_value(expr: &[Tok]) -> Option<String> {
    let num = |t: &Tok| match t {
        Tok::Num(n) => {
            let digits: String = n
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '_')
                .collect();
            digits.replace('_', "").parse::<u128>().ok()
        }
        _ => None,
    };
    match expr {
        [Tok::Str(s)] => Some(s.clone()),
        [n] => num(n).map(|n| n.to_string()),
        [a, Tok::Punct("*"), b] => Some((num(a)? * num(b)?).to_string()),
        [a, Tok::Punct("<<"), b] => Some((num(a)? << num(b)?).to_string()),
        [
            d,
            Tok::Punct("::"),
            Tok::Ident(f),
            Tok::Punct("("),
            n,
            Tok::Punct(")"),
        ] if is_ident(d, "Duration") && (f == "from_secs" || f == "from_millis") => {
            num(n).map(|n| n.to_string())
        }
        _ => None,
    }
}

/// Every `const NAME: Type = value;`, with the value when [`const_value`] can read it.
/// The JSON names of the fields of every struct that derives `Serialize`.
fn serialized_fields(toks: &[Tok]) -> BTreeSet<String> {
    let mut fields = BTreeSet::new();
    let mut serialize_pending = false;
    let mut k = 0;
    while k < toks.len() {
        match &toks[k] {
            Tok::Ident(derive) if derive == "derive" => {
                // `derive ( … )`: does it name Serialize?
                let mut j = k + 1;
                let mut depth = 0usize;
                while j < toks.len() {
                    match &toks[j] {
                        Tok::Punct("(") => depth += 1,
                        Tok::Punct(")") => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Tok::Ident(name) if name == "Serialize" => serialize_pending = true,
                        _ => {}
                    }
                    j += 1;
                }
                k = j;
            }
            Tok::Ident(item) if item == "struct" && serialize_pending => {
                serialize_pending = false;
                // Skip the name and any generics up to the body's `{` (a tuple or unit
                // struct has none).
                let Some(open) = (k..toks.len()).find(|&j| {
                    matches!(toks[j], Tok::Punct("{") | Tok::Punct(";") | Tok::Punct("("))
                }) else {
                    break;
                };
                if toks[open] != Tok::Punct("{") {
                    k = open;
                    continue;
                }
                let mut depth = 0usize;
                let mut rename: Option<String> = None;
                // A `#[serde(flatten)]` field adds its type's fields, not its own name.
                let mut flatten = false;
                let mut j = open;
                while j < toks.len() {
                    match &toks[j] {
                        Tok::Punct("{") | Tok::Punct("(") | Tok::Punct("[") | Tok::Punct("<") => {
                            depth += 1
                        }
                        Tok::Punct("}") | Tok::Punct(")") | Tok::Punct("]") | Tok::Punct(">") => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        // `Option<Vec<T>>` closes two.
                        Tok::Punct(">>") => depth -= 2,
                        Tok::Ident(f) if f == "flatten" && depth == 3 => flatten = true,
                        Tok::Ident(r) if r == "rename" && depth == 3 => {
                            if let (Some(Tok::Punct("=")), Some(Tok::Str(name))) =
                                (toks.get(j + 1), toks.get(j + 2))
                            {
                                rename = Some(name.clone());
                            }
                        }
                        Tok::Ident(field)
                            if depth == 1
                                && field != "pub"
                                && toks.get(j + 1) == Some(&Tok::Punct(":")) =>
                        {
                            let name = rename.take().unwrap_or_else(|| field.clone());
                            if !std::mem::take(&mut flatten) {
                                fields.insert(name);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                k = j;
            }
            Tok::Ident(item) if matches!(item.as_str(), "enum" | "fn" | "impl") => {
                serialize_pending = false;
            }
            _ => {}
        }
        k += 1;
    }
    fields
}

fn consts(toks: &[Tok]) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for k in (0..toks.len().saturating_sub(2)).filter(|&k| is_ident(&toks[k], "const")) {
        let Tok::Ident(name) = &toks[k + 1] else {
            continue;
        };
        if name == "_" || !is_punct(&toks[k + 2], ":") {
            continue;
        }
        let eq = (k..)
            .find(|&j| is_punct(&toks[j], "="))
            .expect("a const's value");
        let end = (eq..)
            .find(|&j| is_punct(&toks[j], ";"))
            .expect("a const's end");
        out.insert(name.clone(), const_value(&toks[eq + 1..end]));
    }
    out
}

// ---------------------------------------------------------------------------------------
// What the code names.

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn source(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// What the WebSocket source names.
#[derive(Debug, Default)]
struct WsNames {
    server: BTreeSet<String>,
    client: BTreeSet<String>,
    rooms: BTreeSet<String>,
    fields: BTreeSet<String>,
    /// Close code → the constant that names it (if any) and the reasons sent with it.
    closes: BTreeMap<u16, (Option<String>, BTreeSet<String>)>,
    errors: BTreeSet<String>,
    consts: BTreeMap<String, Option<String>>,
}

/// The error codes of `ApiError`'s helper constructors (`bad_request` → `invalid_request`).
fn error_helpers(error_rs: &str) -> BTreeMap<String, String> {
    let toks = lex(error_rs);
    let mut out = BTreeMap::new();
    for k in (0..toks.len() - 1).filter(|&k| is_ident(&toks[k], "fn")) {
        let Tok::Ident(name) = &toks[k + 1] else {
            continue;
        };
        let open = (k..).find(|&j| is_punct(&toks[j], "{")).expect("a body");
        let mut depth = 0;
        let mut end = open;
        for (j, t) in toks.iter().enumerate().skip(open) {
            depth += depth_change(t);
            if depth == 0 {
                end = j;
                break;
            }
        }
        let body = &toks[open..=end];
        let code = ["Self", "ApiError"]
            .iter()
            .flat_map(|ty| path_calls(body, ty))
            .filter(|(f, _)| *f == "new")
            .find_map(|(_, paren)| args(body, paren).get(1).and_then(|a| single_str(a)));
        if let Some(code) = code {
            out.insert(name.clone(), code.to_owned());
        }
    }
    out
}

fn ws_names(ws_rs: &str, hub_rs: &str, error_rs: &str) -> WsNames {
    let toks = lex(ws_rs);
    let mut names = WsNames::default();

    // Server message types.
    let mut dynamic = BTreeSet::new();
    for paren in calls(&toks, "envelope") {
        let first = args(&toks, paren)[0];
        match first {
            [Tok::Str(kind)] => {
                names.server.insert(kind.clone());
            }
            [Tok::Ident(variable)] => {
                dynamic.insert(variable.clone());
            }
            other => panic!("envelope(…) with a kind this test cannot read: {other:?}"),
        }
    }
    // A non-literal kind comes from a request handler's `Ok(("kind", data))`.
    assert!(
        dynamic.iter().all(|v| v == "kind"),
        "envelope(…) is called with a kind from {dynamic:?}: teach this test where it comes from"
    );
    if !dynamic.is_empty() {
        for k in calls(&toks, "Ok") {
            if let (Tok::Punct("("), Tok::Str(kind)) = (&toks[k + 1], &toks[k + 2]) {
                names.server.insert(kind.clone());
            }
        }
    }
    for k in 0..toks.len().saturating_sub(3) {
        match (&toks[k], &toks[k + 1], &toks[k + 2], &toks[k + 3]) {
            (Tok::Str(t), Tok::Punct(":"), Tok::Str(kind), _) if t == "type" => {
                names.server.insert(kind.clone());
            }
            (Tok::Str(t), Tok::Punct("]"), Tok::Punct("="), Tok::Str(kind)) if t == "type" => {
                names.server.insert(kind.clone());
            }
            _ => {}
        }
    }

    // Client message types and room types.
    names.client = match_patterns(&toks, "kind");
    names.rooms = match_patterns(&toks, "room_type");

    // JSON fields written.
    for k in 0..toks.len().saturating_sub(3) {
        match (&toks[k], &toks[k + 1], &toks[k + 2], &toks[k + 3]) {
            (Tok::Str(key), Tok::Punct(":"), _, _) => {
                names.fields.insert(key.clone());
            }
            (Tok::Punct("["), Tok::Str(key), Tok::Punct("]"), Tok::Punct("=")) => {
                names.fields.insert(key.clone());
            }
            _ => {}
        }
    }

    // The fields of the typed messages: every `#[derive(… Serialize …)]` struct's fields,
    // under their `#[serde(rename = "…")]` name when they have one.
    names.fields.extend(serialized_fields(&toks));
    // The error envelope's fields are declared in error.rs (`ErrorDetail`, `FieldProblem`).
    names.fields.extend(serialized_fields(&lex(error_rs)));

    // Constants, close codes and their reasons.
    names.consts = consts(&toks);
    for (name, value) in &names.consts {
        if name.starts_with("CLOSE_") {
            let code: u16 = value
                .as_deref()
                .and_then(|v| v.parse().ok())
                .expect("a code");
            names.closes.entry(code).or_default().0 = Some(name.clone());
        }
    }
    // A code is a number, a `CLOSE_*` constant, or (`None`) the variable `code` that
    // forwards what `self.end(code, reason)` set.
    let code_of = |arg: &[Tok]| -> Option<u16> {
        match arg {
            [Tok::Num(n)] => Some(n.parse().expect("a close code")),
            [Tok::Ident(c)] if c.starts_with("CLOSE_") => Some(
                names.consts[c]
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .expect("a code"),
            ),
            [Tok::Ident(v)] if v == "code" => None,
            other => panic!("a close code this test cannot read: {other:?}"),
        }
    };
    let mut closes = Vec::new();
    let mut forwarded = false;
    // `close(socket, code, reason)` and `self.end(code, reason)`.
    for (function, code_arg) in [("close", 1), ("end", 0)] {
        for paren in calls(&toks, function) {
            let a = args(&toks, paren);
            let reason = a
                .get(code_arg + 1)
                .and_then(|r| single_str(r))
                .map(str::to_owned);
            match code_of(a[code_arg]) {
                Some(code) => closes.push((code, reason)),
                None => forwarded = true,
            }
        }
    }
    assert!(
        !forwarded || !calls(&toks, "end").is_empty(),
        "close(…) forwards a code, but nothing sets one with end(…)"
    );
    for (code, reason) in closes {
        let entry = names.closes.entry(code).or_default();
        entry.1.extend(reason);
    }

    // Error codes.
    let helpers = error_helpers(error_rs);
    for (function, paren) in path_calls(&toks, "ApiError") {
        let a = args(&toks, paren);
        match function {
            "new" => {
                names.errors.insert(
                    single_str(a[1])
                        .expect("ApiError::new(status, \"code\", …)")
                        .to_owned(),
                );
            }
            "from" => {
                if let Some(p) = a[0].iter().position(|t| is_ident(t, "ResultCode")) {
                    let Some(Tok::Ident(variant)) = a[0][p..].last() else {
                        panic!("ApiError::from(ResultCode::…)")
                    };
                    let code = ResultCode::ALL
                        .iter()
                        .find(|c| format!("{c:?}") == *variant)
                        .unwrap_or_else(|| panic!("no ResultCode::{variant}"));
                    names.errors.insert(code.name().to_owned());
                }
            }
            helper => {
                let code = helpers.get(helper).unwrap_or_else(|| {
                    panic!("ws.rs calls ApiError::{helper}, whose code this test cannot find")
                });
                names.errors.insert(code.clone());
            }
        }
    }

    names.consts.extend(consts(&lex(hub_rs)));
    names
}

// ---------------------------------------------------------------------------------------
// The feed's messages, from the protocol crate.

/// A value of `T` whose encoding begins with `tag`: the tag, then zero bytes — a field whose
/// zero is not a value (a result code) is counted up until it decodes. `None` when `tag` is
/// not one of `T`'s.
fn sample<T: Decode>(tag: u16) -> Option<T> {
    let mut bytes = tag.to_le_bytes().to_vec();
    bytes.resize(256, 0);
    for _ in 0..100_000 {
        let mut reader = Reader::new(&bytes);
        match T::decode(&mut reader) {
            Ok(value) => return Some(value),
            Err(DecodeError::UnknownTag { tag: t, .. }) if reader.offset() == 2 && t == tag => {
                return None;
            }
            Err(DecodeError::UnknownTag { .. } | DecodeError::InvalidValue { .. }) => {
                let at = reader.offset() - 2;
                let n = u16::from_le_bytes([bytes[at], bytes[at + 1]]) + 1;
                bytes[at..at + 2].copy_from_slice(&n.to_le_bytes());
            }
            Err(other) => panic!("tag {tag}: {other}"),
        }
    }
    panic!("tag {tag}: no sample decodes")
}

/// Every variant of a feed enum: (tag, name, smallest payload in bytes).
fn variants<T: Decode + Encode>(
    tag_of: fn(&T) -> u16,
    kind_of: fn(&T) -> &'static str,
) -> Vec<(u16, &'static str, usize)> {
    (0..=u16::MAX)
        .filter_map(|tag| {
            let value = sample::<T>(tag)?;
            assert_eq!(tag_of(&value), tag);
            let mut bytes = Vec::new();
            value.encode(&mut bytes);
            assert_eq!(bytes[..2], tag.to_le_bytes(), "a u16 little-endian tag");
            Some((tag, kind_of(&value), bytes.len() - 2))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// What the document must say.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    WebSocket,
    Feed,
}

/// One thing the document must contain, in one of its two parts.
#[derive(Debug)]
struct Need {
    part: Part,
    what: String,
    check: Check,
}

#[derive(Debug)]
enum Check {
    /// The text appears.
    Text(String),
    /// A heading (`#…`) contains the text.
    Heading(String),
    /// One table row (`|…`) contains all these texts.
    Row(Vec<String>),
    /// A line contains the text and the number (not as part of a longer number).
    LineWithNumber(String, String),
}

fn code(text: &str) -> String {
    format!("`{text}`")
}

fn need(part: Part, what: impl Into<String>, check: Check) -> Need {
    Need {
        part,
        what: what.into(),
        check,
    }
}

fn has_number(line: &str, number: &str) -> bool {
    line.match_indices(number).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

fn cenum_rows<T: Copy>(
    needs: &mut Vec<Need>,
    what: &str,
    all: &[T],
    number: fn(T) -> u8,
    name: fn(T) -> &'static str,
) {
    for &v in all {
        needs.push(need(
            Part::Feed,
            format!("{what} {} = {}", name(v), number(v)),
            Check::Row(vec![format!("| {} | {} |", number(v), code(name(v)))]),
        ));
    }
}

fn limit_needs(needs: &mut Vec<Need>, part: Part, consts: &BTreeMap<String, Option<String>>) {
    for (name, value) in consts {
        needs.push(need(
            part,
            format!("constant {name}"),
            match value {
                Some(v) => Check::LineWithNumber(code(name), v.clone()),
                None => Check::Text(code(name)),
            },
        ));
    }
}

fn ws_needs(names: &WsNames) -> Vec<Need> {
    let ws = Part::WebSocket;
    let mut needs = Vec::new();
    for kind in &names.server {
        needs.push(need(
            ws,
            format!("server message `{kind}`"),
            Check::Heading(code(kind)),
        ));
    }
    for kind in &names.client {
        needs.push(need(
            ws,
            format!("client message `{kind}`"),
            Check::Heading(code(kind)),
        ));
    }
    for room in &names.rooms {
        needs.push(need(
            ws,
            format!("room type `{room}`"),
            Check::Text(code(room)),
        ));
    }
    for field in &names.fields {
        needs.push(need(
            ws,
            format!("field `{field}`"),
            Check::Text(code(field)),
        ));
    }
    for (close, (constant, reasons)) in &names.closes {
        let mut texts = vec![code(&close.to_string())];
        texts.extend(constant.iter().map(|c| code(c)));
        texts.extend(reasons.iter().cloned());
        needs.push(need(ws, format!("close code {close}"), Check::Row(texts)));
    }
    for error in &names.errors {
        needs.push(need(
            ws,
            format!("error code `{error}`"),
            Check::Text(code(error)),
        ));
    }
    limit_needs(&mut needs, ws, &names.consts);
    // The values of the fields the messages carry.
    for (what, values) in [
        (
            "order status",
            OrderStatus::ALL
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "done reason",
            DoneReason::ALL.iter().map(|v| v.as_str()).collect(),
        ),
        (
            "market status",
            MarketStatus::ALL.iter().map(|v| v.as_str()).collect(),
        ),
        (
            "book side",
            BookSide::ALL.iter().map(|v| v.as_str()).collect(),
        ),
    ] {
        for value in values {
            needs.push(need(
                ws,
                format!("{what} `{value}`"),
                Check::Text(code(value)),
            ));
        }
    }
    needs
}

/// The feed's close codes in `gateway/src/feed.rs`: `close(<n>u32.into(), b"reason")`.
fn feed_closes(feed_rs: &str) -> BTreeMap<u32, Option<String>> {
    let toks = lex(feed_rs);
    let mut out = BTreeMap::new();
    for paren in calls(&toks, "close") {
        let a = args(&toks, paren);
        let Some(Tok::Num(n)) = a[0].first() else {
            panic!("a feed close code this test cannot read: {:?}", a[0])
        };
        let number: u32 = n.trim_end_matches("u32").parse().expect("a close code");
        let reason = a.get(1).and_then(|r| single_str(r)).map(str::to_owned);
        out.insert(number, reason);
    }
    out
}

fn feed_needs(gateway_feed_rs: &str, protocol_feed_rs: &str) -> Vec<Need> {
    let feed = Part::Feed;
    let mut needs = Vec::new();
    let enums = [
        (
            "FeedRequest",
            variants::<FeedRequest>(FeedRequest::tag, FeedRequest::kind),
        ),
        (
            "FeedReply",
            variants::<FeedReply>(FeedReply::tag, FeedReply::kind),
        ),
        (
            "FeedData",
            variants::<FeedData>(FeedData::tag, FeedData::kind),
        ),
    ];
    for (name, variants) in enums {
        assert!(variants.len() >= 4, "{name}: found only {variants:?}");
        for (tag, kind, size) in variants {
            needs.push(need(
                feed,
                format!("{name}::{kind} (tag {tag}, {size} bytes)"),
                Check::Heading(format!("`{name}::{kind}` (tag {tag}, {size} bytes")),
            ));
        }
    }
    cenum_rows(
        &mut needs,
        "ExecKind",
        ExecKind::ALL,
        ExecKind::to_u8,
        ExecKind::as_str,
    );
    cenum_rows(&mut needs, "Side", Side::ALL, Side::to_u8, Side::as_str);
    cenum_rows(
        &mut needs,
        "OrderKind",
        OrderKind::ALL,
        OrderKind::to_u8,
        OrderKind::as_str,
    );
    cenum_rows(
        &mut needs,
        "TimeInForce",
        TimeInForce::ALL,
        TimeInForce::to_u8,
        TimeInForce::as_str,
    );
    cenum_rows(
        &mut needs,
        "SelfTradePrevention",
        SelfTradePrevention::ALL,
        SelfTradePrevention::to_u8,
        SelfTradePrevention::as_str,
    );
    cenum_rows(
        &mut needs,
        "BookSide",
        BookSide::ALL,
        BookSide::to_u8,
        BookSide::as_str,
    );
    for &result in ResultCode::ALL {
        needs.push(need(
            feed,
            format!("result code {} {}", result.code(), result.name()),
            Check::Row(vec![format!(
                "| {} | {} |",
                result.code(),
                code(result.name())
            )]),
        ));
    }
    // The signed login message: the domain tag and the length.
    let message = betbet_protocol::feed::login_message(0, Default::default(), &[0; 16]);
    let domain = String::from_utf8(message[..message.len() - 32].to_vec()).unwrap();
    needs.push(need(
        feed,
        "the login's domain tag",
        Check::Text(code(&domain)),
    ));
    needs.push(need(
        feed,
        "the login message's length",
        Check::Text(format!("{}-byte message", message.len())),
    ));
    for (number, reason) in feed_closes(gateway_feed_rs) {
        let mut texts = vec![format!("| `{number}` |")];
        texts.extend(reason.map(|r| code(&r)));
        needs.push(need(
            feed,
            format!("feed close code {number}"),
            Check::Row(texts),
        ));
    }
    let mut constants = consts(&lex(gateway_feed_rs));
    constants.extend(consts(&lex(protocol_feed_rs)));
    constants.insert(
        "FRAME_BYTES_MAX".into(),
        Some(betbet_protocol::message::FRAME_BYTES_MAX.to_string()),
    );
    limit_needs(&mut needs, feed, &constants);
    needs
}

/// The document's two parts: from the `## …WebSocket…` heading, and from the `## …QUIC…` one.
fn parts(doc: &str) -> (&str, &str) {
    let start = |word: &str| {
        doc.match_indices("\n## ")
            .map(|(i, _)| i + 1)
            .find(|&i| doc[i..].lines().next().unwrap().contains(word))
            .unwrap_or_else(|| panic!("docs/protocols.md has no `## …{word}…` section"))
    };
    let (ws, feed) = (start("WebSocket"), start("QUIC"));
    assert!(ws < feed, "the WebSocket part comes first");
    (&doc[ws..feed], &doc[feed..])
}

/// What `doc` lacks of `needs`.
fn missing(doc: &str, needs: &[Need]) -> Vec<String> {
    let (ws, feed) = parts(doc);
    needs
        .iter()
        .filter(|n| {
            let text = match n.part {
                Part::WebSocket => ws,
                Part::Feed => feed,
            };
            let mut lines = text.lines();
            !match &n.check {
                Check::Text(t) => text.contains(t.as_str()),
                Check::Heading(t) => lines.any(|l| l.starts_with('#') && l.contains(t.as_str())),
                Check::Row(ts) => {
                    lines.any(|l| l.starts_with('|') && ts.iter().all(|t| l.contains(t.as_str())))
                }
                Check::LineWithNumber(t, number) => {
                    lines.any(|l| l.contains(t.as_str()) && has_number(l, number))
                }
            }
        })
        .map(|n| format!("{:?}: {} — {:?}", n.part, n.what, n.check))
        .collect()
}

fn all_needs() -> (WsNames, Vec<Need>) {
    // The market socket and the game room share the envelope, helpers and limits.
    let names = ws_names(
        &(source("src/api/ws.rs")
            + &source("src/api/games/socket.rs")
            + &source("src/api/games/tournament_socket.rs")
            + &source("src/api/social/chat_socket.rs")
            + &source("src/api/social/voice.rs")),
        &source("src/hub.rs"),
        &source("src/error.rs"),
    );
    let mut needs = ws_needs(&names);
    needs.extend(feed_needs(
        &source("src/feed.rs"),
        &source("../protocol/src/feed.rs"),
    ));
    (names, needs)
}

fn document() -> String {
    source("../docs/protocols.md")
}

#[test]
fn the_protocol_reference_names_every_message() {
    let (names, needs) = all_needs();
    // The extraction itself must have found what is known to be there.
    for kind in [
        "snapshot",
        "book_delta",
        "trade",
        "order_ack",
        "cancel_ack",
        "error",
        "pong",
    ] {
        assert!(
            names.server.contains(kind),
            "server types {:?}",
            names.server
        );
    }
    for kind in [
        "ping",
        "subscribe",
        "authenticate",
        "place_order",
        "cancel_order",
    ] {
        assert!(
            names.client.contains(kind),
            "client types {:?}",
            names.client
        );
    }
    assert!(names.closes.contains_key(&4001) && names.closes.contains_key(&1008));
    assert!(names.errors.contains("invalid_request") && names.errors.contains("rate_limited"));
    assert!(names.consts.contains_key("WS_MESSAGE_MAX"));

    let missing = missing(&document(), &needs);
    assert!(
        missing.is_empty(),
        "docs/protocols.md does not describe what the code has ({} of {}):\n{}",
        missing.len(),
        needs.len(),
        missing.join("\n")
    );
}

/// The check fails for a message type added in any layout rustfmt might give it, and for a
/// document entry taken away.
#[test]
fn a_new_message_or_a_removed_entry_is_noticed() {
    let ws = source("src/api/ws.rs")
        + r#"
fn added(out: &mut Vec<Message>, request: ClientMessage) {
    out.push(envelope(
        "brand_new_event",
        None,
        None,
        json!({ "brand_new_field": 1 }),
    ));
    match request
        .kind
        .as_str()
    {
        "brand_new_request"
        | "another_new_request" => {}
        _ => {}
    }
    close(&mut socket, 4999, "brand new reason").await;
}
"#;
    let names = ws_names(&ws, &source("src/hub.rs"), &source("src/error.rs"));
    let needs = ws_needs(&names);
    let doc = document();
    let absent = missing(&doc, &needs);
    for new in [
        "`brand_new_event`",
        "`brand_new_field`",
        "`brand_new_request`",
        "`another_new_request`",
        "close code 4999",
    ] {
        assert!(
            absent.iter().any(|m| m.contains(new)),
            "{new} was not noticed: {absent:?}"
        );
    }
    assert_eq!(
        absent.len(),
        5,
        "only the additions are missing: {absent:?}"
    );

    // Entries taken out of the document: a message heading of each part, a close code, a
    // result code.
    let (_, needs) = all_needs();
    for removed in [
        "#### `cancel_ack`",
        "#### `FeedReply::Exec` (tag 3, 54 bytes",
        "| `4002` |",
        "| 527 | `bad_signature` |",
    ] {
        let line = doc.lines().find(|l| l.starts_with(removed)).expect(removed);
        let cut = doc.replace(&format!("{line}\n"), "\n");
        assert!(
            !missing(&cut, &needs).is_empty(),
            "removing {removed:?} went unnoticed"
        );
    }
}

#[test]
fn the_lexer_skips_comments_and_reads_literals() {
    let toks = lex(concat!(
        "/* a /* nested */ comment with envelope(\"no\") */ // and envelope(\"no\")\n",
        "let q = '\\''; let l: &'static str = r#\"raw \"x\"\"#; let b = b\"bytes\"; ",
        "let c = '\"'; envelope(\"yes\\n\", 2u32.into(), 0x10, 'x');",
    ));
    let strings: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Str(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(strings, ["raw \"x\"", "bytes", "yes\n"]);
    let paren = calls(&toks, "envelope");
    assert_eq!(paren.len(), 1);
    assert_eq!(args(&toks, paren[0]).len(), 4);
}

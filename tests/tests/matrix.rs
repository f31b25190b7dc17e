//! The security matrix, generated from the binary's own route table (`betbet routes`), so a
//! new route is covered the day it is added: every route that needs a caller refuses no
//! token, an expired one, a forged signature, `alg: none`, a revoked session and a
//! suspended user; owner routes refuse another user's token on the victim's objects, admin
//! routes a user's; JSON bodies refuse unknown and privileged fields and oversized bodies;
//! malformed path ids are a 400; nothing answers 5xx, and no declared method is a 405 while
//! every undeclared one is.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use betbet_tests::{Reply, Server, binary, funded, in_a_day, json};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

#[derive(Debug, Clone)]
struct Entry {
    method: String,
    path: String,
    access: String,
    body: String,
}

fn route_table() -> Vec<Entry> {
    let output = std::process::Command::new(binary())
        .arg("routes")
        .output()
        .expect("betbet routes");
    assert!(output.status.success());
    let table: Vec<Entry> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let field = |k: &str| v[k].as_str().expect(k).to_owned();
            Entry {
                method: field("method"),
                path: field("path"),
                access: field("access"),
                body: field("body"),
            }
        })
        .collect();
    assert!(table.len() > 50, "a suspiciously short route table");
    table
}

/// One request of the matrix with any method, path, bearer token and raw body.
fn request(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{}{path}", server.port);
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let request = builder.body(body.unwrap_or_default().to_vec()).unwrap();
    let mut response = agent.run(request).expect("HTTP request");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        retry_after: None,
        request_id: None,
    }
}

/// A token with `claims` changed, signed with the server's key (or `key`).
fn forge(token: &str, key: &[u8], change: impl FnOnce(&mut Value)) -> String {
    let mut parts = token.split('.');
    let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    change(&mut claims);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn alg_none(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{payload}.")
}

fn id(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not an id: {value}"))
        .to_owned()
}

/// The victim's objects, by the path parameter that names them.
struct Objects {
    user: String,
    wallet: String,
    market: String,
    order: String,
    position: String,
    pool: String,
    key: String,
    document: String,
    withdrawal: String,
    payment_method: String,
    game: String,
    session: String,
    tournament: String,
    community: String,
    thread: String,
    conversation: String,
    group: String,
}

impl Objects {
    /// `path` with each `{param}` replaced by the victim's object of that kind (or `bad`).
    fn fill(&self, method: &str, path: &str, bad: Option<&str>) -> String {
        let mut out = String::new();
        let mut rest = path;
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').unwrap() + start;
            let param = &rest[start + 1..end];
            out.push_str(&rest[..start]);
            let value = match param {
                "provider" => "sandbox".to_owned(),
                "room_type" => "markets".to_owned(),
                _ if bad.is_some() => bad.unwrap().to_owned(),
                "user_id" => self.user.clone(),
                "market_id" | "room_id" => self.market.clone(),
                "order_id" => self.order.clone(),
                "position_id" => self.position.clone(),
                "pool_id" => self.pool.clone(),
                "key_id" => self.key.clone(),
                "document_id" => self.document.clone(),
                "withdrawal_id" => self.withdrawal.clone(),
                "game_id" => self.game.clone(),
                "session_id" => self.session.clone(),
                "tournament_id" => self.tournament.clone(),
                "community_id" => self.community.clone(),
                "thread_id" => self.thread.clone(),
                "conversation_id" => self.conversation.clone(),
                "group_id" => self.group.clone(),
                "channel_id" => self.community.clone(),
                "id" if path.ends_with("/balance") => self.wallet.clone(),
                "id" if path.ends_with("/cancel") => self.withdrawal.clone(),
                "id" if method == "DELETE" => self.payment_method.clone(),
                "id" => self.user.clone(),
                other => panic!("the matrix does not know the path parameter `{other}` of {path}"),
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// A well-formed body for the owner and admin routes that take JSON, so that the
/// authorization check, not the body check, answers the wrong caller: were it missing, the
/// request would succeed. A new such route needs its sample here (the matrix says so).
fn sample_body(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("PUT", "/api/v1/users/{user_id}") => json!({"bio": "changed by someone else"}),
        ("POST", "/api/v1/admin/kyc/{document_id}/approve") => json!({"kyc_level": 3}),
        ("POST", "/api/v1/admin/kyc/{document_id}/reject") => json!({"notes": "no"}),
        ("POST", "/api/v1/admin/users/{user_id}/role") => json!({"role": "admin"}),
        ("POST", "/api/v1/admin/users/{user_id}/status") => json!({"status": "suspended"}),
        ("PUT", "/api/v1/markets/{market_id}") => json!({"description": "changed"}),
        ("POST", "/api/v1/markets/{market_id}/resolve") => json!({"winning_outcome": "out_1"}),
        ("PUT", "/api/v1/orders/{order_id}") => json!({"quantity": "1", "price": "0.3"}),
        ("POST", "/api/v1/games/create") => {
            json!({"name": "Matrix game", "category": "tests", "rule_set": "connect_four"})
        }
        ("PUT", "/api/v1/games/{game_id}") => json!({"is_active": false}),
        ("POST", "/api/v1/games/bankroll") => json!({"amount": "1"}),
        ("POST", "/api/v1/communities/{community_id}/members/{user_id}") => {
            json!({"action": "ban", "duration_secs": 3600, "reason": "matrix"})
        }
        ("POST", "/api/v1/threads/{thread_id}/moderate") => json!({"action": "lock"}),
        ("POST", "/api/v1/threads/{thread_id}/edit") => json!({"content": "rewritten"}),
        ("POST", "/api/v1/groups/{group_id}/members/{user_id}") => json!({"action": "remove"}),
        ("POST", "/api/v1/groups/{group_id}/contribute") => json!({"amount": "1"}),
        ("POST", "/api/v1/groups/{group_id}/payout") => json!({"user_id": "usr_2", "amount": "1"}),
        _ => return None,
    })
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image body";

#[test]
fn every_route_refuses_what_it_must() {
    let table = route_table();
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let (name, password) = server.demo_login("admin");
    let admin = anon.login(&name, &password);
    let (host, host_id) = funded(&anon, "mx_host", "100");
    let (victim, victim_id) = funded(&anon, "mx_victim", "1000");
    let (attacker, _) = funded(&anon, "mx_attacker", "1000");

    // The victim's objects: a market, a resting order and a position in someone else's
    // market, a pool, an API key, a KYC document, a payment method and a withdrawal.
    let market = victim
        .post(
            "/api/v1/markets/create",
            &json!({"title": "Matrix", "description": "m", "market_type": "binary", "closes_at": in_a_day(), "category": "tests"}),
        )
        .expect(201);
    let traded = host
        .post(
            "/api/v1/markets/create",
            &json!({"title": "Matrix 2", "description": "m", "market_type": "binary", "closes_at": in_a_day(), "category": "tests"}),
        )
        .expect(201);
    let (traded_id, yes) = (id(&traded["id"]), id(&traded["outcomes"][0]["id"]));
    let orders = format!("/api/v1/markets/{traded_id}/orders");
    attacker
        .post(
            &orders,
            &json!({"outcome_id": yes, "order_type": "sell", "price": "0.5", "quantity": "2"}),
        )
        .expect(201);
    victim
        .post(
            &orders,
            &json!({"outcome_id": yes, "order_type": "buy", "price": "0.5", "quantity": "2"}),
        )
        .expect(201);
    let resting = victim
        .post(
            &orders,
            &json!({"outcome_id": yes, "order_type": "buy", "price": "0.2", "quantity": "1"}),
        )
        .expect(201);
    let positions = victim
        .get(&format!("/api/v1/users/{victim_id}/positions"))
        .expect(200);
    let pool = victim
        .post(
            "/api/v1/pools/create",
            &json!({"name": "Matrix pool", "entry_amount": "1", "member_limit": 5}),
        )
        .expect(201);
    let key = victim
        .post("/api/v1/api-keys", &json!({"name": "matrix"}))
        .expect(201);
    let document = victim
        .upload(
            "/api/v1/kyc/submit",
            &[("document_type", "passport")],
            ("document_file", "image/png", PNG),
        )
        .expect(201);
    admin
        .post(
            &format!("/api/v1/admin/kyc/{}/approve", id(&document["id"])),
            &json!({"kyc_level": 1}),
        )
        .expect(200);
    let method = victim
        .post(
            "/api/v1/payment-methods/add",
            &json!({"method_type": "mobile_money", "provider": "ecocash", "details": {"phone": "+263 77 123 4567"}}),
        )
        .expect(201);
    let withdrawal = victim
        .post(
            "/api/v1/withdrawals/request",
            &json!({"amount": "5", "currency": "USD", "payment_method_id": method["id"]}),
        )
        .expect(201);
    // A game and a waiting session of the victim's.
    let game = admin
        .post(
            "/api/v1/games/create",
            &json!({"name": "Matrix", "category": "tests", "rule_set": "connect_four"}),
        )
        .expect(201);
    let session = victim
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game["id"], "stake": "1"}),
        )
        .expect(201);
    // A tournament the victim created, still taking registrations.
    let tournament = victim
        .post(
            "/api/v1/tournaments/create",
            &json!({"game_id": game["id"], "format": "round_robin", "prize_pool": "1"}),
        )
        .expect(201);
    // A private community the victim owns.
    let community = victim
        .post(
            "/api/v1/communities/create",
            &json!({"name": "Matrix community", "type": "private"}),
        )
        .expect(201);
    // A thread of the victim's in it.
    let thread = victim
        .post(
            "/api/v1/threads/create",
            &json!({"community_id": community["id"], "title": "Matrix thread", "content": "mine"}),
        )
        .expect(201);
    // A conversation of the victim's with the host.
    let conversation = victim
        .post(
            "/api/v1/messages/send",
            &json!({"recipient_id": host_id, "content": "just between us"}),
        )
        .expect(201);
    // A group of the victim's, with money in its wallet.
    let group = victim
        .post("/api/v1/groups/create", &json!({"name": "Matrix group"}))
        .expect(201);
    victim
        .post(
            &format!("/api/v1/groups/{}/contribute", id(&group["id"])),
            &json!({"amount": "5"}),
        )
        .expect(200);
    let wallets = victim
        .get(&format!("/api/v1/wallets/{victim_id}"))
        .expect(200);
    let objects = Objects {
        user: victim_id.clone(),
        wallet: id(&wallets["wallets"][0]["id"]),
        market: id(&market["id"]),
        order: id(&resting["id"]),
        position: id(&positions["positions"][0]["id"]),
        pool: id(&pool["id"]),
        key: id(&key["id"]),
        document: id(&document["id"]),
        withdrawal: id(&withdrawal["id"]),
        payment_method: id(&method["id"]),
        game: id(&game["id"]),
        session: id(&session["id"]),
        tournament: id(&tournament["tournament"]["id"]),
        community: id(&community["id"]),
        thread: id(&thread["id"]),
        conversation: id(&conversation["conversation_id"]),
        group: id(&group["id"]),
    };

    // Credentials that must not get through.
    let victim_token = victim.token.clone().unwrap();
    let jwt_key = std::fs::read(server.data_dir.join("secrets/jwt.key")).unwrap();
    let expired = forge(&victim_token, &jwt_key, |c| {
        c["exp"] = (c["iat"].as_i64().unwrap() - 60).into();
    });
    let forged = forge(&victim_token, b"not the server's key at all, 32b", |c| {
        c["role"] = "admin".into();
    });
    let none = alg_none(&victim_token);
    let (revoked, _) = funded(&anon, "mx_revoked", "1");
    revoked.post("/api/v1/auth/logout", &json!({})).expect(200);
    let (suspended, suspended_id) = funded(&anon, "mx_suspended", "1");
    admin
        .post(
            &format!("/api/v1/admin/users/{suspended_id}/status"),
            &json!({"status": "suspended"}),
        )
        .expect(200);
    let refused_tokens = [
        ("no token", None),
        ("an expired token", Some(expired.as_str())),
        ("a forged signature", Some(forged.as_str())),
        ("alg none", Some(none.as_str())),
        ("a revoked session", revoked.token.as_deref()),
        ("a suspended user", suspended.token.as_deref()),
    ];

    let unknown = br#"{"is_admin": true, "role": "admin", "kyc_level": 3}"#;
    // Just past each route's limit: 64 KiB, and 512 KiB for the routes that take a post's
    // text (gateway `api::social::POST_BODY_MAX`). Far past it, the server's early 413 can
    // meet a client still sending.
    let oversized_of = |kib: usize| format!(r#"{{"name": "{}"}}"#, "x".repeat(kib * 1024));
    let (oversized, oversized_post) = (oversized_of(70), oversized_of(518));
    let post_routes = [
        "/api/v1/threads/create",
        "/api/v1/threads/{thread_id}/reply",
        "/api/v1/threads/{thread_id}/edit",
    ];
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    let mut failures = Vec::new();
    let mut check = |what: String, reply: &Reply, ok: &dyn Fn(u16) -> bool| {
        if reply.status >= 500 || !ok(reply.status) {
            failures.push(format!("{what}: {} {}", reply.status, reply.body));
        }
    };
    for entry in &table {
        let path = objects.fill(&entry.method, &entry.path, None);
        let label = |case: &str| format!("{} {} with {case}", entry.method, entry.path);
        if entry.access == "user" || entry.access == "owner" || entry.access == "admin" {
            for (case, token) in refused_tokens {
                let reply = request(&server, &entry.method, &path, token, None);
                check(label(case), &reply, &|s| {
                    s == 401 || (s == 403 && case == "a suspended user")
                });
            }
        }
        let sample = sample_body(&entry.method, &entry.path).map(|b| b.to_string());
        let sample = sample.as_deref().map(str::as_bytes);
        if entry.body == "json"
            && (entry.access == "owner" || entry.access == "admin")
            && sample.is_none()
        {
            // Fails the check below on purpose: a route without a sample cannot be tested.
            let missing = Reply {
                status: 0,
                body: Value::String("add a sample body to the matrix".into()),
                retry_after: None,
                request_id: None,
            };
            check(label("no sample body"), &missing, &|_| false);
        }
        if entry.access == "owner" {
            let attacker_token = attacker.token.as_deref();
            let reply = request(&server, &entry.method, &path, attacker_token, sample);
            check(label("another user's token"), &reply, &|s| {
                s == 403 || s == 404
            });
        }
        if entry.access == "admin" {
            let reply = request(&server, &entry.method, &path, Some(&victim_token), sample);
            check(label("a user's token"), &reply, &|s| s == 403 || s == 404);
        }
        // A caller who passes the route's access check, for the body and id checks.
        let passing = match entry.access.as_str() {
            "admin" => admin.token.clone(),
            "user" | "owner" => Some(victim_token.clone()),
            _ => None,
        };
        if entry.body == "empty" && !entry.path.starts_with("/ws/") {
            // A route that takes no body refuses one rather than ignore its fields.
            let reply = request(
                &server,
                &entry.method,
                &path,
                passing.as_deref(),
                Some(unknown),
            );
            check(label("a body it does not take"), &reply, &|s| s == 400);
        }
        if entry.body == "json" || entry.body == "optional_json" {
            let reply = request(
                &server,
                &entry.method,
                &path,
                passing.as_deref(),
                Some(unknown),
            );
            check(label("unknown and privileged fields"), &reply, &|s| {
                s == 400
            });
            let reply = request(
                &server,
                &entry.method,
                &path,
                passing.as_deref(),
                Some(if post_routes.contains(&entry.path.as_str()) {
                    oversized_post.as_bytes()
                } else {
                    oversized.as_bytes()
                }),
            );
            check(label("a body over the limit"), &reply, &|s| s == 413);
        }
        let with_ids = entry
            .path
            .split('/')
            .filter(|s| s.starts_with('{') && !["{provider}", "{room_type}"].contains(s))
            .count();
        if with_ids > 0 && entry.access != "signed" && !entry.path.starts_with("/ws/") {
            let bad = objects.fill(&entry.method, &entry.path, Some("zz_not_an_id"));
            let reply = request(
                &server,
                &entry.method,
                &bad,
                passing.as_deref(),
                Some(b"{}"),
            );
            check(label("a malformed id"), &reply, &|s| s == 400);
        }
        // The declared method is served; the methods the table does not declare are not.
        let reply = request(&server, &entry.method, &path, None, None);
        check(label("no body"), &reply, &|s| s != 405);
        for other in methods {
            let declared = table
                .iter()
                .any(|e| e.path == entry.path && e.method == other);
            if !declared {
                let reply = request(&server, other, &path, passing.as_deref(), None);
                // In the error envelope, like every other error.
                let enveloped = reply.body["error"]["code"] == "method_not_allowed";
                check(format!("undeclared {other} {}", entry.path), &reply, &|s| {
                    s == 405 && enveloped
                });
            }
        }
    }
    // An unknown path is a 404 in the envelope too.
    let reply = request(&server, "POST", "/api/v1/orders/nowhere/else", None, None);
    check("an unknown route".to_owned(), &reply, &|s| s == 404);
    if reply.body["error"]["code"] != "route_not_found" {
        failures.push(format!("unknown route: {}", reply.body));
    }
    assert!(
        failures.is_empty(),
        "{} refusals failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing of the victim's moved.
    let after = victim
        .get(&format!("/api/v1/wallets/{victim_id}"))
        .expect(200);
    assert_eq!(
        after["wallets"][0]["balance"],
        wallets["wallets"][0]["balance"]
    );
}

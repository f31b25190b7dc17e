//! Preparing a server for a load run, over its public REST API: trader users (registered,
//! logged in, funded through the sandbox payment provider), a binary market, and resting
//! liquidity around the middle so the first marketable orders have something to hit.
//!
//! Registration and login each cost an argon2 hash (tens of milliseconds of server CPU), so
//! users are made by a few threads at once and a run spreads its connections over a modest
//! number of them. Usernames carry a run tag, so several runs can share one server.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the fixture needs to know.
#[derive(Debug, Clone)]
pub struct FixtureOptions {
    /// `http://host:port`.
    pub base: String,
    pub users: usize,
    /// Money deposited per user, a decimal string in USD.
    pub deposit: String,
    /// Shares resting at each price level 0.40–0.49 on both sides (0 for none).
    pub seed_quantity: u64,
    /// Threads registering users at once.
    pub threads: usize,
    /// The market's price grid: `0.01`, `0.001` or `0.0001`.
    pub tick_size: &'static str,
}

#[derive(Debug, Clone)]
pub struct User {
    /// An access token (valid for the server's `--access-ttl-secs`, 15 minutes by default).
    pub token: String,
}

/// The prepared server: who trades and where.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub users: Vec<User>,
    pub market_id: String,
    /// YES and NO outcome ids of the binary market.
    pub yes: String,
    pub no: String,
}

/// A small blocking JSON client.
#[derive(Clone)]
pub struct Rest {
    base: String,
    agent: ureq::Agent,
}

impl Rest {
    pub fn new(base: &str) -> Rest {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Rest {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    fn finish(
        what: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Value), String> {
        let mut response = response.map_err(|e| format!("{what}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{what}: reading the reply: {e}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    pub fn get(&self, path: &str) -> Result<(u16, Value), String> {
        Self::finish(path, self.agent.get(format!("{}{path}", self.base)).call())
    }

    /// POSTs `body`; any status other than `expect` is an error naming the reply.
    pub fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
        expect: u16,
    ) -> Result<Value, String> {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let (status, reply) = Self::finish(path, request.send(body.to_string()))?;
        if status != expect {
            return Err(format!("POST {path}: HTTP {status}: {reply}"));
        }
        Ok(reply)
    }
}

pub fn text(value: &Value, field: &str) -> Result<String, String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no `{field}` in {value}"))
}

/// RFC 3339 UTC for seconds since the epoch (days-from-civil, no calendar crate needed).
fn rfc3339(secs: u64) -> String {
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

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Registers, logs in and funds one user.
fn make_user(rest: &Rest, username: String, deposit: &str) -> Result<User, String> {
    let password = format!("load-password-{username}");
    rest.post(
        "/api/v1/auth/register",
        None,
        &json!({
            "username": username,
            "email": format!("{username}@load.example.com"),
            "password": password,
        }),
        201,
    )?;
    let login = rest.post(
        "/api/v1/auth/login",
        None,
        &json!({ "username": username, "password": password }),
        200,
    )?;
    let token = text(&login, "access_token")?;
    rest.post(
        "/api/v1/deposits/initiate",
        Some(&token),
        &json!({ "amount": deposit, "currency": "USD", "payment_method": "sandbox" }),
        201,
    )
    .map_err(|e| format!("{e} (start the server with --sandbox-payments)"))?;
    Ok(User { token })
}

/// A feed API key: its numeric id and its secret (the HMAC key is the secret's bytes).
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub key_id: u64,
    pub secret: String,
}

/// Creates a feed API key for `user` (`POST /api/v1/api-keys`).
pub fn create_api_key(rest: &Rest, user: &User, name: &str) -> Result<ApiKey, String> {
    let key = rest.post(
        "/api/v1/api-keys",
        Some(&user.token),
        &json!({ "name": name }),
        201,
    )?;
    Ok(ApiKey {
        key_id: key["key_id"]
            .as_u64()
            .ok_or_else(|| format!("no `key_id` in {key}"))?,
        secret: text(&key, "secret")?,
    })
}

/// A run tag from the clock, which keeps usernames unique across runs on one server.
pub fn run_tag() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    (millis % 100_000_000).to_string()
}

/// Registers, logs in and funds `count` users `load{tag}_{i}` on `threads` threads, in
/// index order.
pub fn register_users(
    rest: &Rest,
    tag: &str,
    count: usize,
    deposit: &str,
    threads: usize,
) -> Result<Vec<User>, String> {
    let started = std::time::Instant::now();
    let users = in_parallel(count, threads, |i| {
        make_user(rest, format!("load{tag}_{i}"), deposit)
    })?;
    eprintln!(
        "setup: {} users registered, logged in and funded in {:.1} s",
        users.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(users)
}

/// `make(0..count)` on `threads` threads (setup is REST calls that wait on the server),
/// the results in index order; an error is the first worker's to fail.
pub fn in_parallel<T: Send>(
    count: usize,
    threads: usize,
    make: impl Fn(usize) -> Result<T, String> + Sync,
) -> Result<Vec<T>, String> {
    let next = AtomicUsize::new(0);
    let made = std::sync::Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.clamp(1, 64))
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(());
                        }
                        let item = make(i)?;
                        made.lock().expect("results lock").push((i, item));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("setup thread"))
    })?;
    let mut made = made.into_inner().expect("results lock");
    made.sort_by_key(|(i, _)| *i);
    Ok(made.into_iter().map(|(_, item)| item).collect())
}

impl Fixture {
    pub fn prepare(options: &FixtureOptions) -> Result<Fixture, String> {
        let rest = Rest::new(&options.base);
        match rest.get("/health") {
            Ok((200, _)) => {}
            Ok((status, body)) => return Err(format!("/health: HTTP {status}: {body}")),
            Err(e) => {
                return Err(format!(
                    "the server at {} is not reachable: {e}",
                    options.base
                ));
            }
        }
        let tag = run_tag();
        let users = register_users(
            &rest,
            &tag,
            options.users.max(1),
            &options.deposit,
            options.threads,
        )?;
        // The market's creator resolves it and so may not trade in it: a host of its own
        // creates it, and the first trader seeds the book.
        let host = make_user(&rest, format!("load{tag}_host"), "1")?;
        let creator = users[0].clone();
        let market = rest.post(
            "/api/v1/markets/create",
            Some(&host.token),
            &json!({
                "title": format!("Load test market {tag}"),
                "description": "created by betbet-load",
                "market_type": "binary",
                "closes_at": rfc3339(now_secs() + 7 * 86_400),
                "category": "load",
                "creator_fee_percent": "0",
                "tick_size": options.tick_size,
            }),
            201,
        )?;
        let market_id = text(&market, "id")?;
        let outcome = |i: usize| text(&market["outcomes"][i], "id");
        let fixture = Fixture {
            yes: outcome(0)?,
            no: outcome(1)?,
            users,
            market_id,
        };
        if options.seed_quantity > 0 {
            for cents in 40..50 {
                for outcome in [&fixture.yes, &fixture.no] {
                    rest.post(
                        &format!("/api/v1/markets/{}/orders", fixture.market_id),
                        Some(&creator.token),
                        &json!({
                            "outcome_id": outcome,
                            "order_type": "buy",
                            "price": format!("0.{cents}"),
                            "quantity": options.seed_quantity.to_string(),
                        }),
                        201,
                    )?;
                }
            }
        }
        eprintln!(
            "setup: market {} (yes {}, no {}), seeded {} shares per level",
            fixture.market_id, fixture.yes, fixture.no, options.seed_quantity
        );
        Ok(fixture)
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_from_epoch_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    }
}

//! The market-maker feed over QUIC (quinn): authenticated order entry, execution reports,
//! level-2 market data on unidirectional streams, top of book as datagrams.
//!
//! Protocol: see `betbet_protocol::feed`. A connection must log in on its first
//! bidirectional stream within [`LOGIN_TIMEOUT`]: the gateway checks the HMAC with the key's
//! unsealed secret, then journals the login (`ApiKeyLogin`), which is where revocation, the
//! ±5 s clock window and nonce replay are decided — identically on every gateway. 0-RTT is
//! disabled (the TLS config accepts no early data), so requests cannot be replayed.
//!
//! Execution reports are derived from the core's event stream, in journal order: a
//! connection reports every order of its user (orders it placed carry their `client_ref`).
//! A connection's requests are pipelined: each is queued at the core as soon as it is read
//! (up to [`FEED_PIPELINE_MAX`] waiting), and answered in the order they came; rejections
//! come back with the engine's result code. A connection may ask for cancel on disconnect:
//! when it ends — closed, lost, timed out, revoked — every order it placed is cancelled (not
//! when the gateway process itself stops: its sessions end with it). A connection whose
//! client stops reading falls behind the event stream, or times out writing, and is closed;
//! it never slows the core.

use crate::auth::Keys;
use crate::core::CommandReply;
use crate::hub::Registration;
use crate::ids::PublicId;
use crate::state::AppState;
use betbet_engine::runtime::CommandOutcome;
use betbet_feed_client::FrameReader;
use betbet_protocol::command::{
    AmendOrder, ApiKeyLogin, CancelAll, CancelOrder, Command, MarketType, MassQuote, PlaceOrder,
    UserStatus,
};
use betbet_protocol::event::{Event, OrderStatus};
use betbet_protocol::feed::*;
use betbet_protocol::message::{Reply, Response};
use betbet_protocol::query::{
    ApiKeyQuery, BOOK_DEPTH_MAX, BookQuery, MarketQuery, Query, QueryReply, UserQuery,
};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{MarketId, OrderId, OutcomeId, Price, Qty, Timestamp, UserId};
use futures_util::FutureExt;
use hmac::{Hmac, Mac};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Feed connections at once.
pub const FEED_CONNECTIONS_MAX: usize = 1_024;
/// Markets one connection may subscribe to.
pub const FEED_SUBSCRIPTIONS_MAX: usize = 64;
/// Connections one API key may hold at once.
pub const FEED_CONNECTIONS_PER_KEY_MAX: usize = 8;
/// Orders tracked per connection for execution reports (open orders are bounded by the
/// engine's per-user limit; this bounds the map regardless).
const TRACKED_ORDERS_MAX: usize = 100_000;
/// Longest a write may wait for the client to read (QUIC flow control). A client that stops
/// reading its replies or market data is disconnected instead of holding its session.
pub const FEED_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes one frame to a session's stream within [`FEED_WRITE_TIMEOUT`].
async fn write_timed<T: betbet_protocol::codec::Encode>(
    stream: &mut quinn::SendStream,
    message: &T,
) -> Result<(), SessionError> {
    let mut writing = std::pin::pin!(betbet_feed_client::write_frame(stream, message));
    // Nearly every write fits the flow-control window and completes at once: only one that
    // has to wait gets a timer.
    if let Some(written) = writing.as_mut().now_or_never() {
        return Ok(written?);
    }
    match tokio::time::timeout(FEED_WRITE_TIMEOUT, writing).await {
        Ok(written) => Ok(written?),
        Err(_) => Err(SessionError::Io("the client stopped reading".into())),
    }
}

struct KeyBudget {
    tokens: f64,
    refilled: Instant,
    connections: usize,
}

/// Request budgets per API key, shared by all of the key's connections (so opening more
/// connections buys no more rate): a token bucket refilled at the configured rate with one
/// second of burst. An entry lives while its key has a connection, so there are at most
/// [`FEED_CONNECTIONS_MAX`].
#[derive(Default)]
struct Budgets {
    keys: std::sync::Mutex<HashMap<u64, KeyBudget>>,
}

/// A connection's share of its key's budget; dropping it leaves.
struct BudgetGuard {
    budgets: Arc<Budgets>,
    key: u64,
    rate: u32,
}

impl Budgets {
    fn join(self: &Arc<Self>, key: u64, rate: u32) -> Option<BudgetGuard> {
        let mut keys = self.keys.lock().expect("budget lock");
        let budget = keys.entry(key).or_insert_with(|| KeyBudget {
            tokens: f64::from(rate),
            refilled: Instant::now(),
            connections: 0,
        });
        if budget.connections >= FEED_CONNECTIONS_PER_KEY_MAX {
            return None;
        }
        budget.connections += 1;
        Some(BudgetGuard {
            budgets: Arc::clone(self),
            key,
            rate,
        })
    }

    fn is_full(&self, key: u64) -> bool {
        let keys = self.keys.lock().expect("budget lock");
        keys.get(&key)
            .is_some_and(|b| b.connections >= FEED_CONNECTIONS_PER_KEY_MAX)
    }
}

impl BudgetGuard {
    /// Takes one request from the key's budget.
    fn allow(&self) -> bool {
        let mut keys = self.budgets.keys.lock().expect("budget lock");
        let budget = keys.get_mut(&self.key).expect("a joined key has a budget");
        let rate = f64::from(self.rate);
        let now = Instant::now();
        budget.tokens =
            (budget.tokens + now.duration_since(budget.refilled).as_secs_f64() * rate).min(rate);
        budget.refilled = now;
        if budget.tokens >= 1.0 {
            budget.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        let mut keys = self.budgets.keys.lock().expect("budget lock");
        if let Some(budget) = keys.get_mut(&self.key) {
            budget.connections -= 1;
            if budget.connections == 0 {
                keys.remove(&self.key);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub addr: SocketAddr,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub data_dir: PathBuf,
    /// Requests per second per API key (token bucket, one second of burst).
    pub requests_per_second: u32,
    pub datagrams: bool,
}

/// The TLS certificate and key: from files, or a self-signed one kept in `data_dir/tls`.
pub fn load_certificate(
    config: &FeedConfig,
) -> std::io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    match (&config.cert, &config.key) {
        // Each file may be PEM or DER.
        (Some(cert), Some(key)) => {
            let cert_bytes = std::fs::read(cert)?;
            let key_bytes = std::fs::read(key)?;
            let certs = if cert_bytes.starts_with(b"-----") {
                rustls::pki_types::pem::PemObject::pem_slice_iter(&cert_bytes)
                    .collect::<Result<Vec<CertificateDer<'static>>, _>>()
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", cert.display())))?
            } else {
                vec![CertificateDer::from(cert_bytes)]
            };
            let key = if key_bytes.starts_with(b"-----") {
                <PrivateKeyDer<'static> as rustls::pki_types::pem::PemObject>::from_pem_slice(
                    &key_bytes,
                )
                .map_err(|e| std::io::Error::other(format!("{}: {e}", key.display())))?
            } else {
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_bytes))
            };
            Ok((certs, key))
        }
        (None, None) => {
            let dir = config.data_dir.join("tls");
            let (cert_path, key_path) = (dir.join("feed-cert.der"), dir.join("feed-key.der"));
            if !cert_path.exists() {
                std::fs::create_dir_all(&dir)?;
                let generated = rcgen::generate_simple_self_signed(vec![
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                ])
                .map_err(|e| std::io::Error::other(e.to_string()))?;
                std::fs::write(&cert_path, generated.cert.der())?;
                use std::os::unix::fs::OpenOptionsExt;
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&key_path)?;
                std::io::Write::write_all(&mut out, &generated.key_pair.serialize_der())?;
            }
            let cert = std::fs::read(&cert_path)?;
            let key = std::fs::read(&key_path)?;
            Ok((
                vec![CertificateDer::from(cert)],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
            ))
        }
        _ => Err(std::io::Error::other(
            "give both --tls-cert and --tls-key, or neither",
        )),
    }
}

pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> std::io::Result<quinn::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    tls.alpn_protocols = vec![FEED_ALPN.to_vec()];
    // No 0-RTT: early data could be replayed by anyone who recorded it.
    tls.max_early_data_size = 0;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(quic));
    let transport = Arc::get_mut(&mut server.transport).expect("fresh transport config");
    transport.max_concurrent_bidi_streams(4u32.into());
    transport.max_concurrent_uni_streams(0u32.into());
    transport.keep_alive_interval(Some(Duration::from_secs(10)));
    transport.max_idle_timeout(Some(
        Duration::from_secs(60)
            .try_into()
            .expect("valid idle timeout"),
    ));
    Ok(server)
}

/// Starts the feed: returns the bound address and the certificate's fingerprint.
pub fn start(state: AppState, config: FeedConfig) -> std::io::Result<(SocketAddr, String)> {
    let (certs, key) = load_certificate(&config)?;
    let print = fingerprint(&certs[0]);
    let endpoint = quinn::Endpoint::server(server_config(certs, key)?, config.addr)?;
    let bound = endpoint.local_addr()?;
    let connections = Arc::new(tokio::sync::Semaphore::new(FEED_CONNECTIONS_MAX));
    let budgets = Arc::new(Budgets::default());
    tokio::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                incoming.refuse();
                continue;
            };
            let (state, config, budgets) = (state.clone(), config.clone(), Arc::clone(&budgets));
            tokio::spawn(async move {
                let _permit = permit;
                match incoming.await {
                    Ok(connection) => {
                        if let Err(error) = Session::run(state, config, budgets, connection).await {
                            tracing::info!(%error, "feed connection ended");
                        }
                    }
                    Err(error) => tracing::debug!(%error, "feed handshake failed"),
                }
            });
        }
    });
    Ok((bound, print))
}

#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("{0}")]
    Io(String),
}

impl From<betbet_feed_client::FeedClientError> for SessionError {
    fn from(error: betbet_feed_client::FeedClientError) -> Self {
        SessionError::Io(error.to_string())
    }
}

impl From<quinn::ConnectionError> for SessionError {
    fn from(error: quinn::ConnectionError) -> Self {
        SessionError::Io(error.to_string())
    }
}

/// What a connection remembers about one of its user's orders.
struct Tracked {
    client_ref: u64,
    qty: u64,
    filled: u64,
    /// Prices in the order's own terms are YES prices mirrored for a binary NO outcome.
    mirror: bool,
    /// Placed by this connection (not elsewhere by the same user): cancel on disconnect
    /// cancels these.
    own: bool,
}

/// A book's level 2 (price → quantity per side), kept only to send top of book.
#[derive(Default)]
struct Levels {
    bids: BTreeMap<u32, u64>,
    asks: BTreeMap<u32, u64>,
}

impl Levels {
    fn of(snapshot: &betbet_protocol::query::BookSnapshot) -> Levels {
        Levels {
            bids: snapshot.bids.iter().map(|l| (l.price.0, l.qty.0)).collect(),
            asks: snapshot.asks.iter().map(|l| (l.price.0, l.qty.0)).collect(),
        }
    }

    fn apply(&mut self, delta: &betbet_protocol::event::BookDelta) {
        let side = match delta.side {
            betbet_protocol::event::BookSide::Bid => &mut self.bids,
            betbet_protocol::event::BookSide::Ask => &mut self.asks,
        };
        if delta.qty.0 == 0 {
            side.remove(&delta.price.0);
        } else {
            side.insert(delta.price.0, delta.qty.0);
        }
    }

    fn top(&self, book: OutcomeId, seq: u64) -> TopOfBook {
        let (bid, bid_qty) = self
            .bids
            .iter()
            .next_back()
            .map_or((0, 0), |(&p, &q)| (p, q));
        let (ask, ask_qty) = self.asks.iter().next().map_or((0, 0), |(&p, &q)| (p, q));
        TopOfBook {
            book,
            seq,
            bid: Price(bid),
            bid_qty: Qty(bid_qty),
            ask: Price(ask),
            ask_qty: Qty(ask_qty),
            at: now(),
        }
    }
}

struct Subscription {
    stream: quinn::SendStream,
    books: HashMap<OutcomeId, u64>,
    /// Level 2 per book for top-of-book datagrams: (bids, asks) price → qty.
    levels: HashMap<OutcomeId, Levels>,
}

struct Session {
    state: AppState,
    config: FeedConfig,
    connection: quinn::Connection,
    user: UserId,
    /// The API key the connection logged in with.
    key: u64,
    send: quinn::SendStream,
    tracked: HashMap<OrderId, Tracked>,
    subscriptions: HashMap<MarketId, Subscription>,
    book_market: HashMap<OutcomeId, MarketId>,
    budget: BudgetGuard,
    /// Cancel this connection's orders when it ends (the client asked for it).
    cancel_on_disconnect: bool,
}

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64),
    )
}

async fn verify_login(state: &AppState, keys: &Keys, login: &Login) -> Result<UserId, ResultCode> {
    let view = match state
        .query(Query::ApiKey(ApiKeyQuery { key: login.key_id }))
        .await
    {
        Ok(QueryReply::ApiKey(view)) => view,
        Ok(_) => return Err(ResultCode::ApiKeyNotFound),
        Err(_) => return Err(ResultCode::Unavailable),
    };
    let secret = keys
        .open(&view.sealed_secret)
        .ok_or(ResultCode::BadSignature)?;
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&secret).expect("any key");
    mac.update(&login_message(login.key_id, login.timestamp, &login.nonce));
    mac.verify_slice(&login.signature)
        .map_err(|_| ResultCode::BadSignature)?;
    match state
        .core
        .command(Command::ApiKeyLogin(ApiKeyLogin {
            key: login.key_id,
            timestamp: login.timestamp,
            nonce: login.nonce,
        }))
        .await
    {
        Ok(outcome) => match outcome.response {
            Response::Accepted(Reply::Authenticated(auth)) => Ok(auth.user),
            Response::Rejected(code) => Err(code),
            _ => Err(ResultCode::InvalidRequest),
        },
        Err(error) => Err(betbet_protocol::result::ResultCode::from_name(&error.code)
            .unwrap_or(ResultCode::Unavailable)),
    }
}

/// Answers a login with its refusal, lets the answer reach the client, and closes.
async fn refuse_login(
    mut send: quinn::SendStream,
    connection: &quinn::Connection,
    code: ResultCode,
) -> Result<(), SessionError> {
    betbet_feed_client::write_frame(
        &mut send,
        &FeedReply::LoginRejected(FeedError {
            client_ref: 0,
            code,
        }),
    )
    .await?;
    let _ = send.finish();
    tokio::time::sleep(Duration::from_millis(100)).await;
    connection.close(2u32.into(), code.name().as_bytes());
    Ok(())
}

/// Whether `key` is still live and its `user` still active (after a login).
async fn still_allowed(state: &AppState, key: u64, user: UserId) -> Result<(), ResultCode> {
    match state.query(Query::ApiKey(ApiKeyQuery { key })).await {
        Ok(QueryReply::ApiKey(view)) if view.revoked_at.is_none() => {}
        Ok(QueryReply::ApiKey(_)) => return Err(ResultCode::ApiKeyRevoked),
        Ok(_) => return Err(ResultCode::ApiKeyNotFound),
        Err(_) => return Err(ResultCode::Unavailable),
    }
    match state.query(Query::User(UserQuery { user })).await {
        Ok(QueryReply::User(view)) if view.status == UserStatus::Active => Ok(()),
        Ok(QueryReply::User(_)) => Err(ResultCode::AccountSuspended),
        Ok(_) => Err(ResultCode::UserNotFound),
        Err(_) => Err(ResultCode::Unavailable),
    }
}

impl Session {
    async fn run(
        state: AppState,
        config: FeedConfig,
        budgets: Arc<Budgets>,
        connection: quinn::Connection,
    ) -> Result<(), SessionError> {
        let (mut send, recv) = tokio::time::timeout(LOGIN_TIMEOUT, connection.accept_bi())
            .await
            .map_err(|_| SessionError::Io("no login stream in time".into()))??;
        let mut recv = FrameReader::new(recv);
        let login = match tokio::time::timeout(LOGIN_TIMEOUT, recv.next::<FeedRequest>()).await {
            Ok(Ok(Some(FeedRequest::Login(login)))) => login,
            _ => {
                connection.close(1u32.into(), b"the first frame must be a login");
                return Ok(());
            }
        };
        // Refuse a key's extra connection before its login uses up a nonce.
        let verified = if budgets.is_full(login.key_id) {
            Err(ResultCode::LimitExceeded)
        } else {
            verify_login(&state, &state.keys, &login).await
        };
        let budget = verified.and_then(|user| {
            let budget = budgets
                .join(login.key_id, config.requests_per_second)
                .ok_or(ResultCode::LimitExceeded)?;
            Ok((user, budget))
        });
        let (user, budget) = match budget {
            Ok(joined) => joined,
            Err(code) => {
                return refuse_login(send, &connection, code).await;
            }
        };
        // Register for events before acknowledging, so nothing after the login is missed.
        let registration = state.hub.register(Some(user));
        // A revocation or suspension applied between the login and the registration
        // published its event before this connection could receive it: look once more.
        // Queries see everything applied so far; anything later reaches `registration`.
        if let Err(code) = still_allowed(&state, login.key_id, user).await {
            return refuse_login(send, &connection, code).await;
        }
        betbet_feed_client::write_frame(
            &mut send,
            &FeedReply::LoggedIn(LoggedIn {
                user,
                key_id: login.key_id,
                server_time: now(),
            }),
        )
        .await?;
        tracing::info!(user = %user.public(), key = login.key_id, "feed login");
        let mut session = Session {
            budget,
            state,
            config,
            connection,
            user,
            key: login.key_id,
            send,
            tracked: HashMap::new(),
            subscriptions: HashMap::new(),
            book_market: HashMap::new(),
            cancel_on_disconnect: false,
        };
        session.serve(recv, registration).await
    }

    async fn reply(&mut self, reply: FeedReply) -> Result<(), SessionError> {
        write_timed(&mut self.send, &reply).await
    }

    async fn reject(
        &mut self,
        client_ref: u64,
        order: OrderId,
        code: ResultCode,
    ) -> Result<(), SessionError> {
        self.reply(FeedReply::Exec(ExecReport {
            client_ref,
            order,
            kind: ExecKind::Rejected,
            code: Some(code),
            filled: Qty(0),
            remaining: Qty(0),
            last_price: Price(0),
            last_qty: Qty(0),
            at: now(),
        }))
        .await
    }

    /// Whether orders on `outcome` are in mirrored (NO) terms: a binary or scalar market's
    /// second outcome trades on the first one's book.
    async fn is_mirrored(&self, outcome: OutcomeId, market: MarketId) -> bool {
        crate::api::market_shape(&self.state, market)
            .await
            .is_ok_and(|shape| crate::api::shape_no_terms(&shape, outcome))
    }

    /// Starts reporting an order this connection placed, under the client's number for it.
    fn track(&mut self, order: OrderId, client_ref: u64, qty: Qty, mirror: bool, own: bool) {
        if self.tracked.len() < TRACKED_ORDERS_MAX {
            self.tracked.insert(
                order,
                Tracked {
                    client_ref,
                    qty: qty.0,
                    filled: 0,
                    mirror,
                    own,
                },
            );
        }
    }

    /// Takes one request: a command is queued at the core and joins `in_flight`; an answer
    /// that needs no core joins it ready-made, so replies keep the order of the requests.
    async fn handle(
        &mut self,
        registration: &Registration,
        in_flight: &mut VecDeque<InFlight>,
        request: FeedRequest,
    ) -> Result<(), SessionError> {
        if !matches!(request, FeedRequest::Ping(_)) && !self.budget.allow() {
            let client_ref = match &request {
                FeedRequest::NewOrder(o) => o.client_ref,
                FeedRequest::Cancel(c) => c.client_ref,
                FeedRequest::CancelAll(c) => c.client_ref,
                FeedRequest::Amend(a) => a.client_ref,
                FeedRequest::MassQuote(m) => m.client_ref,
                FeedRequest::CancelOnDisconnect(c) => c.client_ref,
                _ => 0,
            };
            in_flight.push_back(InFlight::Ready(FeedReply::Error(FeedError {
                client_ref,
                code: ResultCode::LimitExceeded,
            })));
            return Ok(());
        }
        let (command, submission) = match request {
            FeedRequest::Login(_) => {
                in_flight.push_back(InFlight::Ready(FeedReply::Error(FeedError {
                    client_ref: 0,
                    code: ResultCode::InvalidRequest,
                })));
                return Ok(());
            }
            FeedRequest::Ping(ping) => {
                in_flight.push_back(InFlight::Ready(FeedReply::Pong(ping)));
                return Ok(());
            }
            FeedRequest::CancelOnDisconnect(setting) => {
                self.cancel_on_disconnect = setting.enabled;
                in_flight.push_back(InFlight::Ready(FeedReply::CancelOnDisconnect(setting)));
                return Ok(());
            }
            FeedRequest::NewOrder(order) => (
                Command::PlaceOrder(PlaceOrder {
                    actor: self.user,
                    pool: None,
                    market: order.market,
                    outcome: order.outcome,
                    side: order.side,
                    kind: order.kind,
                    price: order.price,
                    qty: order.qty,
                    time_in_force: order.time_in_force,
                    expires_at: order.expires_at,
                    post_only: order.post_only,
                    client_order_id: None,
                    self_trade: order.self_trade,
                }),
                Submission::NewOrder {
                    mirror: self.is_mirrored(order.outcome, order.market).await,
                    order,
                },
            ),
            FeedRequest::Cancel(cancel) => (
                Command::CancelOrder(CancelOrder {
                    actor: self.user,
                    order: cancel.order,
                }),
                Submission::Cancel(cancel),
            ),
            FeedRequest::CancelAll(cancel) => (
                Command::CancelAll(CancelAll {
                    actor: self.user,
                    market: cancel.market,
                    pool: None,
                }),
                Submission::CancelAll(cancel),
            ),
            FeedRequest::Amend(amend) => (
                Command::AmendOrder(AmendOrder {
                    actor: self.user,
                    order: amend.order,
                    qty: amend.qty,
                    price: amend.price,
                }),
                Submission::Amend(amend),
            ),
            FeedRequest::MassQuote(quote) => {
                if quote.quotes.len() > MASS_QUOTE_MAX {
                    in_flight.push_back(InFlight::Ready(FeedReply::MassQuote(MassQuoteAck {
                        client_ref: quote.client_ref,
                        code: Some(ResultCode::LimitExceeded),
                        orders: Vec::new(),
                    })));
                    return Ok(());
                }
                // One lookup for all the quotes (they share the market).
                let shape = crate::api::market_shape(&self.state, quote.market)
                    .await
                    .ok();
                let mirrors = quote
                    .quotes
                    .iter()
                    .map(|q| {
                        shape
                            .as_ref()
                            .is_some_and(|shape| crate::api::shape_no_terms(shape, q.outcome))
                    })
                    .collect();
                (
                    Command::MassQuote(MassQuote {
                        actor: self.user,
                        market: quote.market,
                        quotes: quote.quotes.clone(),
                    }),
                    Submission::MassQuote { quote, mirrors },
                )
            }
            // Market-data requests are answered inline: first everything before them.
            FeedRequest::Subscribe(market) => {
                self.answer_all(in_flight).await?;
                return self.subscribe(registration, market.market).await;
            }
            FeedRequest::Unsubscribe(market) => {
                self.answer_all(in_flight).await?;
                registration.unfollow(market.market);
                if let Some(mut subscription) = self.subscriptions.remove(&market.market) {
                    for book in subscription.books.keys() {
                        self.book_market.remove(book);
                    }
                    let _ = subscription.stream.finish();
                }
                return Ok(());
            }
            FeedRequest::Snapshot(request) => {
                self.answer_all(in_flight).await?;
                return self.resync(request.book).await;
            }
        };
        in_flight.push_back(InFlight::Command {
            submission,
            reply: self.state.core.submit(command),
        });
        Ok(())
    }

    /// Answers a command from the core's reply.
    async fn answer(
        &mut self,
        submission: Submission,
        result: Result<CommandOutcome, ResultCode>,
    ) -> Result<(), SessionError> {
        match submission {
            // The acceptance is acknowledged from the command's reply; fills and the end of
            // the order follow from the event stream, whose events for this order are
            // routed only after this (see `serve`).
            Submission::NewOrder { order, mirror } => match result {
                Ok(outcome) => {
                    let Response::Accepted(Reply::Order(report)) = outcome.response else {
                        return self
                            .reject(order.client_ref, OrderId(0), ResultCode::InvalidRequest)
                            .await;
                    };
                    self.track(report.order, order.client_ref, order.qty, mirror, true);
                    self.exec(ExecReport {
                        client_ref: order.client_ref,
                        order: report.order,
                        kind: ExecKind::Accepted,
                        code: None,
                        filled: Qty(0),
                        remaining: order.qty,
                        last_price: order.price,
                        last_qty: Qty(0),
                        at: outcome.at,
                    })
                    .await
                }
                Err(code) => self.reject(order.client_ref, OrderId(0), code).await,
            },
            // A cancel succeeds silently: the `Cancelled` report comes from the events.
            Submission::Cancel(cancel) => match result {
                Ok(_) => Ok(()),
                Err(code) => self.reject(cancel.client_ref, cancel.order, code).await,
            },
            Submission::CancelAll(cancel) => match result {
                Ok(_) => Ok(()),
                Err(code) => {
                    self.reply(FeedReply::Error(FeedError {
                        client_ref: cancel.client_ref,
                        code,
                    }))
                    .await
                }
            },
            Submission::Amend(amend) => match result {
                Ok(outcome) => {
                    let Response::Accepted(Reply::Order(report)) = outcome.response else {
                        return Ok(());
                    };
                    if let Some(tracked) = self.tracked.get_mut(&amend.order) {
                        tracked.qty = report.filled.0 + report.remaining.0;
                    }
                    self.reply(FeedReply::Exec(ExecReport {
                        client_ref: amend.client_ref,
                        order: amend.order,
                        kind: ExecKind::Amended,
                        code: None,
                        filled: report.filled,
                        remaining: report.remaining,
                        last_price: amend.price,
                        last_qty: Qty(0),
                        at: outcome.at,
                    }))
                    .await
                }
                Err(code) => self.reject(amend.client_ref, amend.order, code).await,
            },
            Submission::MassQuote { quote, mirrors } => {
                let ack = match result {
                    Ok(CommandOutcome {
                        response: Response::Accepted(Reply::Quotes(quotes)),
                        ..
                    }) => {
                        // The orders come bid then ask per quote, absent sides skipped.
                        let legs = quote.quotes.iter().zip(&mirrors).flat_map(|(q, &mirror)| {
                            [q.bid_qty, q.ask_qty]
                                .into_iter()
                                .filter(|qty| qty.0 > 0)
                                .map(move |qty| (qty, mirror))
                        });
                        for (&order, (qty, mirror)) in quotes.orders.iter().zip(legs) {
                            self.track(order, quote.client_ref, qty, mirror, true);
                        }
                        MassQuoteAck {
                            client_ref: quote.client_ref,
                            code: None,
                            orders: quotes.orders,
                        }
                    }
                    Ok(_) => MassQuoteAck {
                        client_ref: quote.client_ref,
                        code: Some(ResultCode::InvalidRequest),
                        orders: Vec::new(),
                    },
                    Err(code) => MassQuoteAck {
                        client_ref: quote.client_ref,
                        code: Some(code),
                        orders: Vec::new(),
                    },
                };
                self.reply(FeedReply::MassQuote(ack)).await
            }
        }
    }

    /// Sends the answers at the front of `in_flight` that are already known, in order.
    /// (Unconstrained: tokio's cooperative budget must not make a reply that is here look
    /// pending.)
    async fn answer_ready(
        &mut self,
        in_flight: &mut VecDeque<InFlight>,
    ) -> Result<(), SessionError> {
        while let Some(answer) = in_flight
            .front_mut()
            .and_then(|f| tokio::task::unconstrained(f.answer()).now_or_never())
        {
            let entry = in_flight.pop_front().expect("the front was answered");
            self.settle(entry, answer).await?;
        }
        Ok(())
    }

    /// Waits for and sends every answer in flight, in order.
    async fn answer_all(&mut self, in_flight: &mut VecDeque<InFlight>) -> Result<(), SessionError> {
        while let Some(mut entry) = in_flight.pop_front() {
            let answer = entry.answer().await;
            self.settle(entry, answer).await?;
        }
        Ok(())
    }

    /// Sends the answer of `entry`, taken from the front of the pipeline.
    async fn settle(
        &mut self,
        entry: InFlight,
        answer: Option<Result<CommandOutcome, ResultCode>>,
    ) -> Result<(), SessionError> {
        match (entry, answer) {
            (InFlight::Ready(reply), _) => self.reply(reply).await,
            (InFlight::Command { submission, .. }, Some(result)) => {
                self.answer(submission, result).await
            }
            // `InFlight::answer` always answers a command.
            (InFlight::Command { submission, .. }, None) => {
                self.answer(submission, Err(ResultCode::Unavailable)).await
            }
        }
    }

    async fn subscribe(
        &mut self,
        registration: &Registration,
        market: MarketId,
    ) -> Result<(), SessionError> {
        if self.subscriptions.contains_key(&market)
            || self.subscriptions.len() >= FEED_SUBSCRIPTIONS_MAX
        {
            let code = if self.subscriptions.contains_key(&market) {
                ResultCode::InvalidRequest
            } else {
                ResultCode::LimitExceeded
            };
            return self
                .reply(FeedReply::Error(FeedError {
                    client_ref: 0,
                    code,
                }))
                .await;
        }
        // Route the market's events here before taking the snapshot.
        let shape = match crate::api::market_shape(&self.state, market).await {
            Ok(shape) => shape,
            Err(_) => {
                return self
                    .reply(FeedReply::Error(FeedError {
                        client_ref: 0,
                        code: ResultCode::MarketNotFound,
                    }))
                    .await;
            }
        };
        let books: Vec<OutcomeId> = match shape.market_type {
            MarketType::Multiple => shape.outcomes.clone(),
            _ => shape.outcomes[..1].to_vec(),
        };
        registration.follow(market, &books);
        let data = match self
            .state
            .query(Query::MarketData(MarketQuery { market }))
            .await
        {
            Ok(QueryReply::MarketData(data)) => data,
            _ => {
                return self
                    .reply(FeedReply::Error(FeedError {
                        client_ref: 0,
                        code: ResultCode::MarketNotFound,
                    }))
                    .await;
            }
        };
        let mut stream = self.connection.open_uni().await?;
        let mut books = HashMap::new();
        let mut levels = HashMap::new();
        for book in &data.books {
            write_timed(&mut stream, &FeedData::Snapshot(book.clone())).await?;
            books.insert(book.book, book.seq);
            if self.config.datagrams {
                levels.insert(book.book, Levels::of(book));
            }
            self.book_market.insert(book.book, market);
        }
        let ids: Vec<OutcomeId> = data.books.iter().map(|b| b.book).collect();
        self.subscriptions.insert(
            market,
            Subscription {
                stream,
                books,
                levels,
            },
        );
        self.reply(FeedReply::Subscribed(Subscribed { market, books: ids }))
            .await
    }

    /// Sends a fresh snapshot of `book` on its subscription stream; deltas continue after it.
    async fn resync(&mut self, book: OutcomeId) -> Result<(), SessionError> {
        let Some(&market) = self.book_market.get(&book) else {
            return self
                .reply(FeedReply::Error(FeedError {
                    client_ref: 0,
                    code: ResultCode::OutcomeNotFound,
                }))
                .await;
        };
        let Ok(QueryReply::Book(snapshot)) = self
            .state
            .query(Query::Book(BookQuery {
                outcome: book,
                depth: BOOK_DEPTH_MAX,
            }))
            .await
        else {
            return self
                .reply(FeedReply::Error(FeedError {
                    client_ref: 0,
                    code: ResultCode::OutcomeNotFound,
                }))
                .await;
        };
        let subscription = self
            .subscriptions
            .get_mut(&market)
            .expect("book_market follows subscriptions");
        // Deltas at or below the snapshot's sequence are already in it.
        subscription
            .books
            .insert(book, snapshot.seq.max(subscription.books[&book]));
        if self.config.datagrams {
            subscription.levels.insert(book, Levels::of(&snapshot));
        }
        write_timed(&mut subscription.stream, &FeedData::Snapshot(snapshot)).await?;
        Ok(())
    }

    async fn exec(&mut self, report: ExecReport) -> Result<(), SessionError> {
        self.reply(FeedReply::Exec(report)).await
    }

    async fn route(&mut self, event: &Event) -> Result<(), SessionError> {
        match event {
            Event::BookDelta(delta) => {
                if let Some(market) = self.book_market.get(&delta.book).copied()
                    && let Some(subscription) = self.subscriptions.get_mut(&market)
                    && let Some(last) = subscription.books.get_mut(&delta.book)
                    && delta.seq > *last
                {
                    *last = delta.seq;
                    write_timed(&mut subscription.stream, &FeedData::Delta(*delta)).await?;
                    if let Some(levels) = subscription.levels.get_mut(&delta.book) {
                        levels.apply(delta);
                        let top = FeedData::Top(levels.top(delta.book, delta.seq));
                        // Datagrams are best effort: a full buffer just drops this one.
                        let _ = self
                            .connection
                            .send_datagram(betbet_protocol::codec::to_vec(&top).into());
                    }
                }
            }
            Event::Trade(trade) => {
                if let Some(subscription) = self.subscriptions.get_mut(&trade.market)
                    && let Some(last) = subscription.books.get_mut(&trade.book)
                    && trade.seq > *last
                {
                    *last = trade.seq;
                    write_timed(&mut subscription.stream, &FeedData::Trade(*trade)).await?;
                }
                for (order, user) in [
                    (trade.taker_order, trade.taker_user),
                    (trade.maker_order, trade.maker_user),
                ] {
                    if user != self.user {
                        continue;
                    }
                    if let Some(tracked) = self.tracked.get_mut(&order) {
                        tracked.filled += trade.qty.0;
                        let (client_ref, filled, qty, mirror) = (
                            tracked.client_ref,
                            tracked.filled,
                            tracked.qty,
                            tracked.mirror,
                        );
                        let kind = if filled >= qty {
                            ExecKind::Filled
                        } else {
                            ExecKind::PartiallyFilled
                        };
                        if kind == ExecKind::Filled {
                            self.tracked.remove(&order);
                        }
                        self.exec(ExecReport {
                            client_ref,
                            order,
                            kind,
                            code: None,
                            filled: Qty(filled),
                            remaining: Qty(qty.saturating_sub(filled)),
                            last_price: if mirror {
                                trade.price.complement()
                            } else {
                                trade.price
                            },
                            last_qty: trade.qty,
                            at: trade.at,
                        })
                        .await?;
                    }
                }
            }
            // Orders of this user placed elsewhere (REST, another connection): reported with
            // client_ref 0. This connection's own orders were tracked when acknowledged.
            Event::OrderAccepted(accepted)
                if accepted.user == self.user && !self.tracked.contains_key(&accepted.order) =>
            {
                let mirror = self.is_mirrored(accepted.outcome, accepted.market).await;
                self.track(accepted.order, 0, accepted.qty, mirror, false);
                self.exec(ExecReport {
                    client_ref: 0,
                    order: accepted.order,
                    kind: ExecKind::Accepted,
                    code: None,
                    filled: Qty(0),
                    remaining: accepted.qty,
                    last_price: accepted.price,
                    last_qty: Qty(0),
                    at: now(),
                })
                .await?;
            }
            // An order of this user resized elsewhere (an amend over REST or another
            // connection): its size decides when the fills complete it.
            Event::OrderUpdated(update) if update.user == self.user && update.reason.is_none() => {
                if let Some(tracked) = self.tracked.get_mut(&update.order) {
                    tracked.qty = update.filled.0 + update.remaining.0;
                }
            }
            Event::OrderUpdated(update) if update.user == self.user && update.reason.is_some() => {
                let kind = match update.status {
                    OrderStatus::Cancelled => ExecKind::Cancelled,
                    OrderStatus::Expired => ExecKind::Expired,
                    // Fills were reported trade by trade.
                    _ => {
                        self.tracked.remove(&update.order);
                        return Ok(());
                    }
                };
                let client_ref = self
                    .tracked
                    .remove(&update.order)
                    .map_or(0, |t| t.client_ref);
                self.exec(ExecReport {
                    client_ref,
                    order: update.order,
                    kind,
                    code: None,
                    filled: update.filled,
                    remaining: Qty(0),
                    last_price: update.price,
                    last_qty: Qty(0),
                    at: now(),
                })
                .await?;
            }
            Event::ApiKeyRevoked(revoked) if revoked.key == self.key => {
                self.connection.close(5u32.into(), b"api_key_revoked");
                return Err(SessionError::Io("the API key was revoked".into()));
            }
            Event::UserChanged(changed) if changed.user == self.user => {
                // Only a definitive answer closes the session (the engine refuses a
                // suspended user's commands in any case).
                let suspended = matches!(
                    self.state.query(Query::User(UserQuery { user: self.user })).await,
                    Ok(QueryReply::User(user)) if user.status != UserStatus::Active
                );
                if suspended {
                    self.connection.close(6u32.into(), b"account_suspended");
                    return Err(SessionError::Io("the user was suspended".into()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn serve(
        &mut self,
        recv: FrameReader,
        mut registration: Registration,
    ) -> Result<(), SessionError> {
        let mut in_flight: VecDeque<InFlight> = VecDeque::with_capacity(FEED_PIPELINE_MAX);
        let ended = self
            .serve_requests(recv, &mut registration, &mut in_flight)
            .await;
        drop(registration);
        if self.cancel_on_disconnect {
            // The client sees the connection end before its orders go.
            self.connection.close(0u32.into(), b"session ended");
            self.cancel_own_orders(in_flight).await;
        }
        ended
    }

    /// Cancel on disconnect: cancels every order this connection placed that may still
    /// rest — those it reported first, then those whose answers it never got to send —
    /// retrying what the core could not take, until [`CANCEL_ON_DISCONNECT_DEADLINE`].
    async fn cancel_own_orders(&mut self, in_flight: VecDeque<InFlight>) {
        let deadline = tokio::time::Instant::now() + CANCEL_ON_DISCONNECT_DEADLINE;
        let known: Vec<OrderId> = self
            .tracked
            .iter()
            .filter(|(_, tracked)| tracked.own)
            .map(|(&order, _)| order)
            .collect();
        // The core takes commands in order: nothing is lost by not waiting for the rest.
        let mut settled = self.cancel_orders(&known, deadline).await;
        let mut placed = Vec::new();
        for entry in in_flight {
            let InFlight::Command {
                submission: Submission::NewOrder { .. } | Submission::MassQuote { .. },
                reply,
            } = entry
            else {
                continue;
            };
            match tokio::time::timeout_at(deadline, reply).await {
                Ok(Ok(CommandOutcome {
                    response: Response::Accepted(Reply::Order(report)),
                    ..
                })) => placed.push(report.order),
                Ok(Ok(CommandOutcome {
                    response: Response::Accepted(Reply::Quotes(quotes)),
                    ..
                })) => placed.extend(quotes.orders),
                _ => {}
            }
        }
        settled += self.cancel_orders(&placed, deadline).await;
        let orders = known.len() + placed.len();
        if settled < orders {
            tracing::warn!(
                user = %self.user.public(),
                key = self.key,
                orders,
                unsettled = orders - settled,
                "cancel on disconnect could not reach the core for every order"
            );
        } else {
            tracing::info!(user = %self.user.public(), key = self.key, orders, "cancel on disconnect");
        }
    }

    /// Cancels `orders`, a chunk at a time (the core's queue is bounded), retrying the
    /// cancels the core could not take (overloaded, unreachable) with a growing pause until
    /// `deadline`. Returns how many got a final answer (cancelled, or no longer open).
    async fn cancel_orders(&self, orders: &[OrderId], deadline: tokio::time::Instant) -> usize {
        let mut pending = orders.to_vec();
        let mut settled = 0;
        let mut pause = Duration::from_millis(10);
        while !pending.is_empty() {
            let mut retry = Vec::new();
            for chunk in pending.chunks(CANCEL_ON_DISCONNECT_CHUNK) {
                let replies: Vec<(OrderId, CommandReply)> = chunk
                    .iter()
                    .map(|&order| {
                        let command = Command::CancelOrder(CancelOrder {
                            actor: self.user,
                            order,
                        });
                        (order, self.state.core.submit(command))
                    })
                    .collect();
                for (order, reply) in replies {
                    match tokio::time::timeout_at(deadline, reply).await {
                        Ok(Ok(_)) => settled += 1,
                        _ => retry.push(order),
                    }
                }
            }
            if retry.is_empty() || tokio::time::Instant::now() + pause >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
            pending = retry;
        }
        settled
    }

    async fn serve_requests(
        &mut self,
        mut recv: FrameReader,
        registration: &mut Registration,
        in_flight: &mut VecDeque<InFlight>,
    ) -> Result<(), SessionError> {
        loop {
            // Every branch is cancel-safe: a frame half read stays buffered in `recv`, and a
            // reply being awaited stays at the front of `in_flight`.
            // Unbiased: order entry and market data take turns (`answer_ready` keeps an
            // acceptance ahead of its fills whichever branch wins).
            tokio::select! {
                answer = async { in_flight.front_mut()?.answer().await }, if !in_flight.is_empty() => {
                    let entry = in_flight.pop_front().expect("the front was answered");
                    self.settle(entry, answer).await?;
                }
                batch = registration.queue.recv() => {
                    if registration.is_lagging() {
                        self.connection.close(4u32.into(), b"too slow: fell behind the event stream");
                        return Ok(());
                    }
                    let Some(batch) = batch else { return Ok(()) };
                    // The core answers a group commit's commands before it publishes their
                    // events, so the answers to this connection's commands in `batch` are
                    // here already: send them first, tracking their orders, so the fills
                    // and cancels below find their `client_ref` and follow the acceptance.
                    self.answer_ready(in_flight).await?;
                    for (event, _) in batch.events() {
                        self.route(event).await?;
                    }
                }
                request = recv.next::<FeedRequest>(), if in_flight.len() < FEED_PIPELINE_MAX => match request {
                    Ok(Some(request)) => self.handle(registration, in_flight, request).await?,
                    Ok(None) => {
                        // The client finished sending: answer what it sent, and let the
                        // answers reach it before the connection goes.
                        self.answer_all(in_flight).await?;
                        let _ = self.send.finish();
                        let _ = tokio::time::timeout(LOGIN_TIMEOUT, self.send.stopped()).await;
                        return Ok(());
                    }
                    Err(error) => {
                        let message = error.to_string();
                        self.connection.close(3u32.into(), b"bad frame");
                        return Err(SessionError::Io(message));
                    }
                },
            }
        }
    }
}

/// How many requests of one connection may wait for the core at once. They are queued in
/// order and answered in order, so a burst costs about one group commit rather than one
/// each; with the pipeline full the connection is not read (QUIC flow control pushes back).
pub const FEED_PIPELINE_MAX: usize = 256;
/// Cancels queued at the core at once by cancel on disconnect.
const CANCEL_ON_DISCONNECT_CHUNK: usize = 1_024;
/// How long cancel on disconnect keeps trying to reach the core for every order.
const CANCEL_ON_DISCONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// A request waiting for its turn to be answered.
enum InFlight {
    /// Answered without the core (a refusal, a pong): sent when its turn comes.
    Ready(FeedReply),
    /// Queued at the core.
    Command {
        submission: Submission,
        reply: CommandReply,
    },
}

/// What answering a queued command needs from its request.
enum Submission {
    NewOrder {
        order: NewOrder,
        mirror: bool,
    },
    Cancel(CancelRequest),
    CancelAll(CancelAllRequest),
    Amend(AmendRequest),
    MassQuote {
        quote: MassQuoteRequest,
        /// Per quote, whether its outcome trades in mirrored terms.
        mirrors: Vec<bool>,
    },
}

impl InFlight {
    /// The core's answer to a command once it is here; `None` at once for a ready-made
    /// reply. Cancel-safe: the pending reply stays in `self` until it resolves.
    async fn answer(&mut self) -> Option<Result<CommandOutcome, ResultCode>> {
        match self {
            InFlight::Ready(_) => None,
            InFlight::Command { reply, .. } => Some(match reply.await {
                Ok(CommandOutcome {
                    response: Response::Rejected(code),
                    ..
                }) => Err(code),
                Ok(outcome) => Ok(outcome),
                Err(error) => {
                    Err(ResultCode::from_name(&error.code).unwrap_or(ResultCode::Unavailable))
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, cert: Option<PathBuf>, key: Option<PathBuf>) -> FeedConfig {
        FeedConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            cert,
            key,
            data_dir: dir.to_path_buf(),
            requests_per_second: 1,
            datagrams: false,
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("betbet-feed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn certificates_load_from_pem_files_and_the_generated_one_is_kept() {
        let dir = scratch("pem");
        let generated =
            rcgen::generate_simple_self_signed(vec!["feed.example".to_owned()]).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, generated.cert.pem()).unwrap();
        std::fs::write(&key_path, generated.key_pair.serialize_pem()).unwrap();
        let (certs, key) =
            load_certificate(&config(&dir, Some(cert_path.clone()), Some(key_path))).unwrap();
        assert_eq!(certs[0].as_ref(), generated.cert.der().as_ref());
        assert!(
            server_config(certs, key).is_ok(),
            "the key matches the certificate"
        );
        assert!(load_certificate(&config(&dir, Some(cert_path), None)).is_err());

        // Without files: generated once into DATA_DIR/tls, then reused (stable fingerprint).
        let (first, _) = load_certificate(&config(&dir, None, None)).unwrap();
        let (again, _) = load_certificate(&config(&dir, None, None)).unwrap();
        assert_eq!(fingerprint(&first[0]), fingerprint(&again[0]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

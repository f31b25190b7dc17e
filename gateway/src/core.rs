//! The gateway's way to the core, wherever it runs.
//!
//! `Core::Local` holds a handle to the core thread in this process (`betbet serve`);
//! `Core::Remote` speaks the binary protocol to a `betbet core` over mutual TLS
//! ([`crate::link`]), multiplexing every
//! request on one connection by correlation id and reconnecting with backoff when it drops.
//! Either way a route awaits one future per request, and every engine event batch reaches
//! the gateway's subscribers through one broadcast channel (a subscriber that lags is told
//! so and must resynchronise; it never slows the core).

use crate::error::{ApiError, ApiResult};
use crate::link::{receive, send};
use betbet_engine::runtime::{CommandOutcome, CoreHandle};
use betbet_protocol::command::Command;
use betbet_protocol::message::{
    ClientMessage, CommandWithin, EventBatch, Hello, Ping, Request, RequestBody, Response,
    ServerMessage, Subscribe,
};
use betbet_protocol::query::{Query, QueryReply};
use betbet_protocol::result::ResultCode;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Event batches buffered per gateway subscriber before it counts as lagging.
pub const EVENT_BROADCAST_MAX: usize = 16_384;
/// Requests in flight on a remote core connection.
pub const REMOTE_IN_FLIGHT_MAX: usize = 65_536;
/// How long a request to a remote core may take before the gateway gives up on it.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

/// The reply to a command queued by [`Core::submit`].
pub type CommandReply = Pin<Box<dyn Future<Output = ApiResult<CommandOutcome>> + Send>>;

/// Whether `batch` is the gap marker: sent on the gateway's event broadcast when events may
/// have been lost — a remote core link came back (the core's ring may not reach back that
/// far, or the core restarted and has no ring at all) — so every subscriber must
/// resynchronise. The core never publishes an empty batch, so an empty one is unambiguous.
pub fn is_gap(batch: &EventBatch) -> bool {
    batch.seqs.is_empty()
}

#[derive(Clone)]
pub enum Core {
    Local(CoreHandle),
    Remote(Arc<RemoteCore>),
}

impl Core {
    /// Sends a command and waits until it is durable (or refused).
    pub async fn command(&self, command: Command) -> ApiResult<CommandOutcome> {
        self.submit(command).await
    }

    /// Queues a command at once and returns the wait for its reply. Commands submitted one
    /// after another reach the core in that order however their replies are awaited, which
    /// lets a connection keep several requests in flight (the feed pipelines this way).
    pub fn submit(&self, command: Command) -> CommandReply {
        self.submit_by(command, None)
    }

    /// [`Core::submit`] for a command that must be executed by `deadline` (if any) or not at
    /// all: one the core takes off its queue later is refused `Overloaded` and never
    /// journaled.
    pub fn submit_by(
        &self,
        command: Command,
        deadline: Option<std::time::Instant>,
    ) -> CommandReply {
        match self {
            Core::Local(handle) => {
                let (tx, rx) = oneshot::channel();
                let queued = handle.command_by(
                    command,
                    deadline,
                    Box::new(move |outcome| {
                        let _ = tx.send(outcome);
                    }),
                );
                Box::pin(async move {
                    queued.map_err(|e| ApiError::from(e.code()))?;
                    rx.await
                        .map_err(|_| ApiError::from(ResultCode::Unavailable))
                })
            }
            Core::Remote(remote) => {
                let body = match deadline {
                    Some(deadline) => RequestBody::CommandWithin(CommandWithin {
                        budget_micros: u64::try_from(
                            deadline
                                .saturating_duration_since(std::time::Instant::now())
                                .as_micros(),
                        )
                        .unwrap_or(u64::MAX),
                        command,
                    }),
                    None => RequestBody::Command(command),
                };
                let (tx, rx) = oneshot::channel();
                let id = remote.request(body, Pending::Command(tx));
                let remote = Arc::clone(remote);
                Box::pin(async move { remote.wait(id?, rx).await })
            }
        }
    }

    /// Sends a command and returns its reply, turning a rejection into an error.
    pub async fn execute(&self, command: Command) -> ApiResult<betbet_protocol::message::Reply> {
        self.execute_by(command, None).await
    }

    /// [`Core::execute`] for a command that must be executed by `deadline` (if any) or not
    /// at all (see [`Core::submit_by`]).
    pub async fn execute_by(
        &self,
        command: Command,
        deadline: Option<std::time::Instant>,
    ) -> ApiResult<betbet_protocol::message::Reply> {
        match self.submit_by(command, deadline).await?.response {
            Response::Accepted(reply) => Ok(reply),
            Response::Rejected(code) => Err(ApiError::from(code)),
        }
    }

    pub async fn query(&self, query: Query) -> ApiResult<QueryReply> {
        match self {
            Core::Local(handle) => {
                let (tx, rx) = oneshot::channel();
                handle
                    .query(
                        query,
                        Box::new(move |reply| {
                            let _ = tx.send(reply);
                        }),
                    )
                    .map_err(|e| ApiError::from(e.code()))?;
                rx.await
                    .map_err(|_| ApiError::from(ResultCode::Unavailable))
            }
            Core::Remote(remote) => remote.query(query).await,
        }
    }

    /// Starts forwarding the core's events into `events`.
    pub fn forward_events(&self, events: broadcast::Sender<Arc<EventBatch>>) -> ApiResult<()> {
        match self {
            Core::Local(handle) => handle
                .subscribe(
                    0,
                    Box::new(move |batch| {
                        // A broadcast send never blocks; laggards find out on their side.
                        let _ = events.send(Arc::clone(batch));
                        true
                    }),
                )
                .map_err(|e| ApiError::from(e.code())),
            Core::Remote(remote) => {
                *remote.events.lock().expect("events lock") = Some(events);
                Ok(())
            }
        }
    }
}

enum Pending {
    Command(oneshot::Sender<CommandOutcome>),
    Query(oneshot::Sender<QueryReply>),
}

/// A connection to a `betbet core` process.
pub struct RemoteCore {
    outbound: Mutex<Option<mpsc::Sender<ClientMessage>>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    events: Mutex<Option<broadcast::Sender<Arc<EventBatch>>>>,
    last_seq: AtomicU64,
    connected: AtomicBool,
    /// Links to the core established so far (the first is no reconnection).
    links: AtomicU64,
}

impl RemoteCore {
    /// Connects (retrying in the background forever) to the core at `addr`.
    /// The link is mutual TLS with the deployment's certificates (see [`crate::link`]).
    pub fn connect(addr: String, tls: Arc<rustls::ClientConfig>) -> Arc<RemoteCore> {
        let remote = Arc::new(RemoteCore {
            outbound: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            events: Mutex::new(None),
            last_seq: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            links: AtomicU64::new(0),
        });
        tokio::spawn(Arc::clone(&remote).supervise(addr, tls));
        remote
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    async fn supervise(self: Arc<Self>, addr: String, tls: Arc<rustls::ClientConfig>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.session(&addr, Arc::clone(&tls)).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(error) => tracing::warn!(%error, %addr, "core connection failed"),
            }
            self.connected.store(false, Ordering::Release);
            *self.outbound.lock().expect("outbound lock") = None;
            // Everything in flight is lost with the connection: its outcome is unknown.
            let pending: Vec<Pending> = self
                .pending
                .lock()
                .expect("pending lock")
                .drain()
                .map(|(_, p)| p)
                .collect();
            drop(pending);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn session(&self, addr: &str, tls: Arc<rustls::ClientConfig>) -> std::io::Result<()> {
        let stream = crate::link::connect(addr, tls).await?;
        let (read, write) = tokio::io::split(stream);
        let mut reader = BufReader::new(read);
        let mut writer = BufWriter::new(write);
        send(
            &mut writer,
            &ClientMessage::Hello(Hello::new("betbet-gateway")),
        )
        .await?;
        writer.flush().await?;
        match receive(&mut reader).await? {
            ServerMessage::Welcome(welcome) => {
                tracing::info!(%addr, last_seq = welcome.last_seq, "connected to the core");
                if self.links.fetch_add(1, Ordering::AcqRel) > 0
                    && let Some(events) = self.events.lock().expect("events lock").as_ref()
                {
                    // Back after a break: what was published meanwhile may be gone.
                    let _ = events.send(Arc::new(EventBatch {
                        seqs: Vec::new(),
                        events: Vec::new(),
                    }));
                }
            }
            ServerMessage::Refused(refused) => {
                return Err(std::io::Error::other(format!(
                    "core refused: {}",
                    refused.reason
                )));
            }
            _ => return Err(std::io::Error::other("unexpected handshake reply")),
        }
        let from_seq = self.last_seq.load(Ordering::Acquire);
        send(
            &mut writer,
            &ClientMessage::Subscribe(Subscribe { from_seq }),
        )
        .await?;
        writer.flush().await?;
        let (tx, mut rx) = mpsc::channel::<ClientMessage>(REMOTE_IN_FLIGHT_MAX);
        *self.outbound.lock().expect("outbound lock") = Some(tx);
        self.connected.store(true, Ordering::Release);
        let writing = async {
            let mut keepalive = tokio::time::interval(Duration::from_secs(15));
            loop {
                tokio::select! {
                    message = rx.recv() => {
                        let Some(message) = message else { return Ok::<(), std::io::Error>(()) };
                        send(&mut writer, &message).await?;
                        while let Ok(message) = rx.try_recv() {
                            send(&mut writer, &message).await?;
                        }
                        writer.flush().await?;
                    }
                    _ = keepalive.tick() => {
                        send(&mut writer, &ClientMessage::Ping(Ping { nonce: 0 })).await?;
                        writer.flush().await?;
                    }
                }
            }
        };
        let reading = async {
            loop {
                match receive(&mut reader).await? {
                    ServerMessage::CommandReply(reply) => {
                        if let Some(Pending::Command(tx)) = self
                            .pending
                            .lock()
                            .expect("pending lock")
                            .remove(&reply.correlation_id)
                        {
                            let _ = tx.send(CommandOutcome {
                                seq: reply.seq,
                                at: reply.at,
                                response: reply.response,
                                events: reply.events,
                            });
                        }
                    }
                    ServerMessage::QueryAnswer(answer) => {
                        if let Some(Pending::Query(tx)) = self
                            .pending
                            .lock()
                            .expect("pending lock")
                            .remove(&answer.correlation_id)
                        {
                            let _ = tx.send(answer.reply);
                        }
                    }
                    ServerMessage::Events(batch) => {
                        if let Some(&last) = batch.seqs.last() {
                            self.last_seq.store(last, Ordering::Release);
                        }
                        if let Some(events) = self.events.lock().expect("events lock").as_ref() {
                            let _ = events.send(Arc::new(batch));
                        }
                    }
                    ServerMessage::Pong(_) | ServerMessage::Welcome(_) => {}
                    ServerMessage::Refused(refused) => {
                        return Err(std::io::Error::other(refused.reason));
                    }
                }
            }
        };
        tokio::select! {
            result = writing => result,
            result = reading => result,
        }
    }

    fn request(&self, body: RequestBody, pending: Pending) -> ApiResult<u64> {
        let outbound = self
            .outbound
            .lock()
            .expect("outbound lock")
            .clone()
            .ok_or_else(|| ApiError::from(ResultCode::Unavailable))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut map = self.pending.lock().expect("pending lock");
            if map.len() >= REMOTE_IN_FLIGHT_MAX {
                return Err(ApiError::from(ResultCode::Overloaded));
            }
            map.insert(id, pending);
        }
        let message = ClientMessage::Request(Request {
            correlation_id: id,
            body,
        });
        if outbound.try_send(message).is_err() {
            self.pending.lock().expect("pending lock").remove(&id);
            return Err(ApiError::from(ResultCode::Overloaded));
        }
        Ok(id)
    }

    async fn query(&self, query: Query) -> ApiResult<QueryReply> {
        let (tx, rx) = oneshot::channel();
        let id = self.request(RequestBody::Query(query), Pending::Query(tx))?;
        self.wait(id, rx).await
    }

    async fn wait<T>(&self, id: u64, rx: oneshot::Receiver<T>) -> ApiResult<T> {
        match tokio::time::timeout(REMOTE_TIMEOUT, rx).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(ApiError::from(ResultCode::Unavailable)),
            Err(_) => {
                self.pending.lock().expect("pending lock").remove(&id);
                Err(ApiError::from(ResultCode::Unavailable))
            }
        }
    }
}

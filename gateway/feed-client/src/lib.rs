//! A client for BetBet's market-maker feed: QUIC order entry and market data.
//!
//! ```no_run
//! # async fn example() -> Result<(), betbet_feed_client::FeedClientError> {
//! use betbet_feed_client::{FeedClient, FeedConfig, Trust};
//! let config = FeedConfig {
//!     server: "127.0.0.1:9443".parse().unwrap(),
//!     server_name: "localhost".into(),
//!     trust: Trust::Fingerprint([0; 32]), // printed by the server at start-up
//!     key_id: 1,
//!     secret: b"secret shown once when the key was created".to_vec(),
//! };
//! let (client, logged_in) = FeedClient::connect(&config).await?;
//! let (mut orders, mut reports) = client.order_entry();
//! # Ok(()) }
//! ```
//!
//! The server is trusted by pinning the SHA-256 of its certificate (what `betbet serve`
//! prints for its self-signed development certificate) or by a CA certificate. Login signs
//! the key id, the current time and a random nonce with HMAC-SHA256 under the key's secret;
//! 0-RTT is never used, so an order can never be replayed by a network attacker.

use betbet_protocol::codec::Decode;
use betbet_protocol::feed::{
    FEED_ALPN, FeedData, FeedReply, FeedRequest, LoggedIn, Login, login_message,
};
use betbet_protocol::message::{decode_frame, encode_frame};
use betbet_protocol::types::Timestamp;
use hmac::{Hmac, KeyInit, Mac};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FeedClientError {
    #[error("connecting: {0}")]
    Connect(String),
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("stream: {0}")]
    Read(String),
    #[error("writing: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("login refused: {0}")]
    LoginRejected(betbet_protocol::result::ResultCode),
    #[error("protocol: {0}")]
    Protocol(String),
}

/// How the client decides the server is the server.
#[derive(Debug, Clone)]
pub enum Trust {
    /// SHA-256 of the server's certificate (DER).
    Fingerprint([u8; 32]),
    /// A CA (or self-signed) certificate in DER form.
    Certificate(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub server: SocketAddr,
    pub server_name: String,
    pub trust: Trust,
    pub key_id: u64,
    pub secret: Vec<u8>,
}

/// Accepts exactly the certificate whose SHA-256 is pinned; signatures are still checked.
#[derive(Debug)]
struct PinnedCertificate {
    fingerprint: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if digest == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "server certificate does not match the pinned fingerprint".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn client_config(trust: &Trust) -> Result<quinn::ClientConfig, FeedClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| FeedClientError::Connect(e.to_string()))?;
    let mut config = match trust {
        Trust::Fingerprint(fingerprint) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate {
                fingerprint: *fingerprint,
                provider,
            }))
            .with_no_client_auth(),
        Trust::Certificate(der) => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| FeedClientError::Connect(e.to_string()))?;
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![FEED_ALPN.to_vec()];
    // Orders must never ride in replayable 0-RTT data.
    config.enable_early_data = false;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config)
        .map_err(|e| FeedClientError::Connect(e.to_string()))?;
    Ok(quinn::ClientConfig::new(Arc::new(quic)))
}

pub async fn write_frame<T: betbet_protocol::codec::Encode>(
    send: &mut quinn::SendStream,
    message: &T,
) -> Result<(), FeedClientError> {
    let mut frame = Vec::new();
    encode_frame(message, &mut frame).map_err(|e| FeedClientError::Protocol(e.to_string()))?;
    send.write_all(&frame).await?;
    Ok(())
}

/// Reads length-prefixed frames from a QUIC stream, buffering what arrives.
///
/// [`FrameReader::next`] is cancel-safe: bytes read before its future is dropped stay in the
/// buffer, so it may sit in a `select!` or under a timeout. The buffer never holds more than
/// one maximal frame plus one read.
pub struct FrameReader {
    recv: quinn::RecvStream,
    buf: Vec<u8>,
    /// Where the unconsumed bytes of `buf` start.
    start: usize,
}

/// Bytes asked for per read.
const READ_CHUNK: usize = 16 * 1024;

impl FrameReader {
    pub fn new(recv: quinn::RecvStream) -> Self {
        FrameReader {
            recv,
            buf: Vec::new(),
            start: 0,
        }
    }

    /// The next frame; `None` at a clean end of the stream.
    pub async fn next<T: Decode>(&mut self) -> Result<Option<T>, FeedClientError> {
        loop {
            match decode_frame::<T>(&self.buf[self.start..]) {
                Ok(Some((message, used))) => {
                    self.start += used;
                    if self.start == self.buf.len() {
                        self.buf.clear();
                        self.start = 0;
                    }
                    return Ok(Some(message));
                }
                Ok(None) => {}
                Err(e) => return Err(FeedClientError::Protocol(e.to_string())),
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let mut chunk = [0u8; READ_CHUNK];
            // `read` returns as soon as any bytes arrive: dropping it loses nothing.
            match self.recv.read(&mut chunk).await {
                Ok(Some(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(None) if self.buf.is_empty() => return Ok(None),
                Ok(None) => {
                    return Err(FeedClientError::Read(
                        "the stream ended inside a frame".to_owned(),
                    ));
                }
                Err(e) => return Err(FeedClientError::Read(e.to_string())),
            }
        }
    }
}

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64),
    )
}

/// The signed login frame for `key_id` at `timestamp`.
pub fn sign_login(key_id: u64, secret: &[u8], timestamp: Timestamp, nonce: [u8; 16]) -> Login {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&login_message(key_id, timestamp, &nonce));
    Login {
        key_id,
        timestamp,
        nonce,
        signature: mac.finalize().into_bytes().into(),
    }
}

/// A logged-in feed connection.
pub struct FeedClient {
    endpoint: quinn::Endpoint,
    pub connection: quinn::Connection,
    send: quinn::SendStream,
    replies: FrameReader,
}

impl FeedClient {
    /// Connects, logs in with a fresh nonce and returns the session.
    pub async fn connect(config: &FeedConfig) -> Result<(FeedClient, LoggedIn), FeedClientError> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| FeedClientError::Connect(e.to_string()))?;
        let login = sign_login(config.key_id, &config.secret, now(), nonce);
        Self::connect_with(config, login).await
    }

    /// Connects and sends `login` as given (tests use this to replay or forge logins).
    pub async fn connect_with(
        config: &FeedConfig,
        login: Login,
    ) -> Result<(FeedClient, LoggedIn), FeedClientError> {
        let bind: SocketAddr = if config.server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .expect("valid bind address");
        let mut endpoint =
            quinn::Endpoint::client(bind).map_err(|e| FeedClientError::Connect(e.to_string()))?;
        endpoint.set_default_client_config(client_config(&config.trust)?);
        let connection = endpoint
            .connect(config.server, &config.server_name)
            .map_err(|e| FeedClientError::Connect(e.to_string()))?
            .await?;
        let (mut send, recv) = connection.open_bi().await?;
        write_frame(&mut send, &FeedRequest::Login(login)).await?;
        let mut replies = FrameReader::new(recv);
        match replies.next::<FeedReply>().await? {
            Some(FeedReply::LoggedIn(logged_in)) => Ok((
                FeedClient {
                    endpoint,
                    connection,
                    send,
                    replies,
                },
                logged_in,
            )),
            Some(FeedReply::LoginRejected(error)) => {
                Err(FeedClientError::LoginRejected(error.code))
            }
            other => Err(FeedClientError::Protocol(format!(
                "unexpected login reply {other:?}"
            ))),
        }
    }

    /// Splits order entry into a sender and a receiver of replies, for pipelining.
    pub fn order_entry(self) -> (OrderSender, ReplyReceiver) {
        (
            OrderSender {
                send: self.send,
                connection: self.connection.clone(),
                _endpoint: self.endpoint,
            },
            ReplyReceiver {
                replies: self.replies,
            },
        )
    }
}

pub struct OrderSender {
    send: quinn::SendStream,
    pub connection: quinn::Connection,
    _endpoint: quinn::Endpoint,
}

impl OrderSender {
    pub async fn send(&mut self, request: &FeedRequest) -> Result<(), FeedClientError> {
        write_frame(&mut self.send, request).await
    }

    /// Closes the connection and waits until the close has reached the server (with
    /// cancel on disconnect, the server then cancels this connection's orders at once).
    pub async fn close(self) {
        self.connection.close(0u32.into(), b"done");
        self._endpoint.wait_idle().await;
    }

    /// Waits for the next market-data stream the server opens (one per subscription).
    pub async fn next_market_stream(&self) -> Result<MarketData, FeedClientError> {
        Ok(MarketData {
            data: FrameReader::new(self.connection.accept_uni().await?),
        })
    }

    /// The next top-of-book datagram.
    pub async fn next_top(&self) -> Result<betbet_protocol::feed::TopOfBook, FeedClientError> {
        let bytes = self.connection.read_datagram().await?;
        match betbet_protocol::codec::from_slice::<FeedData>(&bytes) {
            Ok(FeedData::Top(top)) => Ok(top),
            Ok(other) => Err(FeedClientError::Protocol(format!(
                "unexpected datagram {other:?}"
            ))),
            Err(e) => Err(FeedClientError::Protocol(e.to_string())),
        }
    }
}

/// Replies on the order-entry stream, in request order (execution reports of fills and
/// cancellations arrive as they happen).
pub struct ReplyReceiver {
    replies: FrameReader,
}

impl ReplyReceiver {
    /// The next reply; cancel-safe.
    pub async fn next(&mut self) -> Result<Option<FeedReply>, FeedClientError> {
        self.replies.next().await
    }
}

/// One subscription's market data.
pub struct MarketData {
    data: FrameReader,
}

impl MarketData {
    /// The next message; cancel-safe.
    pub async fn next(&mut self) -> Result<Option<FeedData>, FeedClientError> {
        self.data.next().await
    }
}

/// The SHA-256 fingerprint of a DER certificate, as the server prints it (hex).
pub fn fingerprint_hex(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses a hex fingerprint (colons allowed).
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

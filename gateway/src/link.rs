//! The core link: how gateways in other processes reach a `betbet core`, over mutual TLS.
//!
//! A deployment has its own certificate authority, made once by `betbet core init-certs
//! DIR` ([`init`]): `ca.pem` (and `ca.key`, to keep offline), the core's certificate for
//! the name [`CORE_NAME`], and the gateways' client certificate. The core accepts only TLS
//! 1.3 connections whose client presents a certificate of that authority; anything else —
//! plain TCP, no certificate, another deployment's certificate, a replay of a recorded
//! handshake (TLS 1.3's fresh keys make it useless; there is no 0-RTT) — fails the TLS
//! handshake before a single frame is read, and is logged with the peer's address. Only
//! then do the protocol's hello and welcome follow, and commands and queries flow.
//!
//! The core side ([`serve`]) is the thread-free twin of a gateway connection: each link is
//! a task that reads frames and hands them to the core's handle, whose callbacks only
//! `try_send` into the link's bounded outbound queue — a gateway that stops reading is cut
//! off, never waited for. It runs on the `betbet core` binary's tokio runtime; the engine
//! itself stays free of it.

use betbet_engine::runtime::{CoreHandle, SubmitError};
use betbet_protocol::codec::{Decode, Encode};
use betbet_protocol::message::{
    ClientMessage, CommandReply, FRAME_HEADER_BYTES, PROTOCOL_VERSION, QueryAnswer, Refused,
    RequestBody, Response, ServerMessage, Welcome, encode_frame, frame_body_len,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::mpsc;

/// The name the core's certificate is issued for, whatever address it listens on.
pub const CORE_NAME: &str = "betbet-core";
/// Gateway links at once.
pub const CONNECTIONS_MAX: usize = 64;
/// Messages waiting to be written to one link.
pub const OUTBOUND_MAX: usize = 65_536;
/// Time for the TLS handshake and the protocol's hello.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const CORE_CERT: &str = "core.pem";
const CORE_KEY: &str = "core.key";
const GATEWAY_CERT: &str = "gateway.pem";
const GATEWAY_KEY: &str = "gateway.key";

fn other(error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(error.to_string())
}

/// Makes a deployment's authority and the core's and gateways' certificates in `dir`
/// (which must not hold any yet). Keys are written readable by their owner only.
pub fn init(dir: &Path) -> std::io::Result<()> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    for name in [
        CA_CERT,
        CA_KEY,
        CORE_CERT,
        CORE_KEY,
        GATEWAY_CERT,
        GATEWAY_KEY,
    ] {
        if dir.join(name).exists() {
            return Err(other(format!(
                "{} already exists: a deployment's certificates are made once",
                dir.join(name).display()
            )));
        }
    }
    std::fs::create_dir_all(dir)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "BetBet core link authority");
    let ca_key = KeyPair::generate().map_err(other)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(other)?;
    let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| -> std::io::Result<(String, String)> {
        let mut params = CertificateParams::new(vec![name.to_owned()]).map_err(other)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().map_err(other)?;
        let cert = params.signed_by(&key, &ca_cert, &ca_key).map_err(other)?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    let (core_cert, core_key) = leaf(CORE_NAME, ExtendedKeyUsagePurpose::ServerAuth)?;
    let (gateway_cert, gateway_key) = leaf("betbet-gateway", ExtendedKeyUsagePurpose::ClientAuth)?;
    let write = |name: &str, text: &str, secret: bool| -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if secret { 0o600 } else { 0o644 })
            .open(dir.join(name))?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()
    };
    write(CA_CERT, &ca_cert.pem(), false)?;
    write(CA_KEY, &ca_key.serialize_pem(), true)?;
    write(CORE_CERT, &core_cert, false)?;
    write(CORE_KEY, &core_key, true)?;
    write(GATEWAY_CERT, &gateway_cert, false)?;
    write(GATEWAY_KEY, &gateway_key, true)
}

fn read(dir: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(dir.join(name)).map_err(|e| {
        other(format!(
            "{}: {e} (make a deployment's certificates with `betbet core init-certs DIR`)",
            dir.join(name).display()
        ))
    })
}

fn certificates(dir: &Path, name: &str) -> std::io::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(&read(dir, name)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| other(format!("{}: {e}", dir.join(name).display())))
}

fn key(dir: &Path, name: &str) -> std::io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(&read(dir, name)?)
        .map_err(|e| other(format!("{}: {e}", dir.join(name).display())))
}

fn authority(dir: &Path) -> std::io::Result<Arc<rustls::RootCertStore>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(dir, CA_CERT)? {
        roots.add(cert).map_err(other)?;
    }
    Ok(Arc::new(roots))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The core's TLS: its certificate, and only clients certified by the deployment's CA.
pub fn server_config(dir: &Path) -> std::io::Result<Arc<rustls::ServerConfig>> {
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(authority(dir)?, provider())
            .build()
            .map_err(other)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(other)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certificates(dir, CORE_CERT)?, key(dir, CORE_KEY)?)
        .map_err(other)?;
    Ok(Arc::new(config))
}

/// A gateway's TLS: the core must be certified by the deployment's CA for [`CORE_NAME`];
/// the gateway presents its own certificate.
pub fn client_config(dir: &Path) -> std::io::Result<Arc<rustls::ClientConfig>> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(other)?
        .with_root_certificates(authority(dir)?)
        .with_client_auth_cert(certificates(dir, GATEWAY_CERT)?, key(dir, GATEWAY_KEY)?)
        .map_err(other)?;
    Ok(Arc::new(config))
}

/// Opens a link to the core at `addr`: TCP, then the TLS handshake.
pub async fn connect(
    addr: &str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(CORE_NAME).map_err(other)?;
    tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| other("TLS handshake with the core timed out"))?
}

/// Writes one frame.
pub async fn send<M: Encode>(
    writer: &mut (impl AsyncWrite + Unpin),
    message: &M,
) -> std::io::Result<()> {
    let mut frame = Vec::new();
    encode_frame(message, &mut frame).map_err(other)?;
    writer.write_all(&frame).await
}

/// Reads one frame (at most the protocol's frame size).
pub async fn receive<M: Decode>(reader: &mut (impl AsyncRead + Unpin)) -> std::io::Result<M> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    reader.read_exact(&mut header).await?;
    let len = frame_body_len(header).map_err(other)?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await?;
    betbet_protocol::codec::from_slice(&body).map_err(other)
}

/// Accepts gateway links on `addr` with `config`; returns the bound address.
pub async fn serve(
    handle: CoreHandle,
    addr: SocketAddr,
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a gateway link failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                tracing::warn!(%peer, "gateway link limit reached; refusing a link");
                continue;
            };
            let (handle, acceptor) = (handle.clone(), acceptor.clone());
            tokio::spawn(async move {
                let _slot = slot;
                let _ = tcp.set_nodelay(true);
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(error)) => {
                        tracing::warn!(%peer, %error, "refused a core link: TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "refused a core link: TLS handshake timed out");
                        return;
                    }
                };
                match link(handle, tls, peer).await {
                    Ok(()) => tracing::info!(%peer, "gateway link closed"),
                    Err(error) => tracing::info!(%peer, %error, "gateway link closed"),
                }
            });
        }
    });
    Ok(local)
}

/// Queues a message for the writer without ever blocking; `false` if the link is too far
/// behind (and will be closed).
fn push(outbound: &mpsc::Sender<ServerMessage>, message: ServerMessage) -> bool {
    outbound.try_send(message).is_ok()
}

async fn link(
    handle: CoreHandle,
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: SocketAddr,
) -> std::io::Result<()> {
    let (read, write) = tokio::io::split(tls);
    let mut reader = BufReader::new(read);
    let mut writer = BufWriter::new(write);
    let hello = match tokio::time::timeout(HANDSHAKE_TIMEOUT, receive(&mut reader)).await {
        Ok(Ok(ClientMessage::Hello(hello))) => hello,
        Ok(Ok(_)) => {
            return refuse(&mut writer, "the first frame must be a handshake").await;
        }
        Ok(Err(error)) => return Err(error),
        Err(_) => return Err(other("no handshake in time")),
    };
    if let Err(error) = hello.check() {
        return refuse(&mut writer, &error.to_string()).await;
    }
    send(
        &mut writer,
        &ServerMessage::Welcome(Welcome {
            version: PROTOCOL_VERSION,
            last_seq: handle.stats().last_seq.load(Ordering::Relaxed),
        }),
    )
    .await?;
    writer.flush().await?;
    tracing::info!(%peer, client = %hello.client_name, "gateway linked");

    let (outbound, mut queue) = mpsc::channel::<ServerMessage>(OUTBOUND_MAX);
    let writing = async move {
        while let Some(message) = queue.recv().await {
            send(&mut writer, &message).await?;
            // Batch writes: flush only when nothing else is waiting.
            while let Ok(message) = queue.try_recv() {
                send(&mut writer, &message).await?;
            }
            writer.flush().await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let reading = read_loop(&handle, &mut reader, &outbound);
    tokio::select! {
        result = reading => result,
        result = writing => result,
    }
}

async fn refuse(writer: &mut (impl AsyncWrite + Unpin), reason: &str) -> std::io::Result<()> {
    send(
        writer,
        &ServerMessage::Refused(Refused {
            reason: reason.to_owned(),
        }),
    )
    .await?;
    writer.flush().await
}

async fn read_loop(
    handle: &CoreHandle,
    reader: &mut (impl AsyncRead + Unpin),
    outbound: &mpsc::Sender<ServerMessage>,
) -> std::io::Result<()> {
    loop {
        if outbound.is_closed() {
            return Ok(());
        }
        let message = match receive(reader).await {
            Ok(message) => message,
            // The gateway closed the link between two frames: a clean close, not an error.
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error),
        };
        match message {
            ClientMessage::Hello(_) => return Err(other("handshake repeated")),
            ClientMessage::Ping(ping) => {
                push(outbound, ServerMessage::Pong(ping));
            }
            ClientMessage::Subscribe(subscribe) => {
                let out = outbound.clone();
                let result = handle.subscribe(
                    subscribe.from_seq,
                    Box::new(move |batch| push(&out, ServerMessage::Events((**batch).clone()))),
                );
                if let Err(error) = result {
                    tracing::warn!(%error, "subscription refused");
                }
            }
            ClientMessage::Request(request) => {
                let correlation_id = request.correlation_id;
                let out = outbound.clone();
                let command_reply =
                    |out: mpsc::Sender<ServerMessage>| -> betbet_engine::runtime::CommandReplyFn {
                        Box::new(move |outcome| {
                            push(
                                &out,
                                ServerMessage::CommandReply(CommandReply {
                                    correlation_id,
                                    seq: outcome.seq,
                                    at: outcome.at,
                                    response: outcome.response,
                                    events: outcome.events,
                                }),
                            );
                        })
                    };
                let submitted = match request.body {
                    RequestBody::Command(command) => handle.command(command, command_reply(out)),
                    // The budget runs from the request's arrival here (its time on the link
                    // is the gateway's to count).
                    RequestBody::CommandWithin(within) => handle.command_by(
                        within.command,
                        Some(
                            std::time::Instant::now() + Duration::from_micros(within.budget_micros),
                        ),
                        command_reply(out),
                    ),
                    RequestBody::Query(query) => handle.query(
                        query,
                        Box::new(move |reply| {
                            push(
                                &out,
                                ServerMessage::QueryAnswer(QueryAnswer {
                                    correlation_id,
                                    reply,
                                }),
                            );
                        }),
                    ),
                };
                if let Err(error) = submitted {
                    let rejected = ServerMessage::CommandReply(CommandReply {
                        correlation_id,
                        seq: 0,
                        at: betbet_protocol::types::Timestamp::ZERO,
                        response: Response::Rejected(SubmitError::code(error)),
                        events: Vec::new(),
                    });
                    if !push(outbound, rejected) {
                        return Ok(());
                    }
                }
            }
        }
    }
}

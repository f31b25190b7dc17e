//! The core's TCP listener: gateways in other processes speak the protocol crate's framing.
//!
//! One connection = one reader thread (frames in → core) and one writer thread (replies and
//! event batches out). Replies and events reach the writer through a bounded queue; the
//! core's callbacks only `try_send` into it, so a gateway that stops reading is cut off
//! rather than ever making the engine wait. A connection must open with the handshake
//! (magic + version) within [`HANDSHAKE_TIMEOUT`].

use super::{CoreHandle, SubmitError};
use betbet_protocol::codec::Decode;
use betbet_protocol::message::{
    ClientMessage, CommandReply, FRAME_HEADER_BYTES, PROTOCOL_VERSION, QueryAnswer, Refused,
    RequestBody, Response, ServerMessage, Welcome, encode_frame, frame_body_len,
};
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// Gateway connections at once.
pub const CONNECTIONS_MAX: usize = 64;
/// Messages waiting to be written to one connection.
pub const OUTBOUND_MAX: usize = 65_536;
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts accepting gateway connections on `addr`. Returns the bound address (useful with
/// port 0) and the accept thread.
pub fn serve(
    handle: CoreHandle,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let connections = Arc::new(AtomicUsize::new(0));
    let thread = std::thread::Builder::new()
        .name("betbet-core-accept".to_owned())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if connections.fetch_add(1, Ordering::AcqRel) >= CONNECTIONS_MAX {
                    connections.fetch_sub(1, Ordering::AcqRel);
                    tracing::warn!("gateway connection limit reached; refusing a connection");
                    continue;
                }
                let handle = handle.clone();
                let counter = Arc::clone(&connections);
                let spawned = std::thread::Builder::new()
                    .name("betbet-core-conn".to_owned())
                    .spawn(move || {
                        if let Err(error) = serve_connection(handle, stream) {
                            tracing::info!(%error, "gateway connection closed");
                        }
                        counter.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    tracing::error!("cannot start a connection thread");
                }
            }
        })?;
    Ok((local, thread))
}

fn read_frame(reader: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<ClientMessage> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    reader.read_exact(&mut header)?;
    let len = frame_body_len(header)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    buf.resize(len, 0);
    reader.read_exact(buf)?;
    let mut r = betbet_protocol::codec::Reader::new(buf);
    let message = ClientMessage::decode(&mut r)
        .and_then(|m| r.finish().map(|()| m))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(message)
}

fn write_message(writer: &mut impl Write, message: &ServerMessage) -> std::io::Result<()> {
    let mut frame = Vec::new();
    encode_frame(message, &mut frame)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    writer.write_all(&frame)
}

fn serve_connection(handle: CoreHandle, stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream.try_clone()?);
    let mut buf = Vec::new();
    let hello = match read_frame(&mut reader, &mut buf)? {
        ClientMessage::Hello(hello) => hello,
        _ => {
            write_message(
                &mut writer,
                &ServerMessage::Refused(Refused {
                    reason: "the first frame must be a handshake".to_owned(),
                }),
            )?;
            return writer.flush();
        }
    };
    if let Err(error) = hello.check() {
        write_message(
            &mut writer,
            &ServerMessage::Refused(Refused {
                reason: error.to_string(),
            }),
        )?;
        return writer.flush();
    }
    write_message(
        &mut writer,
        &ServerMessage::Welcome(Welcome {
            version: PROTOCOL_VERSION,
            last_seq: handle.stats().last_seq.load(Ordering::Relaxed),
        }),
    )?;
    writer.flush()?;
    stream.set_read_timeout(None)?;
    tracing::info!(client = %hello.client_name, "gateway connected");

    let (outbound, queue) = sync_channel::<ServerMessage>(OUTBOUND_MAX);
    let writer_thread = std::thread::Builder::new()
        .name("betbet-core-write".to_owned())
        .spawn(move || write_loop(writer, queue))?;
    let result = read_loop(&handle, &mut reader, &mut buf, &outbound);
    drop(outbound);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = writer_thread.join();
    result
}

fn write_loop(mut writer: BufWriter<TcpStream>, queue: Receiver<ServerMessage>) {
    while let Ok(message) = queue.recv() {
        if write_message(&mut writer, &message).is_err() {
            return;
        }
        // Batch writes: flush only when nothing else is waiting.
        while let Ok(message) = queue.try_recv() {
            if write_message(&mut writer, &message).is_err() {
                return;
            }
        }
        if writer.flush().is_err() {
            return;
        }
    }
}

/// Queues a message for the writer without ever blocking; `false` if the connection is
/// too far behind (and will be closed).
fn push(outbound: &SyncSender<ServerMessage>, message: ServerMessage) -> bool {
    !matches!(
        outbound.try_send(message),
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_))
    )
}

fn read_loop(
    handle: &CoreHandle,
    reader: &mut impl Read,
    buf: &mut Vec<u8>,
    outbound: &SyncSender<ServerMessage>,
) -> std::io::Result<()> {
    loop {
        match read_frame(reader, buf)? {
            ClientMessage::Hello(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "handshake repeated",
                ));
            }
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
                let submitted = match request.body {
                    RequestBody::Command(command) => {
                        let out = outbound.clone();
                        handle.command(
                            command,
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
                            }),
                        )
                    }
                    RequestBody::Query(query) => {
                        let out = outbound.clone();
                        handle.query(
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
                        )
                    }
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

//! Direct messages, chat rooms and voice signalling through the real binary: paging that
//! returns each message once, conversations no one else can read, blocks, a room whose
//! members see one gap-free sequence (and that a SIGKILL does not shorten), moderation
//! that applies at once, the chat rate, and WebRTC signals that reach only their target.

use betbet_tests::{Api, Server, funded, in_a_day, json};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn id(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not an id: {value}"))
        .to_owned()
}

fn open(server: &Server, api: &Api, path: &str) -> Result<Ws, u16> {
    let token = api.token.as_deref().unwrap();
    let url = format!("ws://127.0.0.1:{}{path}?token={token}", server.port);
    match tungstenite::connect(url) {
        Ok((mut socket, _)) => {
            if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
            }
            Ok(socket)
        }
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(error) => panic!("handshake failed: {error}"),
    }
}

fn read(socket: &mut Ws) -> Value {
    loop {
        match socket.read().expect("a message from the room") {
            tungstenite::Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            tungstenite::Message::Close(frame) => {
                let frame = frame.expect("a close frame says why");
                return json!({"type": "close", "code": u16::from(frame.code)});
            }
            _ => {}
        }
    }
}

/// The next message that is not a read marker or typing indicator.
fn read_kind(socket: &mut Ws, skip: &[&str]) -> Value {
    loop {
        let message = read(socket);
        if !skip.contains(&message["type"].as_str().unwrap_or_default()) {
            return message;
        }
    }
}

fn send(socket: &mut Ws, message: Value) {
    socket
        .send(tungstenite::Message::Text(message.to_string().into()))
        .unwrap();
}

/// A request and its answer (the room's own messages before it are returned too).
fn request(socket: &mut Ws, kind: &str, data: Value) -> (Value, Vec<Value>) {
    let request_id = format!("r{}", rand_id());
    send(
        socket,
        json!({"type": kind, "request_id": request_id, "data": data}),
    );
    let mut before = Vec::new();
    loop {
        let message = read(socket);
        if message["request_id"] == request_id.as_str() {
            return (message, before);
        }
        before.push(message);
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn dm(api: &Api, to: &str, content: &str) -> Value {
    api.post(
        "/api/v1/messages/send",
        &json!({"recipient_id": to, "content": content}),
    )
    .expect(201)
}

#[test]
fn direct_messages_page_each_message_once_and_stay_private() {
    // REST's messages spend the chat rate (30 a second per user): this test sends faster.
    let server = Server::start(&["--demo", "--rate-limits", "chat=100000/1"]);
    let anon = server.api();
    let (alice, alice_id) = funded(&anon, "dm_alice", "10");
    let (bob, bob_id) = funded(&anon, "dm_bob", "10");
    let (carol, carol_id) = funded(&anon, "dm_carol", "10");

    let mut sent = Vec::new();
    for n in 0..25 {
        let reply = dm(&alice, &bob_id, &format!("message {n}"));
        sent.push(id(&reply["message"]["message_id"]));
        assert_eq!(reply["message"]["seq"], n + 1, "{reply}");
    }
    let conversation = id(&dm(&bob, &alice_id, "hi back")["conversation_id"]);
    assert!(conversation.starts_with("dm_"));
    let reply = id(&dm(&alice, &bob_id, "and again")["conversation_id"]);
    assert_eq!(reply, conversation, "one conversation per pair");

    // Bob's list: the last message, 26 unread (his own reply is not).
    let list = bob
        .get(&format!("/api/v1/messages/{bob_id}/conversations"))
        .expect(200);
    assert_eq!(list["total"], 1);
    let entry = &list["conversations"][0];
    assert_eq!(entry["conversation_id"], conversation.as_str());
    assert_eq!(entry["user_id"], alice_id.as_str());
    assert_eq!(entry["username"], "dm_alice");
    assert_eq!(entry["unread_count"], 26);
    assert_eq!(entry["last_message"]["content"], "and again");

    // Newest first, 10 at a time, backwards with `before`: every message exactly once.
    let messages = |query: &str| {
        bob.get(&format!("/api/v1/messages/{conversation}?{query}"))
            .expect(200)
    };
    let mut seen = Vec::new();
    let mut query = "limit=10".to_owned();
    loop {
        let page = messages(&query);
        let list = page["messages"].as_array().unwrap().clone();
        assert!(list.len() <= 10);
        let ids: Vec<String> = list.iter().map(|m| id(&m["message_id"])).collect();
        seen.extend(ids.iter().cloned());
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        query = format!("limit=10&before={}", ids.last().unwrap());
    }
    assert_eq!(seen.len(), 27);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 27, "no repeats");
    let mut oldest_first = seen.clone();
    oldest_first.reverse();
    assert_eq!(&oldest_first[..25], &sent[..], "in the order sent");

    // Forwards with `after`, from the first message: again each once.
    let mut forwards = vec![oldest_first[0].clone()];
    loop {
        let page = messages(&format!("limit=7&after={}", forwards.last().unwrap()));
        let list = page["messages"].as_array().unwrap();
        if list.is_empty() {
            break;
        }
        let mut ids: Vec<String> = list.iter().map(|m| id(&m["message_id"])).collect();
        ids.reverse();
        forwards.extend(ids);
    }
    assert_eq!(forwards, oldest_first);
    bob.get(&format!(
        "/api/v1/messages/{conversation}?before={}&after={}",
        sent[3], sent[1]
    ))
    .expect_error(400, "invalid_request");

    // Nobody else reads it, nor anyone's list but their own.
    carol
        .get(&format!("/api/v1/messages/{conversation}"))
        .expect_error(404, "room_not_found");
    carol
        .get(&format!("/api/v1/messages/{bob_id}/conversations"))
        .expect_error(403, "forbidden");
    carol
        .post(&format!("/api/v1/messages/{conversation}/read"), &json!({}))
        .expect_error(404, "room_not_found");
    let none = carol
        .get(&format!("/api/v1/messages/{carol_id}/conversations"))
        .expect(200);
    assert_eq!(none["total"], 0);

    // Read: Bob's unread count goes to 0 and Alice sees her messages read.
    let marked = bob
        .post(&format!("/api/v1/messages/{conversation}/read"), &json!({}))
        .expect(200);
    assert_eq!(marked["read_up_to"], seen[0].as_str());
    let list = bob
        .get(&format!("/api/v1/messages/{bob_id}/conversations"))
        .expect(200);
    assert_eq!(list["conversations"][0]["unread_count"], 0);
    let page = alice
        .get(&format!("/api/v1/messages/{conversation}?limit=3"))
        .expect(200);
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["sender_id"] == alice_id.as_str())
            .all(|m| m["read"] == true)
    );
    let list = alice
        .get(&format!("/api/v1/messages/{alice_id}/conversations"))
        .expect(200);
    assert_eq!(
        list["conversations"][0]["unread_count"], 1,
        "Bob's one reply is unread for Alice"
    );

    // A bet slip of a real market, an image, and what is refused.
    let market = alice
        .post(
            "/api/v1/markets/create",
            &json!({"title": "Slip market", "description": "m", "market_type": "binary",
                    "closes_at": in_a_day(), "category": "tests"}),
        )
        .expect(201);
    let outcome = id(&market["outcomes"][0]["id"]);
    let slip = alice
        .post(
            "/api/v1/messages/send",
            &json!({"recipient_id": bob_id, "content": "tail this", "message_type": "bet_slip",
                    "bet_slip": {"market_id": market["id"], "outcome_id": outcome}}),
        )
        .expect(201);
    assert_eq!(slip["message"]["bet_slip"]["outcome_id"], outcome.as_str());
    let image = json!({"recipient_id": bob_id, "content": "https://img.example/a.png", "message_type": "image"});
    alice.post("/api/v1/messages/send", &image).expect(201);
    for (body, status, code) in [
        (
            json!({"recipient_id": bob_id, "content": "javascript:alert(1)", "message_type": "image"}),
            400,
            "invalid_chat_message",
        ),
        (
            json!({"recipient_id": bob_id, "content": "   "}),
            400,
            "invalid_chat_message",
        ),
        (
            json!({"recipient_id": bob_id, "content": "x".repeat(4001)}),
            400,
            "text_too_long",
        ),
        (
            json!({"recipient_id": bob_id, "content": "a", "message_type": "bet_slip", "bet_slip": {"market_id": "mkt_999"}}),
            404,
            "market_not_found",
        ),
        (
            json!({"recipient_id": alice_id, "content": "me"}),
            400,
            "cannot_message_self",
        ),
        (
            json!({"recipient_id": "usr_99999", "content": "who"}),
            404,
            "user_not_found",
        ),
        (
            json!({"recipient_id": bob_id, "content": "as bob", "sender_id": bob_id}),
            403,
            "forbidden",
        ),
        (
            json!({"recipient_id": bob_id, "content": "x", "is_admin": true}),
            400,
            "invalid_request",
        ),
    ] {
        alice
            .post("/api/v1/messages/send", &body)
            .expect_error(status, code);
    }

    // Blocks: refused both ways until lifted.
    let blocked = bob
        .post(&format!("/api/v1/users/{alice_id}/block"), &json!({}))
        .expect(200);
    assert_eq!(blocked["user_ids"], json!([alice_id]));
    alice
        .post(
            "/api/v1/messages/send",
            &json!({"recipient_id": bob_id, "content": "hello?"}),
        )
        .expect_error(403, "user_blocked");
    bob.post(
        "/api/v1/messages/send",
        &json!({"recipient_id": alice_id, "content": "no"}),
    )
    .expect_error(403, "user_blocked");
    carol
        .get(&format!("/api/v1/users/{bob_id}/blocks"))
        .expect_error(403, "forbidden");
    bob.post(&format!("/api/v1/users/{alice_id}/unblock"), &json!({}))
        .expect(200);
    dm(&alice, &bob_id, "unblocked");
    let blocks = bob
        .get(&format!("/api/v1/users/{bob_id}/blocks"))
        .expect(200);
    assert_eq!(blocks["user_ids"], json!([]));
}

fn community(api: &Api, name: &str) -> String {
    let created = api
        .post("/api/v1/communities/create", &json!({"name": name}))
        .expect(201);
    id(&created["id"])
}

fn join(api: &Api, community: &str) {
    api.post(&format!("/api/v1/communities/{community}/join"), &json!({}))
        .expect(200);
}

#[test]
fn a_room_is_one_gap_free_sequence_that_moderation_and_sigkill_respect() {
    let mut server = Server::start(&["--demo"]);
    let anon = server.api();
    let (owner, owner_id) = funded(&anon, "room_owner", "10");
    let (member, member_id) = funded(&anon, "room_member", "10");
    let (outsider, _) = funded(&anon, "room_outsider", "10");
    let room = community(&owner, "Chat Room Club");
    join(&member, &room);
    let path = format!("/ws/chat/{room}");

    // Outsiders are refused at the handshake, as are a bad id and a missing token.
    assert_eq!(open(&server, &outsider, &path).err(), Some(403));
    assert_eq!(
        open(&server, &outsider, "/ws/chat/com_999").err(),
        Some(404)
    );
    assert_eq!(open(&server, &outsider, "/ws/chat/mkt_1").err(), Some(400));
    let url = format!("ws://127.0.0.1:{}{path}", server.port);
    assert!(
        matches!(tungstenite::connect(url), Err(tungstenite::Error::Http(r)) if r.status() == 401)
    );

    let mut a = open(&server, &owner, &path).unwrap();
    let snapshot = read(&mut a);
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["seq"], 0);
    assert_eq!(snapshot["data"]["messages"], json!([]));
    let mut b = open(&server, &member, &path).unwrap();
    assert_eq!(read(&mut b)["type"], "snapshot");

    // Both see every message in one order, with consecutive sequence numbers (the two
    // senders race: the core's order is the order).
    for n in 0..6 {
        let socket = if n % 2 == 0 { &mut a } else { &mut b };
        let who = if n % 2 == 0 { "owner" } else { "member" };
        send(
            socket,
            json!({"type": "send", "request_id": format!("s{n}"), "data": {"content": format!("{who} says {n}")}}),
        );
    }
    let mut orders = Vec::new();
    for socket in [&mut a, &mut b] {
        let mut seen = Vec::new();
        let mut seq = 0;
        while seen.len() < 6 {
            let message = read_kind(socket, &["read", "typing", "message_sent"]);
            assert_eq!(message["type"], "message", "{message}");
            assert_eq!(message["seq"], seq + 1, "consecutive");
            seq += 1;
            seen.push(
                message["data"]["message"]["content"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        orders.push(seen);
    }
    assert_eq!(orders[0], orders[1], "one order for everyone");
    let mut contents = orders[0].clone();
    contents.sort();
    let mut expected: Vec<String> = (0..6)
        .map(|n| format!("{} says {n}", if n % 2 == 0 { "owner" } else { "member" }))
        .collect();
    expected.sort();
    assert_eq!(contents, expected, "each message once");

    // Typing reaches the others, not the typist.
    let (answer, _) = request(&mut b, "typing", json!({}));
    assert_eq!(answer["type"], "typing_sent");
    let typing = read(&mut a);
    assert_eq!(typing["type"], "typing");
    assert_eq!(typing["data"]["user_id"], member_id.as_str());

    // The member edits their message; the owner deletes it; edits of others' are refused.
    let history = history(&server, &owner, &path);
    let by = |sender: &str| {
        history
            .iter()
            .find(|m| m["sender_id"] == sender)
            .map(|m| id(&m["message_id"]))
            .unwrap()
    };
    let members_message = by(&member_id);
    let owners_message = by(&owner_id);
    let (answer, _) = request(
        &mut b,
        "edit",
        json!({"message_id": members_message, "content": "edited"}),
    );
    assert_eq!(answer["type"], "message_edited", "{answer}");
    let (answer, _) = request(
        &mut b,
        "edit",
        json!({"message_id": owners_message, "content": "mine now"}),
    );
    assert_eq!(answer["data"]["code"], "not_message_sender", "{answer}");
    let (answer, _) = request(&mut b, "delete", json!({"message_id": owners_message}));
    assert_eq!(
        answer["data"]["code"], "not_message_sender",
        "a member cannot delete the owner's"
    );
    send(
        &mut a,
        json!({"type": "delete", "request_id": "del", "data": {"message_id": members_message}}),
    );
    let (mut changes, mut deleted) = (Vec::new(), false);
    while changes.len() < 2 || !deleted {
        let message = read_kind(&mut a, &["read", "typing"]);
        if message["request_id"] == "del" {
            assert_eq!(message["type"], "message_deleted", "{message}");
            deleted = true;
            continue;
        }
        assert_eq!(message["type"], "message", "{message}");
        assert_eq!(message["seq"], 7 + changes.len() as u64, "{message}");
        changes.push(message["data"]["change"].as_str().unwrap().to_owned());
    }
    assert_eq!(changes, ["edited", "deleted"]);
    let log = owner
        .get(&format!("/api/v1/communities/{room}/moderation"))
        .expect(200);
    assert!(log.to_string().contains("message_removed"), "{log}");

    // The chat rate: 30 a second per user; a burst past it is refused with 429.
    for n in 0..100 {
        send(
            &mut b,
            json!({"type": "send", "request_id": format!("burst{n}"), "data": {"content": format!("burst {n}")}}),
        );
    }
    let (mut accepted, mut limited) = (0, 0);
    let mut ids: Vec<u64> = history
        .iter()
        .map(|m| id(&m["message_id"])[4..].parse().unwrap())
        .collect();
    while accepted + limited < 100 {
        let message = read(&mut b);
        if !message["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("burst"))
        {
            continue;
        }
        match message["type"].as_str().unwrap() {
            "message_sent" => {
                accepted += 1;
                ids.push(id(&message["data"]["message_id"])[4..].parse().unwrap());
            }
            "error" => {
                assert_eq!(message["data"]["code"], "rate_limited", "{message}");
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        limited > 0 && accepted >= 1,
        "{accepted} accepted, {limited} limited"
    );

    // A mute refuses the member's messages at once, with its code.
    owner
        .post(
            &format!("/api/v1/communities/{room}/members/{member_id}"),
            &json!({"action": "mute", "duration_secs": 3600}),
        )
        .expect(200);
    // The member may be rate-limited still: wait for the next second's allowance.
    let muted = loop {
        let (answer, _) = request(&mut b, "send", json!({"content": "can I?"}));
        if answer["data"]["code"] != "rate_limited" {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(muted["data"]["code"], "member_muted", "{muted}");
    let total = 8 + accepted;

    // SIGKILL and restart: the history is complete, in order, with the room's sequence.
    drop(a);
    drop(b);
    server.kill();
    server.restart();
    let mut again = open(&server, &owner, &path).unwrap();
    let snapshot = read(&mut again);
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["seq"], total, "{}", snapshot["seq"]);
    let messages = snapshot["data"]["messages"].as_array().unwrap();
    // Every acknowledged message, newest first: the last 50 of them.
    ids.sort_unstable();
    let shown: Vec<u64> = messages
        .iter()
        .map(|m| id(&m["message_id"])[4..].parse().unwrap())
        .collect();
    let mut expected: Vec<u64> = ids.iter().rev().take(50).copied().collect();
    expected.sort_unstable_by(|x, y| y.cmp(x));
    assert_eq!(shown, expected);
    assert_eq!(snapshot["data"]["has_more"], ids.len() > 50);
    let gone = messages
        .iter()
        .find(|m| m["message_id"] == members_message.as_str());
    if let Some(gone) = gone {
        assert_eq!(
            (gone["deleted"].clone(), gone["content"].clone()),
            (json!(true), json!(""))
        );
    }

    // Older history over REST, for members only: the edited-then-deleted message keeps
    // both marks, its text gone.
    let all = owner
        .get(&format!("/api/v1/messages/{room}?limit=100"))
        .expect(200);
    let gone = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .chain(
            owner
                .get(&format!(
                    "/api/v1/messages/{room}?limit=100&before={}",
                    all["messages"].as_array().unwrap().last().unwrap()["message_id"]
                        .as_str()
                        .unwrap()
                ))
                .expect(200)["messages"]
                .as_array()
                .unwrap()
                .iter(),
        )
        .find(|m| m["message_id"] == members_message.as_str())
        .cloned()
        .expect("the deleted message is in the history");
    assert_eq!(
        (&gone["deleted"], &gone["edited"], &gone["content"]),
        (&json!(true), &json!(true), &json!(""))
    );
    outsider
        .get(&format!("/api/v1/messages/{room}"))
        .expect_error(403, "members_only");

    // A ban closes the member out of the room with 4004.
    let mut b = open(&server, &member, &path).unwrap();
    assert_eq!(read(&mut b)["type"], "snapshot");
    owner
        .post(
            &format!("/api/v1/communities/{room}/members/{member_id}"),
            &json!({"action": "ban", "duration_secs": 3600}),
        )
        .expect(200);
    let closed = read_kind(&mut b, &["read", "typing", "message"]);
    assert_eq!(closed, json!({"type": "close", "code": 4004}));
    assert_eq!(open(&server, &member, &path).err(), Some(403));
}

/// The room's messages through a fresh socket's snapshot, oldest first.
fn history(server: &Server, api: &Api, path: &str) -> Vec<Value> {
    let mut socket = open(server, api, path).unwrap();
    let snapshot = read(&mut socket);
    let mut messages = snapshot["data"]["messages"].as_array().unwrap().clone();
    messages.reverse();
    messages
}

#[test]
fn a_voice_signal_reaches_only_its_target_in_the_channel() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let (alice, alice_id) = funded(&anon, "voice_alice", "10");
    let (bob, bob_id) = funded(&anon, "voice_bob", "10");
    let (carol, _) = funded(&anon, "voice_carol", "10");
    let (dave, dave_id) = funded(&anon, "voice_dave", "10");
    let (eve, _) = funded(&anon, "voice_eve", "10");
    let channel = community(&alice, "Voice Lounge");
    join(&bob, &channel);
    join(&carol, &channel);
    let other = community(&dave, "Other Lounge");
    let path = format!("/ws/voice/{channel}");

    assert_eq!(open(&server, &eve, &path).err(), Some(403), "not a member");
    let mut a = open(&server, &alice, &path).unwrap();
    let hello = read(&mut a);
    assert_eq!(hello["type"], "joined");
    assert_eq!(hello["data"]["participants"], json!([alice_id]));
    assert_eq!(
        open(&server, &alice, &path).err(),
        Some(409),
        "one connection per user"
    );
    let mut b = open(&server, &bob, &path).unwrap();
    assert_eq!(read(&mut b)["type"], "joined");
    let arrival = read(&mut a);
    assert_eq!(arrival["type"], "presence");
    assert_eq!(arrival["data"]["change"], "joined");
    assert_eq!(arrival["data"]["user_id"], bob_id.as_str());
    let mut c = open(&server, &carol, &path).unwrap();
    assert_eq!(read(&mut c)["type"], "joined");
    let mut d = open(&server, &dave, &format!("/ws/voice/{other}")).unwrap();
    assert_eq!(read(&mut d)["type"], "joined");
    // Alice and Bob hear of Carol's arrival; nobody else is in Dave's channel.
    for socket in [&mut a, &mut b] {
        assert_eq!(read(socket)["data"]["change"], "joined");
    }

    // An offer to Bob, with a forged `from`: Bob gets it from Alice.
    let (answer, _) = request(
        &mut a,
        "offer",
        json!({"to": bob_id, "from": dave_id, "sdp": "v=0 offer"}),
    );
    assert_eq!(answer["type"], "signal_sent", "{answer}");
    let offer = read(&mut b);
    assert_eq!(offer["type"], "offer");
    assert_eq!(offer["data"], json!({"from": alice_id, "sdp": "v=0 offer"}));
    let (answer, _) = request(
        &mut b,
        "answer",
        json!({"to": alice_id, "sdp": "v=0 answer"}),
    );
    assert_eq!(answer["type"], "signal_sent");
    let reply = read(&mut a);
    assert_eq!(reply["type"], "answer");
    assert_eq!(reply["data"]["from"], bob_id.as_str());
    // Dave, in another channel, cannot be reached from this one.
    let (answer, _) = request(
        &mut a,
        "ice_candidate",
        json!({"to": dave_id, "candidate": "c"}),
    );
    assert_eq!(answer["data"]["code"], "not_in_channel", "{answer}");

    // Carol and Dave received nothing: their next message is the answer to their ping.
    for socket in [&mut c, &mut d] {
        let (pong, before) = request(socket, "ping", json!({}));
        assert_eq!(pong["type"], "pong");
        assert!(before.is_empty(), "{before:?}");
    }

    // Leaving is announced with the participants left.
    drop(b);
    let departure = read(&mut a);
    assert_eq!(departure["type"], "presence");
    assert_eq!(departure["data"]["change"], "left");
    assert_eq!(departure["data"]["user_id"], bob_id.as_str());
}

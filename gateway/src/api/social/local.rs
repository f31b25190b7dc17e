//! This gateway's connections to each chat room and voice channel, for the messages that
//! do not go through the core: typing indicators (ephemeral: nothing to journal) and voice
//! signalling (WebRTC offers, answers and ICE candidates relayed to one participant).
//!
//! Each connection has a bounded queue; a message to a connection whose queue is full is
//! dropped (a typing indicator) or refused to its sender (a signal), never waited for. A
//! channel's participants are the ones connected through this gateway: clients of one
//! channel reach it through the same gateway, as players of a game room do.

use axum::extract::ws::Message;
use betbet_protocol::social::RoomRef;
use betbet_protocol::types::UserId;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Messages queued per connection before more are dropped.
pub const LOCAL_QUEUE_MAX: usize = 256;

/// What a connection joined: a chat room (for typing) or a voice channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    Chat(RoomRef),
    Voice(RoomRef),
}

struct Peer {
    user: UserId,
    queue: mpsc::Sender<Message>,
}

#[derive(Default)]
struct Places {
    next: u64,
    peers: FxHashMap<Place, FxHashMap<u64, Peer>>,
}

#[derive(Default)]
pub struct LocalRooms {
    places: Mutex<Places>,
}

/// Why a connection could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefused {
    /// The place has its most participants.
    Full,
    /// The user is there already, from another connection (voice: one per user).
    AlreadyIn,
}

/// A connection's place; dropping it leaves.
pub struct Joined {
    rooms: Arc<LocalRooms>,
    place: Place,
    id: u64,
    pub queue: mpsc::Receiver<Message>,
}

impl LocalRooms {
    /// Joins `place` as `user`: at most `max` connections, and with `unique` one per user.
    pub fn join(
        self: &Arc<Self>,
        place: Place,
        user: UserId,
        max: usize,
        unique: bool,
    ) -> Result<Joined, JoinRefused> {
        let mut places = self.places.lock().expect("local rooms lock");
        let peers = places.peers.get(&place);
        if peers.is_some_and(|p| p.len() >= max) {
            return Err(JoinRefused::Full);
        }
        if unique && peers.is_some_and(|p| p.values().any(|peer| peer.user == user)) {
            return Err(JoinRefused::AlreadyIn);
        }
        places.next += 1;
        let id = places.next;
        let (queue, receiver) = mpsc::channel(LOCAL_QUEUE_MAX);
        places
            .peers
            .entry(place)
            .or_default()
            .insert(id, Peer { user, queue });
        Ok(Joined {
            rooms: Arc::clone(self),
            place,
            id,
            queue: receiver,
        })
    }

    /// Queues `message` for every connection of `place` (dropped where a queue is full).
    pub fn broadcast(&self, place: Place, message: &Message) {
        let places = self.places.lock().expect("local rooms lock");
        for peer in places
            .peers
            .get(&place)
            .into_iter()
            .flat_map(|p| p.values())
        {
            let _ = peer.queue.try_send(message.clone());
        }
    }

    /// The users connected to `place`, in id order, each once.
    pub fn users(&self, place: Place) -> Vec<UserId> {
        let places = self.places.lock().expect("local rooms lock");
        let mut users: Vec<UserId> = places
            .peers
            .get(&place)
            .into_iter()
            .flat_map(|p| p.values().map(|peer| peer.user))
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    }
}

impl Joined {
    /// Queues `message` for every other connection of the place (dropped where a queue is
    /// full: what goes this way is ephemeral).
    pub fn to_others(&self, message: &Message) {
        let places = self.rooms.places.lock().expect("local rooms lock");
        for (id, peer) in places.peers.get(&self.place).into_iter().flatten() {
            if *id != self.id {
                let _ = peer.queue.try_send(message.clone());
            }
        }
    }

    /// Queues `message` for `user`'s connections to the place; false if none took it
    /// (not there, or too far behind).
    pub fn to_user(&self, user: UserId, message: &Message) -> bool {
        let places = self.rooms.places.lock().expect("local rooms lock");
        let mut delivered = false;
        for (id, peer) in places.peers.get(&self.place).into_iter().flatten() {
            if *id != self.id && peer.user == user {
                delivered |= peer.queue.try_send(message.clone()).is_ok();
            }
        }
        delivered
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        let mut places = self.rooms.places.lock().expect("local rooms lock");
        if let Some(peers) = places.peers.get_mut(&self.place) {
            peers.remove(&self.id);
            if peers.is_empty() {
                places.peers.remove(&self.place);
            }
        }
    }
}

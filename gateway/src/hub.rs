//! Routes the core's event batches to the connections that want them.
//!
//! One dispatcher task reads the gateway's broadcast of event batches and hands each batch
//! only to the connections interested in something in it: those following one of its
//! topics (a market, a game session), and those whose user it concerns (their orders and
//! fills). A connection that is
//! interested in nothing in a batch is not woken — with thousands of sockets, waking each for
//! every batch was the gateway's largest cost.
//!
//! Each connection has its own bounded queue of batches. The dispatcher never waits: if a
//! queue is full, the connection is marked as lagging, loses the batch, and closes itself
//! with a reason when it next looks (its client must reconnect and take a fresh snapshot).
//!
//! A batch travels as one [`Dispatched`], shared by every connection it goes to, which also
//! carries the renderings those connections have in common: a public market-data message
//! is built once for all its subscribers, and a user's own message once for all that user's
//! connections, not once per socket.

use axum::extract::ws::Message;
use betbet_protocol::event::Event;
use betbet_protocol::games::GameSessionId;
use betbet_protocol::message::EventBatch;
use betbet_protocol::types::{MarketId, OutcomeId, UserId};
use rustc_hash::{FxHashMap, FxHashSet};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{broadcast, mpsc};

/// Event batches queued per connection before it counts as lagging.
pub const CONNECTION_QUEUE_MAX: usize = 1_024;

/// One event batch on its way to the connections it concerns.
pub struct Dispatched {
    batch: Arc<EventBatch>,
    /// Per event, the WebSocket messages its connections have in common.
    slots: Box<[EventSlots]>,
}

/// The WebSocket messages of one event that several connections send alike: each is built
/// by the first connection that sends it, and the others send the same bytes (a clone is a
/// reference count).
#[derive(Default)]
pub struct EventSlots {
    /// The public market-data message (a book delta or trade as every follower of the
    /// market gets it).
    pub public: OnceLock<Message>,
    /// A user's own message, the same on each of that user's connections: an
    /// `order_update` uses the first; a trade's `fill` uses [`EventSlots::fill`].
    pub private: [OnceLock<Message>; 4],
}

impl EventSlots {
    /// The `fill` of a trade's taker or maker, priced in the book's terms or mirrored.
    pub fn fill(&self, maker: bool, mirrored: bool) -> &OnceLock<Message> {
        &self.private[usize::from(maker) * 2 + usize::from(mirrored)]
    }
}

/// A batch as one connection gets it: the shared batch and which of its events concern
/// the connection — those of the markets it follows and those of its user, each list
/// shared by every connection it applies to. A connection looks only at its own events: with
/// a thousand connections and a batch of a thousand events, looking at every event cost
/// each connection more than everything else it did.
pub struct Delivery {
    dispatched: Arc<Dispatched>,
    lists: Vec<Arc<[u32]>>,
}

impl Delivery {
    /// The events of the batch that concern this connection, in the batch's order, with the
    /// shared slots for each one's WebSocket messages.
    pub fn events(&self) -> impl Iterator<Item = (&Event, &EventSlots)> {
        // The lists are each in batch order: the next event is the smallest index past the
        // last one in any of them (a connection has one or two lists; nothing is allocated).
        let mut next = 0u32;
        std::iter::from_fn(move || {
            let index = self
                .lists
                .iter()
                .filter_map(|list| list.get(list.partition_point(|&i| i < next)).copied())
                .min()?;
            next = index.checked_add(1)?;
            Some(index)
        })
        .filter_map(|i| {
            let i = i as usize;
            Some((
                self.dispatched.batch.events.get(i)?,
                self.dispatched.slots.get(i)?,
            ))
        })
    }
}

impl Deref for Delivery {
    type Target = EventBatch;

    fn deref(&self) -> &EventBatch {
        &self.dispatched.batch
    }
}

struct Connection {
    queue: mpsc::Sender<Delivery>,
    lagging: Arc<AtomicBool>,
}

/// What a connection follows: a market's data, a game session's room, or a tournament's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Market(MarketId),
    Session(GameSessionId),
    Tournament(betbet_protocol::tournaments::TournamentId),
    /// A chat room: its messages and read markers (and, for a community's room, the
    /// community's changes, which may end a member's place in it).
    Room(betbet_protocol::social::RoomRef),
}

#[derive(Default)]
struct Routes {
    next: u64,
    connections: FxHashMap<u64, Connection>,
    by_topic: FxHashMap<Topic, FxHashSet<u64>>,
    by_book: FxHashMap<OutcomeId, MarketId>,
    by_user: FxHashMap<UserId, FxHashSet<u64>>,
    users: FxHashMap<u64, UserId>,
    topics: FxHashMap<u64, FxHashSet<Topic>>,
}

impl Routes {
    fn follow(&mut self, id: u64, topic: Topic) {
        self.by_topic.entry(topic).or_default().insert(id);
        self.topics.entry(id).or_default().insert(topic);
    }
}

#[derive(Default)]
pub struct Hub {
    routes: Mutex<Routes>,
}

/// A connection's membership; dropping it unregisters the connection.
pub struct Registration {
    id: u64,
    hub: Arc<Hub>,
    pub queue: mpsc::Receiver<Delivery>,
    lagging: Arc<AtomicBool>,
}

impl Registration {
    /// True once the hub dropped a batch for this connection.
    pub fn is_lagging(&self) -> bool {
        self.lagging.load(Ordering::Acquire)
    }

    /// Starts receiving the events of `market`, whose books are `books`.
    pub fn follow(&self, market: MarketId, books: &[OutcomeId]) {
        let mut routes = self.hub.routes.lock().expect("hub lock");
        for &book in books {
            routes.by_book.insert(book, market);
        }
        routes.follow(self.id, Topic::Market(market));
    }

    /// Starts receiving a game session's changes and chat.
    pub fn follow_session(&self, session: GameSessionId) {
        let mut routes = self.hub.routes.lock().expect("hub lock");
        routes.follow(self.id, Topic::Session(session));
    }

    /// Starts receiving a tournament's changes.
    pub fn follow_tournament(&self, tournament: betbet_protocol::tournaments::TournamentId) {
        let mut routes = self.hub.routes.lock().expect("hub lock");
        routes.follow(self.id, Topic::Tournament(tournament));
    }

    /// Starts receiving a chat room's messages.
    pub fn follow_room(&self, room: betbet_protocol::social::RoomRef) {
        let mut routes = self.hub.routes.lock().expect("hub lock");
        routes.follow(self.id, Topic::Room(room));
    }

    pub fn unfollow(&self, market: MarketId) {
        let mut routes = self.hub.routes.lock().expect("hub lock");
        let topic = Topic::Market(market);
        if let Some(ids) = routes.by_topic.get_mut(&topic) {
            ids.remove(&self.id);
        }
        if let Some(topics) = routes.topics.get_mut(&self.id) {
            topics.remove(&topic);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut routes = self.hub.routes.lock().expect("hub lock");
        routes.connections.remove(&self.id);
        if let Some(user) = routes.users.remove(&self.id)
            && let Some(ids) = routes.by_user.get_mut(&user)
        {
            ids.remove(&self.id);
            if ids.is_empty() {
                routes.by_user.remove(&user);
            }
        }
        for topic in routes.topics.remove(&self.id).unwrap_or_default() {
            if let Some(ids) = routes.by_topic.get_mut(&topic) {
                ids.remove(&self.id);
                if ids.is_empty() {
                    routes.by_topic.remove(&topic);
                }
            }
        }
    }
}

/// Hands the gateway's event stream to `hub`: each batch to the connections it concerns.
/// Missed batches — the broadcast lagged, or a gap marker from the core link
/// ([`crate::core::is_gap`]) — end every connection, so its client resynchronises.
pub async fn dispatch_events(hub: Arc<Hub>, mut feed: broadcast::Receiver<Arc<EventBatch>>) {
    loop {
        match feed.recv().await {
            Ok(batch) if crate::core::is_gap(&batch) => hub.lag_all(),
            Ok(batch) => hub.dispatch(&batch),
            Err(broadcast::error::RecvError::Lagged(_)) => hub.lag_all(),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

impl Hub {
    /// Registers a connection (for `user`'s own events, if it has one).
    pub fn register(self: &Arc<Self>, user: Option<UserId>) -> Registration {
        let (queue, receiver) = mpsc::channel(CONNECTION_QUEUE_MAX);
        let lagging = Arc::new(AtomicBool::new(false));
        let mut routes = self.routes.lock().expect("hub lock");
        routes.next += 1;
        let id = routes.next;
        routes.connections.insert(
            id,
            Connection {
                queue,
                lagging: Arc::clone(&lagging),
            },
        );
        if let Some(user) = user {
            routes.by_user.entry(user).or_default().insert(id);
            routes.users.insert(id, user);
        }
        Registration {
            id,
            hub: Arc::clone(self),
            queue: receiver,
            lagging,
        }
    }

    /// Hands `batch` to every connection it concerns, with the events that concern it.
    pub fn dispatch(&self, batch: &Arc<EventBatch>) {
        let routes = self.routes.lock().expect("hub lock");
        // Per topic and per user with connections here, the indices of its events.
        let mut topics: FxHashMap<Topic, Vec<u32>> = FxHashMap::default();
        let mut users: FxHashMap<UserId, Vec<u32>> = FxHashMap::default();
        for (index, event) in batch.events.iter().enumerate() {
            let index = index as u32;
            let mut topic = |t: Topic| {
                if routes.by_topic.contains_key(&t) {
                    topics.entry(t).or_default().push(index);
                }
            };
            let mut user = |u: &UserId| {
                if routes.by_user.contains_key(u) {
                    let list = users.entry(*u).or_default();
                    // A self-trade names its user twice.
                    if list.last() != Some(&index) {
                        list.push(index);
                    }
                }
            };
            match event {
                Event::BookDelta(delta) => {
                    if let Some(&m) = routes.by_book.get(&delta.book) {
                        topic(Topic::Market(m));
                    }
                }
                Event::Trade(trade) => {
                    topic(Topic::Market(trade.market));
                    user(&trade.maker_user);
                    user(&trade.taker_user);
                }
                Event::MarketStatusChanged(change) => topic(Topic::Market(change.market)),
                Event::MarketResolved(resolved) => topic(Topic::Market(resolved.market)),
                Event::ResolutionProposed(proposed) => topic(Topic::Market(proposed.market)),
                Event::ResolutionDisputed(disputed) => topic(Topic::Market(disputed.market)),
                Event::MarketUpdated(updated) => topic(Topic::Market(updated.market)),
                Event::OrderAccepted(accepted) => user(&accepted.user),
                Event::OrderUpdated(updated) => user(&updated.user),
                // Feed sessions end when their key is revoked or their user suspended.
                Event::ApiKeyRevoked(revoked) => user(&revoked.user),
                Event::UserChanged(changed) => user(&changed.user),
                // WebSockets end with the login session they were opened in.
                Event::SessionRevoked(revoked) => user(&revoked.user),
                Event::GameSessionChanged(changed) => topic(Topic::Session(changed.session)),
                Event::GameChatPosted(posted) => topic(Topic::Session(posted.session)),
                Event::GameSessionTicked(ticked) => topic(Topic::Session(ticked.session)),
                Event::TournamentChanged(changed) => {
                    topic(Topic::Tournament(changed.tournament));
                }
                Event::ChatMessage(message) => topic(Topic::Room(message.room)),
                Event::ChatRead(read) => topic(Topic::Room(read.room)),
                Event::CommunityChanged(changed) => topic(Topic::Room(
                    betbet_protocol::social::RoomRef::community(changed.community),
                )),
                Event::GroupChanged(changed) => topic(Topic::Room(
                    betbet_protocol::social::RoomRef::group(changed.group),
                )),
                _ => {}
            }
        }
        if topics.is_empty() && users.is_empty() {
            return;
        }
        let dispatched = Arc::new(Dispatched {
            batch: Arc::clone(batch),
            slots: batch.events.iter().map(|_| EventSlots::default()).collect(),
        });
        // Each connection with its lists, gathered before anything is sent.
        let mut deliveries: FxHashMap<u64, Vec<Arc<[u32]>>> = FxHashMap::default();
        for (topic, indices) in topics {
            let indices: Arc<[u32]> = indices.into();
            for &id in routes.by_topic.get(&topic).into_iter().flatten() {
                deliveries.entry(id).or_default().push(Arc::clone(&indices));
            }
        }
        for (user, indices) in users {
            let indices: Arc<[u32]> = indices.into();
            for &id in routes.by_user.get(&user).into_iter().flatten() {
                deliveries.entry(id).or_default().push(Arc::clone(&indices));
            }
        }
        for (id, lists) in deliveries {
            if let Some(connection) = routes.connections.get(&id) {
                let delivery = Delivery {
                    dispatched: Arc::clone(&dispatched),
                    lists,
                };
                if connection.queue.try_send(delivery).is_err() {
                    connection.lagging.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Marks every connection as lagging (the dispatcher itself missed batches) and drops
    /// their queues, so even an idle connection wakes at once and closes; a connection
    /// must not carry on after missing events (a revocation among them, say).
    pub fn lag_all(&self) {
        let mut routes = self.routes.lock().expect("hub lock");
        for (_, connection) in routes.connections.drain() {
            connection.lagging.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dispatcher_lag_wakes_and_ends_every_connection() {
        let hub = Arc::new(Hub::default());
        let mut idle = hub.register(None);
        let mut user = hub.register(Some(UserId(7)));
        hub.lag_all();
        for registration in [&mut idle, &mut user] {
            assert!(registration.is_lagging());
            // Without the queue's sender, an idle connection does not wait for a batch.
            let woken =
                tokio::time::timeout(std::time::Duration::from_secs(1), registration.queue.recv())
                    .await;
            assert!(matches!(woken, Ok(None)), "an idle connection must wake");
        }
        // A connection registered afterwards is served as usual.
        let mut fresh = hub.register(Some(UserId(7)));
        hub.dispatch(&Arc::new(EventBatch {
            seqs: vec![1],
            events: vec![Event::UserChanged(betbet_protocol::event::UserChanged {
                user: UserId(7),
            })],
        }));
        assert!(!fresh.is_lagging());
        assert_eq!(
            fresh.queue.recv().await.map(|d| d.seqs.clone()),
            Some(vec![1])
        );
    }

    #[tokio::test]
    async fn a_gap_on_the_event_stream_ends_every_connection() {
        let hub = Arc::new(Hub::default());
        let (events, feed) = broadcast::channel(16);
        tokio::spawn(dispatch_events(Arc::clone(&hub), feed));
        let mut watcher = hub.register(Some(UserId(3)));
        let batch = |seqs: Vec<u64>| {
            Arc::new(EventBatch {
                events: seqs
                    .iter()
                    .map(|_| {
                        Event::UserChanged(betbet_protocol::event::UserChanged { user: UserId(3) })
                    })
                    .collect(),
                seqs,
            })
        };
        events.send(batch(vec![5])).unwrap();
        let first = watcher.queue.recv().await.expect("a batch");
        assert_eq!(first.seqs, vec![5]);
        // The core link came back: what it published meanwhile may be lost.
        events.send(batch(Vec::new())).unwrap();
        let woken =
            tokio::time::timeout(std::time::Duration::from_secs(1), watcher.queue.recv()).await;
        assert!(matches!(woken, Ok(None)), "the connection must end");
        assert!(watcher.is_lagging());
    }

    #[tokio::test]
    async fn a_connection_gets_only_its_markets_and_users_events_in_batch_order() {
        use betbet_protocol::command::MarketStatus;
        use betbet_protocol::event::{MarketStatusChanged, UserChanged};
        let hub = Arc::new(Hub::default());
        let mut mine = hub.register(Some(UserId(1)));
        mine.follow(MarketId(10), &[]);
        let mut other = hub.register(Some(UserId(2)));
        let status = |market: u64| {
            Event::MarketStatusChanged(MarketStatusChanged {
                market: MarketId(market),
                status: MarketStatus::Closed,
            })
        };
        let changed = |user: u64| Event::UserChanged(UserChanged { user: UserId(user) });
        let events = vec![
            changed(2),
            status(10),
            changed(1),
            status(11),
            changed(3),
            status(10),
            changed(1),
        ];
        hub.dispatch(&Arc::new(EventBatch {
            seqs: (1..=events.len() as u64).collect(),
            events,
        }));
        let delivered = |delivery: &Delivery| -> Vec<String> {
            delivery
                .events()
                .map(|(event, _)| match event {
                    Event::UserChanged(c) => format!("user {}", c.user.0),
                    Event::MarketStatusChanged(c) => format!("market {}", c.market.0),
                    _ => unreachable!(),
                })
                .collect()
        };
        let batch = mine.queue.recv().await.expect("a batch");
        assert_eq!(
            delivered(&batch),
            ["market 10", "user 1", "market 10", "user 1"]
        );
        let batch = other.queue.recv().await.expect("a batch");
        assert_eq!(delivered(&batch), ["user 2"]);
        // A batch that concerns no one wakes no one.
        hub.dispatch(&Arc::new(EventBatch {
            seqs: vec![9],
            events: vec![changed(3)],
        }));
        assert!(mine.queue.try_recv().is_err() && other.queue.try_recv().is_err());
    }
}

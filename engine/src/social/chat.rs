//! Chat rooms and direct messages: a community's room for its members, a conversation for
//! its two users. Every message, edit, delete and read marker is a journaled command, so
//! nothing acknowledged is lost; the core keeps each room's sequence number and who sent
//! its last [`ROOM_RECENT_MAX`] messages (the ones that may still be edited or deleted),
//! and the text rides the `ChatMessage` event into the history store.

use super::communities::Change;
use super::{Chat, Conversation, RecentMessage};
use crate::Engine;
use betbet_protocol::event::Event;
use betbet_protocol::message::{Empty, Reply};
use betbet_protocol::query::QueryReply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::GroupId;
use betbet_protocol::social::{
    BLOCKS_PER_USER_MAX, BlockList, BlockUser, CHAT_MESSAGE_MAX, CONVERSATIONS_MAX,
    CONVERSATIONS_OPENED_PER_USER_MAX, ChatMessage, ChatRead, CommunityChange, CommunityId,
    ConversationId, DIRECT_RECENT_MAX, EditMessage, IMAGE_URL_MAX, MemberRole, MemberStatus,
    MessageAction, MessageChange, MessageId, MessageReply, MessageType, ROOM_RECENT_MAX, RoomKind,
    RoomQuery, RoomRef, RoomView, SendMessage,
};
use betbet_protocol::types::UserId;

/// A message's content fits its type: text of 1..=4 000 characters, an image's `https://`
/// URL, a bet slip's optional caption (with the slip itself, which only a slip has).
fn check_content(kind: MessageType, content: &str, has_slip: bool) -> Result<(), ResultCode> {
    match kind {
        MessageType::Text => {
            crate::text::body(content, CHAT_MESSAGE_MAX)?;
            if content.trim().is_empty() || has_slip {
                return Err(ResultCode::InvalidChatMessage);
            }
        }
        MessageType::Image => {
            crate::text::line(content, IMAGE_URL_MAX)?;
            let url_like = content.strip_prefix("https://").is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'<' | b'>' | b'\\'))
            });
            if !url_like || has_slip {
                return Err(ResultCode::InvalidChatMessage);
            }
        }
        MessageType::BetSlip => {
            crate::text::body(content, CHAT_MESSAGE_MAX)?;
            if !has_slip {
                return Err(ResultCode::InvalidChatMessage);
            }
        }
    }
    Ok(())
}

/// The messages of a room that may still be edited or deleted.
fn recent_max(kind: RoomKind) -> usize {
    match kind {
        RoomKind::Community | RoomKind::Group => ROOM_RECENT_MAX,
        RoomKind::Direct => DIRECT_RECENT_MAX,
    }
}

fn room_key(room: RoomRef) -> (u8, u64) {
    (room.kind.to_u8(), room.id)
}

/// A pair of users in the order conversations are keyed by.
fn pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

impl Chat {
    fn blocked_between(&self, a: UserId, b: UserId) -> bool {
        self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a))
    }
}

impl Engine {
    /// The conversation `room` names, when `actor` is one of its users, and the other.
    fn conversation_of(
        &self,
        room: RoomRef,
        actor: UserId,
    ) -> Result<(&Conversation, UserId), ResultCode> {
        let conversation = self
            .social
            .chat
            .conversations
            .get(&ConversationId(room.id))
            .ok_or(ResultCode::RoomNotFound)?;
        let (a, b) = conversation.users;
        match actor {
            _ if actor == a => Ok((conversation, b)),
            _ if actor == b => Ok((conversation, a)),
            _ => Err(ResultCode::RoomNotFound),
        }
    }

    /// Whether `actor` may post to the room (and to whom, in a conversation): an active,
    /// unbanned, unmuted member of the community; a user of the conversation neither of
    /// whose users blocked the other.
    fn room_poster(&self, room: RoomRef, actor: UserId) -> Result<Option<UserId>, ResultCode> {
        self.active_user(actor)?;
        match room.kind {
            RoomKind::Community => {
                let community = self.community(CommunityId(room.id))?;
                self.poster(community, actor)?;
                Ok(None)
            }
            RoomKind::Direct => {
                let (_, other) = self.conversation_of(room, actor)?;
                if self.social.chat.blocked_between(actor, other) {
                    return Err(ResultCode::UserBlocked);
                }
                Ok(Some(other))
            }
            RoomKind::Group => self.group_room_role(room, actor).map(|_| None),
        }
    }

    /// The actor's role in the group whose room this is (a member who joined), or why not.
    fn group_room_role(
        &self,
        room: RoomRef,
        actor: UserId,
    ) -> Result<betbet_protocol::social::GroupRole, ResultCode> {
        let group = self
            .social
            .groups
            .get(&GroupId(room.id))
            .ok_or(ResultCode::GroupNotFound)?;
        group
            .members
            .get(&actor)
            .filter(|m| !m.invited)
            .map(|m| m.role)
            .ok_or(ResultCode::NotGroupMember)
    }

    /// Whether `actor` may read the room: a member of the community (active, unbanned),
    /// a platform admin there; a user of the conversation.
    fn room_reader(&self, room: RoomRef, actor: UserId) -> Result<(), ResultCode> {
        match room.kind {
            RoomKind::Community => {
                let community = self.community(CommunityId(room.id))?;
                if self.role_in(community, actor).is_none() && !self.is_admin(actor) {
                    return Err(ResultCode::MembersOnly);
                }
                Ok(())
            }
            RoomKind::Direct => self.conversation_of(room, actor).map(|_| ()),
            RoomKind::Group => self.group_room_role(room, actor).map(|_| ()),
        }
    }

    /// The conversation of `actor` and `recipient`, opened if they have none.
    fn open_conversation(
        &mut self,
        actor: UserId,
        recipient: UserId,
    ) -> Result<ConversationId, ResultCode> {
        if actor == recipient {
            return Err(ResultCode::CannotMessageSelf);
        }
        self.active_user(actor)?;
        self.users.get(recipient).ok_or(ResultCode::UserNotFound)?;
        let chat = &self.social.chat;
        if chat.blocked_between(actor, recipient) {
            return Err(ResultCode::UserBlocked);
        }
        if let Some(&id) = chat.pairs.get(&pair(actor, recipient)) {
            return Ok(id);
        }
        // Only the conversations a user opened count against them: nobody can fill
        // someone else's allowance by writing to them.
        let opened = chat.conversations_opened.get(&actor).copied().unwrap_or(0);
        if chat.conversations.len() >= CONVERSATIONS_MAX
            || opened >= CONVERSATIONS_OPENED_PER_USER_MAX
        {
            return Err(ResultCode::TooManyConversations);
        }
        let chat = &mut self.social.chat;
        chat.next_conversation += 1;
        let id = ConversationId(chat.next_conversation);
        let users = pair(actor, recipient);
        chat.conversations.insert(
            id,
            Conversation {
                id,
                users,
                opener: actor,
                created_at: self.now,
            },
        );
        chat.pairs.insert(users, id);
        *chat.conversations_opened.entry(actor).or_default() += 1;
        Ok(id)
    }

    pub(crate) fn send_message(
        &mut self,
        c: &SendMessage,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        check_content(c.message_type, &c.content, c.bet_slip.is_some())?;
        if let Some(slip) = c.bet_slip {
            self.markets
                .get(slip.market)
                .ok_or(ResultCode::MarketNotFound)?;
            if let Some(outcome) = slip.outcome
                && self
                    .markets
                    .outcome(outcome)
                    .is_none_or(|o| o.market != slip.market)
            {
                return Err(ResultCode::OutcomeNotFound);
            }
        }
        let (room, recipient) = match (c.room.kind, c.room.id, c.recipient) {
            (RoomKind::Direct, 0, Some(recipient)) => {
                let id = self.open_conversation(c.actor, recipient)?;
                (RoomRef::direct(id), Some(recipient))
            }
            (_, 0, _) | (RoomKind::Community, _, Some(_)) => {
                return Err(ResultCode::InvalidRequest);
            }
            (_, _, named) => {
                let other = self.room_poster(c.room, c.actor)?;
                if named.is_some() && named != other {
                    return Err(ResultCode::InvalidRequest);
                }
                (c.room, other)
            }
        };
        let now = self.now;
        let chat = &mut self.social.chat;
        chat.next_message += 1;
        let message = MessageId(chat.next_message);
        let entry = chat.rooms.entry(room_key(room)).or_default();
        entry.seq += 1;
        entry.last_message = Some(message);
        if entry.recent.len() >= recent_max(room.kind) {
            entry.recent.remove(0);
        }
        entry.recent.push(RecentMessage {
            id: message,
            sender: c.actor,
            message_type: c.message_type,
            bet_slip: c.bet_slip,
            posted_at: now,
            edited: false,
            deleted: false,
        });
        let seq = entry.seq;
        out.push(Event::ChatMessage(ChatMessage {
            room,
            message,
            seq,
            sender: c.actor,
            recipient,
            actor: c.actor,
            change: MessageChange::Posted,
            message_type: c.message_type,
            content: c.content.clone(),
            bet_slip: c.bet_slip,
            edited: false,
            posted_at: now,
            changed_at: now,
        }));
        Ok(Reply::Message(MessageReply {
            room,
            message,
            seq,
            posted_at: now,
        }))
    }

    /// One of the room's recent messages, or why not.
    fn recent(&self, room: RoomRef, message: MessageId) -> Result<&RecentMessage, ResultCode> {
        let entry = self
            .social
            .chat
            .rooms
            .get(&room_key(room))
            .ok_or(ResultCode::MessageNotFound)?;
        match entry.recent.binary_search_by_key(&message, |m| m.id) {
            Ok(index) => Ok(&entry.recent[index]),
            Err(0) if entry.recent.len() >= recent_max(room.kind) && message.0 > 0 => {
                Err(ResultCode::MessageTooOld)
            }
            Err(_) => Err(ResultCode::MessageNotFound),
        }
    }

    /// The room's next change of a recent message (an edit, or a delete): its sequence
    /// number.
    fn change_message(&mut self, room: RoomRef, message: MessageId, deleted: bool) -> u64 {
        let entry = self
            .social
            .chat
            .rooms
            .get_mut(&room_key(room))
            .expect("the room was looked up before");
        entry.seq += 1;
        if let Ok(index) = entry.recent.binary_search_by_key(&message, |m| m.id) {
            let recent = &mut entry.recent[index];
            if deleted {
                recent.deleted = true;
            } else {
                recent.edited = true;
            }
        }
        entry.seq
    }

    pub(crate) fn edit_message(
        &mut self,
        c: &EditMessage,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let recipient = self.room_poster(c.room, c.actor)?;
        let recent = self.recent(c.room, c.message)?;
        if recent.sender != c.actor {
            return Err(ResultCode::NotMessageSender);
        }
        if recent.deleted {
            return Err(ResultCode::PostDeleted);
        }
        let (message_type, bet_slip, posted_at) =
            (recent.message_type, recent.bet_slip, recent.posted_at);
        // A slip's caption may change, not what it refers to.
        check_content(
            message_type,
            &c.content,
            message_type == MessageType::BetSlip,
        )?;
        let seq = self.change_message(c.room, c.message, false);
        out.push(Event::ChatMessage(ChatMessage {
            room: c.room,
            message: c.message,
            seq,
            sender: c.actor,
            recipient,
            actor: c.actor,
            change: MessageChange::Edited,
            message_type,
            content: c.content.clone(),
            bet_slip,
            edited: true,
            posted_at,
            changed_at: self.now,
        }));
        Ok(Reply::Message(MessageReply {
            room: c.room,
            message: c.message,
            seq,
            posted_at,
        }))
    }

    /// Deletes a recent message: its sender (who may still read the room), or in a
    /// community a moderator who outranks the sender, or a platform admin — which the
    /// moderation log records.
    pub(crate) fn delete_message(
        &mut self,
        c: &MessageAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.room_reader(c.room, c.actor)?;
        let recent = self.recent(c.room, c.message)?;
        if recent.deleted {
            return Err(ResultCode::PostDeleted);
        }
        let (sender, message_type, posted_at, edited) = (
            recent.sender,
            recent.message_type,
            recent.posted_at,
            recent.edited,
        );
        let community = CommunityId(c.room.id);
        let moderated = sender != c.actor;
        let author_role = match c.room.kind {
            RoomKind::Direct if moderated => return Err(ResultCode::NotMessageSender),
            RoomKind::Direct => MemberRole::Member,
            // A group's owner or admin removes the messages of the roles below theirs.
            RoomKind::Group => {
                let actor = self.group_room_role(c.room, c.actor)?;
                // A sender who has left ranks as a member.
                let sender = self.group_room_role(c.room, sender).map_or(0, |s| s.rank());
                if moderated && sender >= actor.rank() {
                    return Err(ResultCode::NotMessageSender);
                }
                MemberRole::Member
            }
            RoomKind::Community => {
                let community = self.community(community)?;
                if moderated {
                    self.outranks(community, c.actor, sender)
                        .map_err(|_| ResultCode::NotMessageSender)?
                } else {
                    MemberRole::Member
                }
            }
        };
        let recipient = match c.room.kind {
            RoomKind::Direct => Some(self.conversation_of(c.room, c.actor)?.1),
            RoomKind::Community | RoomKind::Group => None,
        };
        let seq = self.change_message(c.room, c.message, true);
        out.push(Event::ChatMessage(ChatMessage {
            room: c.room,
            message: c.message,
            seq,
            sender,
            recipient,
            actor: c.actor,
            change: MessageChange::Deleted,
            message_type,
            content: String::new(),
            bet_slip: None,
            edited,
            posted_at,
            changed_at: self.now,
        }));
        if moderated && c.room.kind == RoomKind::Community {
            let change = Change::of(CommunityChange::MessageRemoved, sender, author_role);
            self.community_changed(community, c.actor, change, out);
        }
        Ok(Reply::Message(MessageReply {
            room: c.room,
            message: c.message,
            seq,
            posted_at,
        }))
    }

    pub(crate) fn mark_read(
        &mut self,
        c: &MessageAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.room_reader(c.room, c.actor)?;
        let last = self
            .social
            .chat
            .rooms
            .get(&room_key(c.room))
            .and_then(|r| r.last_message);
        if c.message.0 == 0 || last.is_none_or(|last| c.message > last) {
            return Err(ResultCode::MessageNotFound);
        }
        out.push(Event::ChatRead(ChatRead {
            room: c.room,
            user: c.actor,
            message: c.message,
        }));
        Ok(Reply::Done(Empty {}))
    }

    pub(crate) fn block_user(&mut self, c: &BlockUser) -> Result<Reply, ResultCode> {
        if c.actor == c.user {
            return Err(ResultCode::CannotMessageSelf);
        }
        self.active_user(c.actor)?;
        self.users.get(c.user).ok_or(ResultCode::UserNotFound)?;
        let chat = &mut self.social.chat;
        let key = (c.actor, c.user);
        if c.blocked && !chat.blocks.contains(&key) {
            let count = chat.blocks_per_user.entry(c.actor).or_default();
            if *count >= BLOCKS_PER_USER_MAX {
                return Err(ResultCode::TooManyBlocks);
            }
            *count += 1;
            chat.blocks.insert(key);
        } else if !c.blocked && chat.blocks.remove(&key) {
            let count = chat
                .blocks_per_user
                .get_mut(&c.actor)
                .expect("a block is counted");
            *count -= 1;
            if *count == 0 {
                chat.blocks_per_user.remove(&c.actor);
            }
        }
        Ok(Reply::Done(Empty {}))
    }

    pub(crate) fn query_room(&self, q: &RoomQuery) -> QueryReply {
        let not_found = QueryReply::NotFound(Empty {});
        let entry = self.social.chat.rooms.get(&room_key(q.room));
        let mut blocked = false;
        let (participants, may_read, muted_until, role) = match q.room.kind {
            RoomKind::Community => {
                let Some(community) = self.social.communities.get(&CommunityId(q.room.id)) else {
                    return not_found;
                };
                let member = community
                    .members
                    .get(&q.viewer)
                    .filter(|m| m.status == MemberStatus::Active);
                let role = self.role_in(community, q.viewer);
                let muted = member
                    .and_then(|m| m.muted_until)
                    .filter(|&until| until > self.now);
                (
                    Vec::new(),
                    role.is_some() || self.is_admin(q.viewer),
                    muted,
                    role,
                )
            }
            RoomKind::Direct => match self.conversation_of(q.room, q.viewer) {
                Ok((conversation, _)) => {
                    let (a, b) = conversation.users;
                    blocked = self.social.chat.blocked_between(a, b);
                    (vec![a, b], true, None, None)
                }
                Err(_) => return not_found,
            },
            RoomKind::Group => {
                if !self.social.groups.contains_key(&GroupId(q.room.id)) {
                    return not_found;
                }
                let member = self.group_room_role(q.room, q.viewer).is_ok();
                (Vec::new(), member, None, None)
            }
        };
        QueryReply::Room(RoomView {
            room: q.room,
            seq: entry.map_or(0, |r| r.seq),
            last_message: entry.and_then(|r| r.last_message),
            participants,
            viewer_may_read: may_read,
            viewer_muted_until: muted_until,
            viewer_role: role,
            viewer_blocked: blocked,
        })
    }

    /// Every conversation's room and one of its users (for a history store seeded from a
    /// snapshot).
    pub fn conversation_rooms(&self) -> Vec<(RoomRef, UserId)> {
        self.social
            .chat
            .conversations
            .values()
            .map(|c| (RoomRef::direct(c.id), c.users.0))
            .collect()
    }

    pub(crate) fn query_blocks(&self, user: UserId) -> QueryReply {
        let users = self
            .social
            .chat
            .blocks
            .range((user, UserId(0))..=(user, UserId(u64::MAX)))
            .map(|&(_, blocked)| blocked)
            .collect();
        QueryReply::Blocks(BlockList { users })
    }

    /// Every conversation is keyed by its pair and counted for both users; every room's
    /// recent messages are in id order, within the bound and the room's sequence; the
    /// blocks match their counts.
    pub(crate) fn check_chat(&self) {
        let chat = &self.social.chat;
        let mut opened = std::collections::BTreeMap::<UserId, u32>::new();
        for (id, conversation) in &chat.conversations {
            assert_eq!(chat.pairs.get(&conversation.users), Some(id));
            assert!(conversation.users.0 < conversation.users.1);
            let (a, b) = conversation.users;
            assert!(conversation.opener == a || conversation.opener == b);
            assert!(id.0 <= chat.next_conversation);
            *opened.entry(conversation.opener).or_default() += 1;
        }
        assert_eq!(chat.pairs.len(), chat.conversations.len());
        assert_eq!(opened, chat.conversations_opened);
        for (key, room) in &chat.rooms {
            let kind = RoomKind::from_u8(key.0).expect("a room's kind");
            assert!(room.recent.len() <= recent_max(kind), "{key:?}");
            match kind {
                RoomKind::Direct => {
                    assert!(chat.conversations.contains_key(&ConversationId(key.1)));
                }
                RoomKind::Group => assert!(self.social.groups.contains_key(&GroupId(key.1))),
                RoomKind::Community => {
                    assert!(self.social.communities.contains_key(&CommunityId(key.1)));
                }
            }
            assert!(room.recent.len() as u64 <= room.seq, "{key:?}");
            assert!(room.recent.windows(2).all(|w| w[0].id < w[1].id), "{key:?}");
            assert_eq!(room.recent.last().map(|m| m.id), room.last_message);
            assert!(room.last_message.is_none_or(|m| m.0 <= chat.next_message));
        }
        let mut blocks = std::collections::BTreeMap::<UserId, u32>::new();
        for (blocker, _) in &chat.blocks {
            *blocks.entry(*blocker).or_default() += 1;
        }
        assert_eq!(blocks, chat.blocks_per_user);
    }
}

//! Social: communities, their members, roles and moderation.
//!
//! - `communities`: creating a community, joining it (public at once, private through a
//!   request an owner or admin approves or an invitation, paid through the ledger: the
//!   fee to the owner less the platform's fee), leaving, and what owners, admins and
//!   moderators do to memberships (roles, mutes and bans until a time, removal), each
//!   change a `CommunityChanged` event that is also the moderation log's entry;
//! - `threads`: threads and nested replies in a community, votes (one per user and post),
//!   paywalls paid once per reader through the ledger, edits and soft deletes, pins and
//!   locks, views counted once per reader and hour. The core keeps each post's state, not
//!   its text: the text rides the `PostChanged` event into the history store;
//! - `chat`: chat rooms (a community's, for its members) and direct-message conversations
//!   (opened by the first message, refused while either user blocks the other): every
//!   message, edit, delete and read marker journaled, each room's gap-free sequence
//!   number, and who sent its last messages (the ones that may still be edited or
//!   deleted). The text rides the `ChatMessage` event into the history store;
//! - `groups`: groups (public, or private by invitation; owner > admin > member) with a
//!   wallet of their own — a ledger account members contribute to and the owner (or the
//!   admins, by the group's policy) pays out of to members, each movement one transfer
//!   with the member's transaction and a `GroupChanged` event;
//! - `query`: the views.
//!
//! The core keeps every community and membership (they decide every command); lists,
//! paging over members and the moderation log are read from the history store.

mod chat;
mod communities;
mod groups;
mod query;
mod threads;

use crate::family::{CommandFamily, misrouted};
use crate::{Ctx, Engine};
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::message::Reply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::{BetSlip, GroupId, GroupRole, GroupType, PayoutPolicy};
use betbet_protocol::social::{
    CommunityId, CommunityType, ConversationId, MemberRole, MemberStatus, MessageId, MessageType,
    ReplyId, ThreadId, ThreadType,
};
use betbet_protocol::types::{AccountId, Currency, Timestamp, UserId};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub role: MemberRole,
    pub status: MemberStatus,
    /// When they joined (or asked to, or were invited).
    pub joined_at: Timestamp,
    /// Until when they may not post (a past time: not muted).
    pub muted_until: Option<Timestamp>,
    /// Until when they may not post, read a private community or leave.
    pub banned_until: Option<Timestamp>,
    pub fee_paid: i64,
}

impl Member {
    pub fn banned(&self, now: Timestamp) -> bool {
        self.banned_until.is_some_and(|until| until > now)
    }

    pub fn muted(&self, now: Timestamp) -> bool {
        self.muted_until.is_some_and(|until| until > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Community {
    pub id: CommunityId,
    pub name: String,
    pub description: String,
    pub category: String,
    pub kind: CommunityType,
    pub membership_fee: i64,
    pub currency: Currency,
    pub owner: UserId,
    /// The owner's wallet of `currency`, which a paid community's fees go to.
    pub owner_wallet: Option<AccountId>,
    /// Every membership, pending requests and invitations included.
    pub members: BTreeMap<UserId, Member>,
    /// Active members.
    pub member_count: u32,
    /// Pending requests and invitations.
    pub pending_count: u32,
    pub created_at: Timestamp,
    pub last_activity: Timestamp,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub id: ThreadId,
    pub community: CommunityId,
    pub author: UserId,
    /// Where a paywall's price goes.
    pub author_wallet: Option<AccountId>,
    pub thread_type: ThreadType,
    pub is_pinned: bool,
    pub is_locked: bool,
    pub is_deleted: bool,
    pub paywall: i64,
    pub upvotes: u32,
    pub downvotes: u32,
    /// Replies posted (deleted ones too: their place in the tree stays).
    pub reply_count: u32,
    pub view_count: u64,
    pub purchases: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_reply_at: Option<Timestamp>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadReply {
    pub id: ReplyId,
    pub thread: ThreadId,
    pub parent: Option<ReplyId>,
    pub root: ReplyId,
    pub depth: u8,
    pub author: UserId,
    pub upvotes: u32,
    pub downvotes: u32,
    pub is_deleted: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One of a room's last messages: who sent it (it may still be edited or deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentMessage {
    pub id: MessageId,
    pub sender: UserId,
    pub message_type: MessageType,
    pub bet_slip: Option<BetSlip>,
    pub posted_at: Timestamp,
    pub edited: bool,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatRoom {
    /// +1 on every message, edit and delete.
    pub seq: u64,
    pub last_message: Option<MessageId>,
    /// The last `ROOM_RECENT_MAX` messages (a conversation's `DIRECT_RECENT_MAX`), oldest
    /// first.
    pub recent: Vec<RecentMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    /// Its two users, the lower id first.
    pub users: (UserId, UserId),
    /// Who sent its first message (the one whose limit it counts against).
    pub opener: UserId,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chat {
    /// Rooms that have had a message, by `(RoomKind, id)`.
    pub rooms: BTreeMap<(u8, u64), ChatRoom>,
    pub conversations: BTreeMap<ConversationId, Conversation>,
    /// Each pair's conversation.
    pub pairs: BTreeMap<(UserId, UserId), ConversationId>,
    /// Conversations each user opened.
    pub conversations_opened: BTreeMap<UserId, u32>,
    pub next_conversation: u64,
    pub next_message: u64,
    /// `(blocker, blocked)`.
    pub blocks: BTreeSet<(UserId, UserId)>,
    pub blocks_per_user: BTreeMap<UserId, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub role: GroupRole,
    /// Invited, not joined yet (not counted among the members).
    pub invited: bool,
    pub joined_at: Timestamp,
    pub contributed: i64,
    pub received: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub kind: GroupType,
    pub max_members: u32,
    pub currency: Currency,
    pub owner: UserId,
    pub payout_policy: PayoutPolicy,
    /// The group's wallet (a ledger account owned by the group).
    pub account: AccountId,
    /// Members and invitees.
    pub members: BTreeMap<UserId, GroupMember>,
    pub member_count: u32,
    pub created_at: Timestamp,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupsIndex {
    pub next: u64,
    /// Names folded to lower case.
    pub names: BTreeMap<String, GroupId>,
    /// Groups joined per user (invitations count against no one), and owned per user.
    pub memberships: BTreeMap<UserId, u32>,
    pub owned: BTreeMap<UserId, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Social {
    pub communities: BTreeMap<CommunityId, Community>,
    pub next_community: u64,
    /// Community names folded to lower case, so names are unique without regard to case.
    pub names: BTreeMap<String, CommunityId>,
    /// Memberships (of any status) per user.
    pub memberships: BTreeMap<UserId, u32>,
    /// Communities per owner.
    pub owned: BTreeMap<UserId, u32>,
    pub threads: BTreeMap<ThreadId, Thread>,
    pub next_thread: u64,
    pub replies: BTreeMap<ReplyId, ThreadReply>,
    pub next_reply: u64,
    /// One vote per user and post: `(thread, voter, reply id or 0 for the thread)` → up.
    pub votes: BTreeMap<(ThreadId, UserId, u64), bool>,
    /// Readers who paid a thread's paywall.
    pub purchases: BTreeSet<(ThreadId, UserId)>,
    /// The hour (since the epoch) whose views `viewed` holds.
    pub views_hour: i64,
    pub viewed: BTreeSet<(ThreadId, UserId)>,
    pub chat: Chat,
    pub groups: BTreeMap<GroupId, Group>,
    pub groups_index: GroupsIndex,
}

pub(crate) struct Family;

impl CommandFamily for Family {
    fn apply(
        engine: &mut Engine,
        command: &Command,
        _ctx: &Ctx,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        match command {
            Command::CreateCommunity(c) => engine.create_community(c, out),
            Command::JoinCommunity(c) => engine.join_community(c, out),
            Command::LeaveCommunity(c) => engine.leave_community(c, out),
            Command::ManageMember(c) => engine.manage_member(c, out),
            Command::CreateThread(c) => engine.create_thread(c, out),
            Command::ReplyThread(c) => engine.reply_thread(c, out),
            Command::VotePost(c) => engine.vote_post(c, out),
            Command::ModerateThread(c) => engine.moderate_thread(c, out),
            Command::EditPost(c) => engine.edit_post(c, out),
            Command::DeletePost(c) => engine.delete_post(c, out),
            Command::BuyThread(c) => engine.buy_thread(c, out),
            Command::ViewThread(c) => engine.view_thread(c, out),
            Command::SendMessage(c) => engine.send_message(c, out),
            Command::EditMessage(c) => engine.edit_message(c, out),
            Command::DeleteMessage(c) => engine.delete_message(c, out),
            Command::MarkRead(c) => engine.mark_read(c, out),
            Command::BlockUser(c) => engine.block_user(c),
            Command::CreateGroup(c) => engine.create_group(c, out),
            Command::JoinGroup(c) => engine.join_group(c, out),
            Command::LeaveGroup(c) => engine.leave_group(c, out),
            Command::ManageGroupMember(c) => engine.manage_group_member(c, out),
            Command::ContributeGroup(c) => engine.contribute_group(c, out),
            Command::PayoutGroup(c) => engine.payout_group(c, out),
            other => misrouted(other, "social"),
        }
    }

    fn check(engine: &Engine) {
        engine.check_social();
        engine.check_threads();
        engine.check_chat();
        engine.check_groups();
    }
}

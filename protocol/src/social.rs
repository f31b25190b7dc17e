//! The social domain's commands, events, queries and views: communities, their members,
//! roles and moderation (threads, groups, direct messages and chat rooms join it).

use crate::types::{Amount, Currency, Timestamp, UserId};
use crate::{wire_cenum, wire_struct};

/// The longest community name (characters; unique without regard to case), description
/// and category.
pub const COMMUNITY_NAME_MAX: usize = 100;
pub const COMMUNITY_DESCRIPTION_MAX: usize = 2_000;
pub const COMMUNITY_CATEGORY_MAX: usize = 50;
/// The longest moderation reason.
pub const MODERATION_REASON_MAX: usize = 500;
/// Communities in the core, and the ones one user may own.
pub const COMMUNITIES_MAX: usize = 100_000;
pub const COMMUNITIES_OWNED_MAX: u32 = 20;
/// Communities one user may belong to, counting pending requests and invitations.
pub const MEMBERSHIPS_PER_USER_MAX: u32 = 500;
/// Members of one community, and its pending join requests and invitations.
pub const COMMUNITY_MEMBERS_MAX: u32 = 1_000_000;
pub const COMMUNITY_PENDING_MAX: u32 = 10_000;
/// The longest mute or ban: ten years (beyond that, remove the member).
pub const MODERATION_MICROS_MAX: i64 = 10 * 366 * 24 * 3600 * 1_000_000;

/// A community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CommunityId(pub u64);

crate::games::id_codec!(CommunityId);

wire_cenum! {
    /// The spec's community `type`: who may join and how.
    pub enum CommunityType {
        /// Anyone joins at once.
        Public = 0 => "public",
        /// A join is a request an owner or admin approves; an invited user joins at once.
        Private = 1 => "private",
        /// Joining pays `membership_fee` to the owner (less the platform's fee).
        Paid = 2 => "paid",
    }
}

wire_cenum! {
    /// A member's role, lowest first: each may moderate the roles below its own.
    pub enum MemberRole {
        Member = 0 => "member",
        /// Mutes, bans and removes members (and, with threads, locks, pins and removes
        /// their content).
        Moderator = 1 => "moderator",
        /// A moderator who also approves join requests, invites and appoints moderators.
        Admin = 2 => "admin",
        /// The creator: everything, appointing admins too.
        Owner = 3 => "owner",
    }
}

impl MemberRole {
    /// The role's rank, lowest first: a role moderates the ranks below its own.
    pub fn rank(self) -> u8 {
        match self {
            MemberRole::Member => 0,
            MemberRole::Moderator => 1,
            MemberRole::Admin => 2,
            MemberRole::Owner => 3,
        }
    }
}

wire_cenum! {
    pub enum MemberStatus {
        Active = 0 => "active",
        /// Asked to join a private community; an owner or admin decides.
        Pending = 1 => "pending",
        /// Invited by an owner or admin; joins at once when they join.
        Invited = 2 => "invited",
    }
}

wire_cenum! {
    /// What an owner, admin or moderator does to a member (or to a pending request).
    pub enum MemberAction {
        /// Accepts a pending join request (the user becomes a member).
        Approve = 0 => "approve",
        /// Refuses a pending join request, or withdraws an invitation.
        Decline = 1 => "decline",
        /// Invites a user to a private (or paid) community.
        Invite = 2 => "invite",
        /// Gives a member `role` (owner: admin, moderator or member; admin: moderator or
        /// member).
        SetRole = 3 => "set_role",
        /// The member cannot post until `until`.
        Mute = 4 => "mute",
        Unmute = 5 => "unmute",
        /// The member cannot post, read a private community or leave until `until`.
        Ban = 6 => "ban",
        Unban = 7 => "unban",
        /// Removes the member (who may join again; a paid fee is not refunded).
        Remove = 8 => "remove",
    }
}

wire_cenum! {
    pub enum CommunityChange {
        Created = 0 => "created",
        Joined = 1 => "joined",
        /// A join request to a private community.
        Requested = 2 => "requested",
        Left = 3 => "left",
        Approved = 4 => "approved",
        Declined = 5 => "declined",
        Invited = 6 => "invited",
        RoleSet = 7 => "role_set",
        Muted = 8 => "muted",
        Unmuted = 9 => "unmuted",
        Banned = 10 => "banned",
        Unbanned = 11 => "unbanned",
        Removed = 12 => "removed",
        /// A moderator pinned, unpinned, locked, unlocked or removed a post of `user`.
        ThreadPinned = 13 => "thread_pinned",
        ThreadUnpinned = 14 => "thread_unpinned",
        ThreadLocked = 15 => "thread_locked",
        ThreadUnlocked = 16 => "thread_unlocked",
        PostRemoved = 17 => "post_removed",
        /// A thread was opened (the community's activity).
        ThreadCreated = 18 => "thread_created",
        /// A moderator deleted a chat message of `user` in the community's room.
        MessageRemoved = 19 => "message_removed",
    }
}

impl CommunityChange {
    /// Whether an owner, admin or moderator made this change: the community's moderation
    /// log records it.
    pub fn is_moderation(self) -> bool {
        !matches!(
            self,
            CommunityChange::Created
                | CommunityChange::Joined
                | CommunityChange::Requested
                | CommunityChange::Left
                | CommunityChange::ThreadCreated
        )
    }
}

wire_struct! {
    /// Opens a community owned by its creator. A paid community's fee is paid to the
    /// owner's wallet of `currency`, which must exist.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateCommunity {
        pub actor: UserId,
        pub name: String,
        pub description: String,
        pub category: String,
        pub kind: CommunityType,
        pub membership_fee: Amount,
        pub currency: Currency,
    }
}

wire_struct! {
    /// Join or leave: the actor and the community.
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CommunityAction {
        pub actor: UserId,
        pub community: CommunityId,
    }
}

wire_struct! {
    /// An owner's, admin's or moderator's action on `user`'s membership.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ManageMember {
        pub actor: UserId,
        pub community: CommunityId,
        pub user: UserId,
        pub action: MemberAction,
        /// For `SetRole`.
        pub role: MemberRole,
        /// For `Mute` and `Ban`: when it ends.
        pub until: Timestamp,
        pub reason: String,
    }
}

wire_struct! {
    /// A community or one of its memberships changed; `version` is the community's, +1
    /// on every change. A moderation change (`CommunityChange::is_moderation`) is the
    /// moderation log's entry: who (`actor`), what (`change`, `user`, `role`, `until`,
    /// `reason`) and when (the record's time).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CommunityChanged {
        pub community: CommunityId,
        pub actor: UserId,
        pub user: UserId,
        pub change: CommunityChange,
        /// The post a moderator acted on (locked, pinned, removed), if any.
        pub thread: Option<ThreadId>,
        pub reply: Option<ReplyId>,
        pub role: MemberRole,
        pub until: Option<Timestamp>,
        pub reason: String,
        pub version: u64,
    }
}

wire_struct! {
    /// A community as `viewer` sees it (their own membership included).
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CommunityQuery {
        pub community: CommunityId,
        pub viewer: UserId,
    }
}

wire_struct! {
    /// One user's membership (active, pending or invited) of a community.
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CommunityMemberQuery {
        pub community: CommunityId,
        pub user: UserId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MemberView {
        pub community: CommunityId,
        pub user: UserId,
        pub role: MemberRole,
        pub status: MemberStatus,
        /// When they joined (or asked, or were invited).
        pub joined_at: Timestamp,
        pub muted_until: Option<Timestamp>,
        pub banned_until: Option<Timestamp>,
        /// What joining cost them.
        pub fee_paid: Amount,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CommunityView {
        pub id: CommunityId,
        pub name: String,
        pub description: String,
        pub category: String,
        pub kind: CommunityType,
        pub membership_fee: Amount,
        pub currency: Currency,
        pub owner: UserId,
        /// Active members (not pending requests or invitations).
        pub member_count: u32,
        pub pending_count: u32,
        pub created_at: Timestamp,
        /// The last change of the community or its memberships.
        pub last_activity: Timestamp,
        pub version: u64,
        /// The viewer's membership, if any.
        pub viewer: Option<MemberView>,
    }
}

// ---- Threads ---------------------------------------------------------------------------

/// The longest thread title, thread body and reply (characters), and the deepest reply
/// (a reply to the thread is depth 1).
pub const THREAD_TITLE_MAX: usize = 300;
pub const THREAD_CONTENT_MAX: usize = 40_000;
pub const REPLY_CONTENT_MAX: usize = 10_000;
pub const REPLY_DEPTH_MAX: u8 = 8;
/// Threads and replies in the core (their text is in the history store, not the core), and
/// replies in one thread.
pub const THREADS_MAX: usize = 2_000_000;
pub const REPLIES_MAX: usize = 20_000_000;
pub const REPLIES_PER_THREAD_MAX: u32 = 10_000;
/// Votes kept (one per user and post).
pub const VOTES_MAX: usize = 50_000_000;
/// Distinct (thread, reader) views counted per hour; past it, views are not counted until
/// the next hour.
pub const VIEWS_PER_HOUR_MAX: usize = 1_000_000;

/// A thread of a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ThreadId(pub u64);

/// A reply in a thread (to the thread, or to another reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplyId(pub u64);

crate::games::id_codec!(ThreadId, ReplyId);

wire_cenum! {
    /// The spec's `thread_type`.
    pub enum ThreadType {
        Discussion = 0 => "discussion",
        Question = 1 => "question",
        Analysis = 2 => "analysis",
        /// Moderators and up only.
        Announcement = 3 => "announcement",
    }
}

wire_cenum! {
    /// How a post's text is written: shown as it is, or Markdown rendered to sanitised
    /// HTML (no raw HTML, no script or data links).
    pub enum ContentFormat {
        Text = 0 => "text",
        Markdown = 1 => "markdown",
    }
}

wire_cenum! {
    pub enum VoteDirection {
        Clear = 0 => "clear",
        Up = 1 => "up",
        Down = 2 => "down",
    }
}

wire_cenum! {
    /// What a moderator does to a thread.
    pub enum ThreadAction {
        Pin = 0 => "pin",
        Unpin = 1 => "unpin",
        /// No more replies.
        Lock = 2 => "lock",
        Unlock = 3 => "unlock",
    }
}

wire_cenum! {
    pub enum PostChange {
        Created = 0 => "created",
        Edited = 1 => "edited",
        Deleted = 2 => "deleted",
        Voted = 3 => "voted",
        Pinned = 4 => "pinned",
        Unpinned = 5 => "unpinned",
        Locked = 6 => "locked",
        Unlocked = 7 => "unlocked",
        Viewed = 8 => "viewed",
        /// A reader paid the paywall.
        Purchased = 9 => "purchased",
        /// A reply was posted under the thread (its `reply_count` changed).
        Replied = 10 => "replied",
    }
}

wire_struct! {
    /// A post's text: the history store keeps it (the core keeps none).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PostText {
        /// A thread's title (empty for a reply).
        pub title: String,
        pub content: String,
        pub format: ContentFormat,
    }
}

wire_struct! {
    /// Opens a thread in a community the author belongs to. A paywalled thread's title
    /// and preview are public; its content shows to a reader who paid `paywall_amount`
    /// (to the author, less the platform fee) in the community's currency.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateThread {
        pub actor: UserId,
        pub community: CommunityId,
        pub thread_type: ThreadType,
        pub text: PostText,
        /// 0 for none.
        pub paywall_amount: Amount,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ReplyThread {
        pub actor: UserId,
        pub thread: ThreadId,
        /// The reply this answers; none for the thread itself.
        pub parent: Option<ReplyId>,
        pub text: PostText,
    }
}

wire_struct! {
    /// A vote on the thread (`reply` none) or one of its replies: one per user and post,
    /// changeable, `Clear` withdraws it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct VotePost {
        pub actor: UserId,
        pub thread: ThreadId,
        pub reply: Option<ReplyId>,
        pub vote: VoteDirection,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ModerateThread {
        pub actor: UserId,
        pub thread: ThreadId,
        pub action: ThreadAction,
        pub reason: String,
    }
}

wire_struct! {
    /// The author's edit of the thread (`reply` none; an empty title keeps it) or a reply.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct EditPost {
        pub actor: UserId,
        pub thread: ThreadId,
        pub reply: Option<ReplyId>,
        pub text: PostText,
    }
}

wire_struct! {
    /// Soft-deletes a post: by its author, or by a moderator (recorded in the log).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DeletePost {
        pub actor: UserId,
        pub thread: ThreadId,
        pub reply: Option<ReplyId>,
        pub reason: String,
    }
}

wire_struct! {
    /// Pay a thread's paywall, or count a view: the actor and the thread.
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ThreadReader {
        pub actor: UserId,
        pub thread: ThreadId,
    }
}

wire_struct! {
    /// A post changed; `text` is its new text when created or edited (the history store
    /// keeps it). `version` is the thread's, +1 on every change of it or its replies.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PostChanged {
        pub community: CommunityId,
        pub thread: ThreadId,
        pub reply: Option<ReplyId>,
        pub actor: UserId,
        pub change: PostChange,
        pub text: Option<PostText>,
        pub version: u64,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ThreadQuery {
        pub thread: ThreadId,
        pub viewer: UserId,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ReplyQuery {
        pub reply: ReplyId,
        pub viewer: UserId,
    }
}

wire_struct! {
    /// A thread's state without its text (which the history store keeps), and what the
    /// viewer may do with it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ThreadView {
        pub id: ThreadId,
        pub community: CommunityId,
        pub community_kind: CommunityType,
        pub author: UserId,
        pub thread_type: ThreadType,
        pub is_pinned: bool,
        pub is_locked: bool,
        pub is_deleted: bool,
        pub paywall_amount: Amount,
        pub currency: Currency,
        pub upvotes: u32,
        pub downvotes: u32,
        pub reply_count: u32,
        pub view_count: u64,
        pub purchases: u32,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
        pub last_reply_at: Option<Timestamp>,
        pub version: u64,
        /// The viewer's active, unbanned role in the community.
        pub viewer_role: Option<MemberRole>,
        /// Whether the viewer may read the community (public, or a member, or an admin).
        pub viewer_may_read: bool,
        /// Whether the viewer may read the content (no paywall, the author, a buyer, a
        /// moderator of the community, or a platform admin).
        pub viewer_has_access: bool,
        /// The viewer's vote on the thread, and on each of its replies they voted on.
        pub viewer_vote: VoteDirection,
        pub viewer_reply_votes: Vec<(ReplyId, VoteDirection)>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ReplyView {
        pub id: ReplyId,
        pub thread: ThreadId,
        pub parent: Option<ReplyId>,
        /// The top-level reply this one descends from (itself for a top-level reply).
        pub root: ReplyId,
        pub depth: u8,
        pub author: UserId,
        pub upvotes: u32,
        pub downvotes: u32,
        pub is_deleted: bool,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

// ---- Direct messages and chat rooms ------------------------------------------------------

/// The longest chat or direct message (characters), and an image message's URL.
pub const CHAT_MESSAGE_MAX: usize = 4_000;
pub const IMAGE_URL_MAX: usize = 2_048;
/// The messages of a community's room, and of a conversation, that may still be edited or
/// deleted: its last ones. The core keeps who sent each of them (and nothing of older ones:
/// their text is in the history store).
pub const ROOM_RECENT_MAX: usize = 100;
pub const DIRECT_RECENT_MAX: usize = 20;
/// Conversations in the core, and the ones one user may open (a conversation someone else
/// opened with them does not count against theirs).
pub const CONVERSATIONS_MAX: usize = 1_000_000;
pub const CONVERSATIONS_OPENED_PER_USER_MAX: u32 = 2_000;
/// Users one user may block.
pub const BLOCKS_PER_USER_MAX: u32 = 1_000;

/// A direct-message conversation between two users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ConversationId(pub u64);

/// A message of a chat room or a conversation (one sequence for the platform, so ids
/// order a room's messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MessageId(pub u64);

crate::games::id_codec!(ConversationId, MessageId);

wire_cenum! {
    /// What a chat room belongs to.
    pub enum RoomKind {
        /// A community's room: its active, unbanned members.
        Community = 0 => "community",
        /// A direct-message conversation: its two users.
        Direct = 1 => "direct",
        /// A group's room: its members (not those only invited).
        Group = 2 => "group",
    }
}

wire_struct! {
    /// A chat room: a community's (`id` its community id), a conversation's or a group's.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct RoomRef {
        pub kind: RoomKind,
        pub id: u64,
    }
}

impl RoomRef {
    pub fn community(id: CommunityId) -> RoomRef {
        RoomRef {
            kind: RoomKind::Community,
            id: id.0,
        }
    }

    pub fn direct(id: ConversationId) -> RoomRef {
        RoomRef {
            kind: RoomKind::Direct,
            id: id.0,
        }
    }

    pub fn group(id: GroupId) -> RoomRef {
        RoomRef {
            kind: RoomKind::Group,
            id: id.0,
        }
    }
}

wire_cenum! {
    /// The spec's `message_type`.
    pub enum MessageType {
        Text = 0 => "text",
        /// `content` is an `https://` URL of the image (we store no media).
        Image = 1 => "image",
        /// A market (and optionally one of its outcomes) the clients render as a slip;
        /// `content` is an optional caption.
        BetSlip = 2 => "bet_slip",
    }
}

wire_cenum! {
    pub enum MessageChange {
        Posted = 0 => "posted",
        Edited = 1 => "edited",
        /// Deleted by its sender or a moderator: its content is gone.
        Deleted = 2 => "deleted",
    }
}

wire_struct! {
    /// What a bet-slip message refers to.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct BetSlip {
        pub market: crate::types::MarketId,
        pub outcome: Option<crate::types::OutcomeId>,
    }
}

wire_struct! {
    /// A message to a room. A direct message names `recipient` with `room` a `Direct`
    /// room of id 0: the core finds the two users' conversation, or opens it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SendMessage {
        pub actor: UserId,
        pub room: RoomRef,
        pub recipient: Option<UserId>,
        pub message_type: MessageType,
        pub content: String,
        pub bet_slip: Option<BetSlip>,
    }
}

wire_struct! {
    /// The sender's edit of one of a room's recent messages (a text one stays text).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct EditMessage {
        pub actor: UserId,
        pub room: RoomRef,
        pub message: MessageId,
        pub content: String,
    }
}

wire_struct! {
    /// Delete one of a room's recent messages (its sender, or a community moderator who
    /// outranks the sender), or mark a room read up to a message.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct MessageAction {
        pub actor: UserId,
        pub room: RoomRef,
        pub message: MessageId,
    }
}

wire_struct! {
    /// `actor` blocks (or unblocks) `user`: no direct messages either way while blocked.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct BlockUser {
        pub actor: UserId,
        pub user: UserId,
        pub blocked: bool,
    }
}

wire_struct! {
    /// What a command did to a room's message: its id and the room's sequence number.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct MessageReply {
        pub room: RoomRef,
        pub message: MessageId,
        pub seq: u64,
        /// When the message was first posted.
        pub posted_at: Timestamp,
    }
}

wire_struct! {
    /// A room's message was posted, edited or deleted. `seq` is the room's, +1 on each of
    /// these, so a client sees a gap. `content` is the new text (empty once deleted);
    /// `actor` who made the change (the sender, or the moderator who deleted it).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ChatMessage {
        pub room: RoomRef,
        pub message: MessageId,
        pub seq: u64,
        pub sender: UserId,
        /// A direct message's recipient.
        pub recipient: Option<UserId>,
        pub actor: UserId,
        pub change: MessageChange,
        pub message_type: MessageType,
        pub content: String,
        pub bet_slip: Option<BetSlip>,
        /// Whether it was edited (before this change, for a delete).
        pub edited: bool,
        /// When it was first posted, and when this change was made.
        pub posted_at: Timestamp,
        pub changed_at: Timestamp,
    }
}

wire_struct! {
    /// `user` has read the room up to `message`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ChatRead {
        pub room: RoomRef,
        pub user: UserId,
        pub message: MessageId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RoomQuery {
        pub room: RoomRef,
        pub viewer: UserId,
    }
}

wire_struct! {
    /// A room as `viewer` may use it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RoomView {
        pub room: RoomRef,
        /// The room's sequence number: its last message's, edit's or delete's.
        pub seq: u64,
        pub last_message: Option<MessageId>,
        /// A conversation's two users (none for a community's room).
        pub participants: Vec<UserId>,
        /// Whether the viewer may read the room (a participant, an active unbanned member).
        pub viewer_may_read: bool,
        /// Until when the viewer may not post (a mute in the community).
        pub viewer_muted_until: Option<Timestamp>,
        /// The viewer's role in the community's room.
        pub viewer_role: Option<MemberRole>,
        /// A conversation whose users blocked one another (either way).
        pub viewer_blocked: bool,
    }
}

wire_struct! {
    /// The users one user blocked, in id order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BlockList {
        pub users: Vec<UserId>,
    }
}

// ---- Groups and their wallets ------------------------------------------------------------

/// The longest group name (characters; unique without regard to case, like communities').
pub const GROUP_NAME_MAX: usize = 100;
/// Groups in the core, the ones one user may own, and the ones one user may belong to.
pub const GROUPS_MAX: usize = 200_000;
pub const GROUPS_OWNED_MAX: u32 = 20;
pub const GROUPS_PER_USER_MAX: u32 = 200;
/// The most members a group may allow (its `max_members`, at least 2), and its pending
/// invitations (which count against no one's groups until accepted).
pub const GROUP_MEMBERS_MAX: u32 = 1_000;
pub const GROUP_INVITES_MAX: u32 = 100;

/// A group: its members and its wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct GroupId(pub u64);

crate::games::id_codec!(GroupId);

wire_cenum! {
    /// The spec's group `type`: who may join.
    pub enum GroupType {
        /// Anyone joins while there is room.
        Public = 0 => "public",
        /// Only users an owner or admin invited.
        Private = 1 => "private",
    }
}

wire_cenum! {
    /// Who may pay out of the group's wallet.
    pub enum PayoutPolicy {
        Owner = 0 => "owner",
        /// The owner and the group's admins.
        Admins = 1 => "admins",
    }
}

wire_cenum! {
    pub enum GroupRole {
        Member = 0 => "member",
        /// Invites and removes members (and pays out, when the policy says admins).
        Admin = 1 => "admin",
        Owner = 2 => "owner",
    }
}

impl GroupRole {
    pub fn rank(self) -> u8 {
        match self {
            GroupRole::Member => 0,
            GroupRole::Admin => 1,
            GroupRole::Owner => 2,
        }
    }
}

wire_cenum! {
    pub enum GroupMemberAction {
        /// Invites a user (a private group's only way in).
        Invite = 0 => "invite",
        /// Withdraws an invitation, or removes a member (their contributions stay).
        Remove = 1 => "remove",
        /// The owner makes a member an admin, or an admin a member.
        SetRole = 2 => "set_role",
    }
}

wire_cenum! {
    pub enum GroupChange {
        Created = 0 => "created",
        Joined = 1 => "joined",
        Left = 2 => "left",
        Invited = 3 => "invited",
        Removed = 4 => "removed",
        RoleSet = 5 => "role_set",
        /// A member paid `amount` into the wallet.
        Contributed = 6 => "contributed",
        /// `amount` went out of the wallet to the member `user`.
        PaidOut = 7 => "paid_out",
    }
}

wire_struct! {
    /// Opens a group owned by its creator, with a wallet of `currency`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateGroup {
        pub actor: UserId,
        pub name: String,
        pub kind: GroupType,
        pub max_members: u32,
        pub currency: Currency,
        pub payout_policy: PayoutPolicy,
    }
}

wire_struct! {
    /// Join or leave: the actor and the group.
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct GroupAction {
        pub actor: UserId,
        pub group: GroupId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ManageGroupMember {
        pub actor: UserId,
        pub group: GroupId,
        pub user: UserId,
        pub action: GroupMemberAction,
        /// For `SetRole`: `Admin` or `Member`.
        pub role: GroupRole,
    }
}

wire_struct! {
    /// Money into the group's wallet from the actor's (a contribution, `user` the actor),
    /// or out of it to the member `user`'s wallet (a payout).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct GroupMoney {
        pub actor: UserId,
        pub group: GroupId,
        pub user: UserId,
        pub amount: Amount,
    }
}

wire_struct! {
    /// A group or one of its memberships changed, or money moved through its wallet;
    /// `version` is the group's, +1 on each change.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupChanged {
        pub group: GroupId,
        pub actor: UserId,
        pub user: UserId,
        pub change: GroupChange,
        pub amount: Amount,
        pub version: u64,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct GroupQuery {
        pub group: GroupId,
        pub viewer: UserId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupMemberView {
        pub user: UserId,
        pub role: GroupRole,
        /// Invited and not joined yet.
        pub invited: bool,
        pub joined_at: Timestamp,
        /// What they paid in, and what was paid out to them.
        pub contributed: Amount,
        pub received: Amount,
    }
}

wire_struct! {
    /// A group as the viewer may see it: a private group is visible to its members and
    /// invitees only, the wallet (`balance`, `members`' money) to its members only — the
    /// gateway leaves out what the viewer may not see.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupView {
        pub id: GroupId,
        pub name: String,
        pub kind: GroupType,
        pub max_members: u32,
        pub currency: Currency,
        pub owner: UserId,
        pub payout_policy: PayoutPolicy,
        pub member_count: u32,
        pub wallet: crate::types::AccountId,
        pub balance: Amount,
        pub created_at: Timestamp,
        pub version: u64,
        /// The viewer's membership: role, and whether only invited.
        pub viewer_role: Option<GroupRole>,
        pub viewer_invited: bool,
        /// Members and invitees, in user id order.
        pub members: Vec<GroupMemberView>,
    }
}

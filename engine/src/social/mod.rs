//! Social: communities, their members, roles and moderation.
//!
//! - `communities`: creating a community, joining it (public at once, private through a
//!   request an owner or admin approves or an invitation, paid through the ledger: the
//!   fee to the owner less the platform's fee), leaving, and what owners, admins and
//!   moderators do to memberships (roles, mutes and bans until a time, removal), each
//!   change a `CommunityChanged` event that is also the moderation log's entry;
//! - `query`: the views.
//!
//! The core keeps every community and membership (they decide every command); lists,
//! paging over members and the moderation log are read from the history store.

mod communities;
mod query;

use crate::family::{CommandFamily, misrouted};
use crate::{Ctx, Engine};
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::message::Reply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::{CommunityId, CommunityType, MemberRole, MemberStatus};
use betbet_protocol::types::{AccountId, Currency, Timestamp, UserId};
use std::collections::BTreeMap;

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
            other => misrouted(other, "social"),
        }
    }

    fn check(engine: &Engine) {
        engine.check_social();
    }
}

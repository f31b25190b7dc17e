//! Communities: creation, joining (public, private, paid), leaving, and what owners,
//! admins and moderators do to memberships.

use super::{Community, Member};
use crate::Engine;
use crate::ledger::Owner;
use crate::wallet::{MONEY_MOVE_MAX, Reference};
use betbet_protocol::event::{Event, LedgerReason, TxStatus, TxType};
use betbet_protocol::message::{Created, Reply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::{
    COMMUNITIES_MAX, COMMUNITIES_OWNED_MAX, COMMUNITY_CATEGORY_MAX, COMMUNITY_DESCRIPTION_MAX,
    COMMUNITY_MEMBERS_MAX, COMMUNITY_NAME_MAX, COMMUNITY_PENDING_MAX, CommunityAction,
    CommunityChange, CommunityChanged, CommunityId, CommunityType, CreateCommunity,
    MEMBERSHIPS_PER_USER_MAX, MODERATION_MICROS_MAX, MODERATION_REASON_MAX, ManageMember,
    MemberAction, MemberRole, MemberStatus, ReplyId, ThreadId,
};
use betbet_protocol::types::{AccountId, Timestamp, UserId};

/// A name as it is kept unique: trimmed and folded to lower case.
pub(crate) fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// What a change does to the membership (or post) it names, for the event.
pub(super) struct Change {
    pub change: CommunityChange,
    pub user: UserId,
    pub role: MemberRole,
    pub until: Option<Timestamp>,
    pub reason: String,
    pub post: (Option<ThreadId>, Option<ReplyId>),
}

impl Change {
    /// A change of `user`'s membership.
    pub(super) fn of(change: CommunityChange, user: UserId, role: MemberRole) -> Change {
        Change {
            change,
            user,
            role,
            until: None,
            reason: String::new(),
            post: (None, None),
        }
    }
}

impl Engine {
    pub(crate) fn create_community(
        &mut self,
        c: &CreateCommunity,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        crate::text::line(&c.name, COMMUNITY_NAME_MAX)?;
        crate::text::body(&c.description, COMMUNITY_DESCRIPTION_MAX)?;
        // Checked as kept (lower case can be longer than the text given).
        let category = c.category.trim().to_lowercase();
        crate::text::optional_line(&category, COMMUNITY_CATEGORY_MAX)?;
        let fee_fits = match c.kind {
            CommunityType::Paid => (1..=MONEY_MOVE_MAX).contains(&c.membership_fee.0),
            CommunityType::Public | CommunityType::Private => c.membership_fee.0 == 0,
        };
        if !fee_fits {
            return Err(ResultCode::InvalidCommunity);
        }
        if !self.currency_supported(c.currency) {
            return Err(ResultCode::UnsupportedCurrency);
        }
        let owner = self.users.get(c.actor).ok_or(ResultCode::UserNotFound)?;
        if owner.status != betbet_protocol::command::UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        // The fees go to the owner's wallet of the community's currency.
        let owner_wallet = owner.wallet(c.currency);
        if c.kind == CommunityType::Paid && owner_wallet.is_none() {
            return Err(ResultCode::UnknownAccount);
        }
        let key = name_key(&c.name);
        let social = &mut self.social;
        if social.names.contains_key(&key) {
            return Err(ResultCode::CommunityNameTaken);
        }
        let owned = social.owned.get(&c.actor).copied().unwrap_or(0);
        let memberships = social.memberships.get(&c.actor).copied().unwrap_or(0);
        if social.communities.len() >= COMMUNITIES_MAX
            || owned >= COMMUNITIES_OWNED_MAX
            || memberships >= MEMBERSHIPS_PER_USER_MAX
        {
            return Err(ResultCode::TooManyCommunities);
        }
        social.next_community += 1;
        let id = CommunityId(social.next_community);
        let now = self.now;
        let mut community = Community {
            id,
            name: c.name.trim().to_owned(),
            description: c.description.clone(),
            category,
            kind: c.kind,
            membership_fee: c.membership_fee.0,
            currency: c.currency,
            owner: c.actor,
            owner_wallet,
            members: Default::default(),
            member_count: 1,
            pending_count: 0,
            created_at: now,
            last_activity: now,
            version: 0,
        };
        community
            .members
            .insert(c.actor, active(MemberRole::Owner, now));
        social.communities.insert(id, community);
        social.names.insert(key, id);
        *social.owned.entry(c.actor).or_default() += 1;
        *social.memberships.entry(c.actor).or_default() += 1;
        let change = Change::of(CommunityChange::Created, c.actor, MemberRole::Owner);
        self.community_changed(id, c.actor, change, out);
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(super) fn community(&self, id: CommunityId) -> Result<&Community, ResultCode> {
        self.social
            .communities
            .get(&id)
            .ok_or(ResultCode::CommunityNotFound)
    }

    pub(super) fn community_mut(&mut self, id: CommunityId) -> &mut Community {
        self.social
            .communities
            .get_mut(&id)
            .expect("the community was looked up before")
    }

    /// Joins at once (public; invited; paid, paying the fee) or asks to (private).
    pub(crate) fn join_community(
        &mut self,
        c: &CommunityAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let community = self.community(c.community)?;
        let (kind, fee, currency, owner_wallet) = (
            community.kind,
            community.membership_fee,
            community.currency,
            community.owner_wallet,
        );
        let existing = community.members.get(&c.actor);
        let invited = match existing {
            Some(m) if m.status == MemberStatus::Active => {
                return Err(if m.banned(self.now) {
                    ResultCode::MemberBanned
                } else {
                    ResultCode::AlreadyMember
                });
            }
            // Asking again changes nothing.
            Some(m) if m.status == MemberStatus::Pending => return Ok(crate::done()),
            Some(_) => true,
            None => false,
        };
        let joiner = self.users.get(c.actor).ok_or(ResultCode::UserNotFound)?;
        if joiner.status != betbet_protocol::command::UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        if community.member_count >= COMMUNITY_MEMBERS_MAX {
            return Err(ResultCode::CommunityFull);
        }
        if !invited {
            let memberships = self.social.memberships.get(&c.actor).copied().unwrap_or(0);
            if memberships >= MEMBERSHIPS_PER_USER_MAX {
                return Err(ResultCode::TooManyCommunities);
            }
        }
        if kind == CommunityType::Private && !invited {
            if community.pending_count >= COMMUNITY_PENDING_MAX {
                return Err(ResultCode::CommunityFull);
            }
            let now = self.now;
            let community = self.community_mut(c.community);
            community
                .members
                .insert(c.actor, pending(MemberStatus::Pending, now));
            community.pending_count += 1;
            *self.social.memberships.entry(c.actor).or_default() += 1;
            let change = Change::of(CommunityChange::Requested, c.actor, MemberRole::Member);
            self.community_changed(c.community, c.actor, change, out);
            return Ok(crate::done());
        }
        let mut fee_paid = 0;
        if kind == CommunityType::Paid {
            let wallet = self.entry_wallet(c.actor, currency, fee)?;
            let owner_wallet = owner_wallet.expect("a paid community has the owner's wallet");
            let owner = self.community(c.community)?.owner;
            let why = (
                Reference::Community(c.community.0),
                LedgerReason::CommunityFee,
            );
            self.pay_creator(why, (c.actor, wallet), (owner, owner_wallet), fee, out);
            fee_paid = fee;
        }
        let now = self.now;
        let community = self.community_mut(c.community);
        if invited {
            community.pending_count -= 1;
        }
        community.members.insert(
            c.actor,
            Member {
                fee_paid,
                ..active(MemberRole::Member, now)
            },
        );
        community.member_count += 1;
        if !invited {
            *self.social.memberships.entry(c.actor).or_default() += 1;
        }
        let change = Change::of(CommunityChange::Joined, c.actor, MemberRole::Member);
        self.community_changed(c.community, c.actor, change, out);
        Ok(crate::done())
    }

    /// `amount` from a payer's wallet to a payee's, less the platform's fee (to the
    /// platform), recorded in both wallets' histories under `reference`.
    pub(super) fn pay_creator(
        &mut self,
        (reference, reason): (Reference, LedgerReason),
        (payer, wallet): (UserId, AccountId),
        (payee, payee_wallet): (UserId, AccountId),
        amount: i64,
        out: &mut Vec<Event>,
    ) {
        let currency = self.ledger.get(wallet).currency;
        let bp = i128::from(self.config.platform_fee_bp);
        let platform = (i128::from(amount) * bp / 10_000) as i64;
        let to_payee = amount - platform;
        let reference_id = match reference {
            Reference::Community(id) | Reference::Thread(id) => id,
            _ => 0,
        };
        let ledger = &mut self.ledger;
        ledger.transfer(
            wallet,
            payee_wallet,
            to_payee,
            false,
            reason,
            reference_id,
            out,
        );
        if platform > 0 {
            let fees = self.system_account(Owner::Fees, currency);
            let why = LedgerReason::PlatformFee;
            self.ledger
                .transfer(wallet, fees, platform, false, why, reference_id, out);
        }
        let status = TxStatus::Completed;
        self.record_tx(
            payer,
            wallet,
            TxType::Fee,
            status,
            amount,
            0,
            false,
            reference,
            out,
        );
        if to_payee > 0 {
            let tx = TxType::Payout;
            self.record_tx(
                payee,
                payee_wallet,
                tx,
                status,
                to_payee,
                0,
                true,
                reference,
                out,
            );
        }
    }

    pub(crate) fn leave_community(
        &mut self,
        c: &CommunityAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let community = self.community(c.community)?;
        let member = community
            .members
            .get(&c.actor)
            .ok_or(ResultCode::NotMember)?;
        if member.role == MemberRole::Owner {
            return Err(ResultCode::OwnerCannotLeave);
        }
        if member.banned(self.now) {
            return Err(ResultCode::MemberBanned);
        }
        // Withdrawing a request, or refusing an invitation, is leaving too.
        self.remove_membership(c.community, c.actor);
        let change = Change::of(CommunityChange::Left, c.actor, MemberRole::Member);
        self.community_changed(c.community, c.actor, change, out);
        Ok(crate::done())
    }

    fn remove_membership(&mut self, id: CommunityId, user: UserId) {
        let community = self.community_mut(id);
        let member = community
            .members
            .remove(&user)
            .expect("the membership was looked up before");
        match member.status {
            MemberStatus::Active => community.member_count -= 1,
            MemberStatus::Pending | MemberStatus::Invited => community.pending_count -= 1,
        }
        let count = self
            .social
            .memberships
            .get_mut(&user)
            .expect("a member counts the membership");
        *count -= 1;
        if *count == 0 {
            self.social.memberships.remove(&user);
        }
    }

    /// An owner's, admin's or moderator's action on a membership. Each may act on the
    /// roles below its own; approving, declining, inviting and appointing take an admin.
    pub(crate) fn manage_member(
        &mut self,
        c: &ManageMember,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        crate::text::body(&c.reason, MODERATION_REASON_MAX)?;
        let now = self.now;
        let community = self.community(c.community)?;
        let platform_admin = self.is_admin(c.actor);
        // A platform admin acts as the community's owner.
        let actor_role = match community.members.get(&c.actor) {
            _ if platform_admin => MemberRole::Owner,
            Some(m) if m.status == MemberStatus::Active && !m.banned(now) => m.role,
            _ => return Err(ResultCode::NotCommunityModerator),
        };
        let needed = match c.action {
            MemberAction::Mute
            | MemberAction::Unmute
            | MemberAction::Ban
            | MemberAction::Unban
            | MemberAction::Remove => MemberRole::Moderator,
            MemberAction::Approve
            | MemberAction::Decline
            | MemberAction::Invite
            | MemberAction::SetRole => MemberRole::Admin,
        };
        if actor_role.rank() < needed.rank() {
            return Err(ResultCode::NotCommunityModerator);
        }
        if c.user == c.actor && !platform_admin {
            return Err(ResultCode::InvalidModeration);
        }
        let subject = community.members.get(&c.user);
        let kind = community.kind;
        let (member_count, pending_count) = (community.member_count, community.pending_count);
        let mut change = Change {
            reason: c.reason.clone(),
            ..Change::of(CommunityChange::Approved, c.user, MemberRole::Member)
        };
        match c.action {
            MemberAction::Invite => {
                if subject.is_some_and(|m| m.status == MemberStatus::Active) {
                    return Err(ResultCode::AlreadyMember);
                }
                if kind == CommunityType::Public {
                    return Err(ResultCode::InvalidModeration);
                }
                let invitee = self.users.get(c.user).ok_or(ResultCode::UserNotFound)?;
                if invitee.status != betbet_protocol::command::UserStatus::Active {
                    return Err(ResultCode::AccountSuspended);
                }
                match subject.map(|m| m.status) {
                    // A pending request is approved instead.
                    Some(MemberStatus::Pending) => return Err(ResultCode::InvalidModeration),
                    Some(_) => return Ok(crate::done()),
                    None => {}
                }
                let memberships = self.social.memberships.get(&c.user).copied().unwrap_or(0);
                if memberships >= MEMBERSHIPS_PER_USER_MAX {
                    return Err(ResultCode::TooManyCommunities);
                }
                if pending_count >= COMMUNITY_PENDING_MAX {
                    return Err(ResultCode::CommunityFull);
                }
                let community = self.community_mut(c.community);
                community
                    .members
                    .insert(c.user, pending(MemberStatus::Invited, now));
                community.pending_count += 1;
                *self.social.memberships.entry(c.user).or_default() += 1;
                change.change = CommunityChange::Invited;
            }
            MemberAction::Approve | MemberAction::Decline => {
                let pending_status = subject.map(|m| m.status);
                let fits = match c.action {
                    MemberAction::Approve => pending_status == Some(MemberStatus::Pending),
                    _ => matches!(
                        pending_status,
                        Some(MemberStatus::Pending | MemberStatus::Invited)
                    ),
                };
                if !fits {
                    return Err(ResultCode::NoJoinRequest);
                }
                if c.action == MemberAction::Decline {
                    self.remove_membership(c.community, c.user);
                    change.change = CommunityChange::Declined;
                } else {
                    if member_count >= COMMUNITY_MEMBERS_MAX {
                        return Err(ResultCode::CommunityFull);
                    }
                    let community = self.community_mut(c.community);
                    community.pending_count -= 1;
                    community.member_count += 1;
                    community
                        .members
                        .insert(c.user, active(MemberRole::Member, now));
                }
            }
            MemberAction::SetRole
            | MemberAction::Mute
            | MemberAction::Unmute
            | MemberAction::Ban
            | MemberAction::Unban
            | MemberAction::Remove => {
                let subject = subject
                    .filter(|m| m.status == MemberStatus::Active)
                    .ok_or(ResultCode::NotMember)?;
                if subject.role == MemberRole::Owner {
                    return Err(ResultCode::OwnerCannotLeave);
                }
                // Each role acts on the roles below its own.
                if subject.role.rank() >= actor_role.rank() {
                    return Err(ResultCode::NotCommunityModerator);
                }
                change.role = subject.role;
                // Lifting what is not in force changes nothing (and logs nothing).
                let idle = match c.action {
                    MemberAction::Unmute => !subject.muted(now),
                    MemberAction::Unban => !subject.banned(now),
                    _ => false,
                };
                if idle {
                    return Ok(crate::done());
                }
                let until_fits = c.until > now && c.until.0 - now.0 <= MODERATION_MICROS_MAX;
                match c.action {
                    MemberAction::SetRole => {
                        if c.role == MemberRole::Owner || c.role.rank() >= actor_role.rank() {
                            return Err(ResultCode::InvalidModeration);
                        }
                        change.change = CommunityChange::RoleSet;
                        change.role = c.role;
                        self.member_mut(c.community, c.user).role = c.role;
                    }
                    MemberAction::Mute | MemberAction::Ban if !until_fits => {
                        return Err(ResultCode::InvalidModeration);
                    }
                    MemberAction::Mute => {
                        change.change = CommunityChange::Muted;
                        change.until = Some(c.until);
                        self.member_mut(c.community, c.user).muted_until = Some(c.until);
                    }
                    MemberAction::Ban => {
                        change.change = CommunityChange::Banned;
                        change.until = Some(c.until);
                        self.member_mut(c.community, c.user).banned_until = Some(c.until);
                    }
                    MemberAction::Unmute => {
                        change.change = CommunityChange::Unmuted;
                        self.member_mut(c.community, c.user).muted_until = None;
                    }
                    MemberAction::Unban => {
                        change.change = CommunityChange::Unbanned;
                        self.member_mut(c.community, c.user).banned_until = None;
                    }
                    _ => {
                        change.change = CommunityChange::Removed;
                        self.remove_membership(c.community, c.user);
                    }
                }
            }
        }
        self.community_changed(c.community, c.actor, change, out);
        Ok(crate::done())
    }

    fn member_mut(&mut self, id: CommunityId, user: UserId) -> &mut Member {
        self.community_mut(id)
            .members
            .get_mut(&user)
            .expect("the member was looked up before")
    }

    pub(super) fn community_changed(
        &mut self,
        id: CommunityId,
        actor: UserId,
        change: Change,
        out: &mut Vec<Event>,
    ) {
        let now = self.now;
        let community = self.community_mut(id);
        community.version += 1;
        community.last_activity = now;
        out.push(Event::CommunityChanged(CommunityChanged {
            community: id,
            actor,
            user: change.user,
            change: change.change,
            role: change.role,
            until: change.until,
            reason: change.reason,
            thread: change.post.0,
            reply: change.post.1,
            version: community.version,
        }));
    }

    /// Every community's counts match its memberships, every name and per-user count
    /// matches the communities, and each has exactly one owner.
    pub(crate) fn check_social(&self) {
        let social = &self.social;
        let mut memberships = std::collections::BTreeMap::<UserId, u32>::new();
        let mut owned = std::collections::BTreeMap::<UserId, u32>::new();
        for (id, community) in &social.communities {
            assert_eq!(social.names.get(&name_key(&community.name)), Some(id));
            let active = community
                .members
                .values()
                .filter(|m| m.status == MemberStatus::Active)
                .count();
            assert_eq!(active as u32, community.member_count, "{id:?} member count");
            assert_eq!(
                (community.members.len() - active) as u32,
                community.pending_count,
                "{id:?} pending count"
            );
            let owners: Vec<_> = community
                .members
                .iter()
                .filter(|(_, m)| m.role == MemberRole::Owner)
                .collect();
            assert_eq!(owners.len(), 1, "{id:?} has one owner");
            assert_eq!(*owners[0].0, community.owner);
            for (user, member) in &community.members {
                *memberships.entry(*user).or_default() += 1;
                assert!(member.status == MemberStatus::Active || member.role == MemberRole::Member);
            }
            *owned.entry(community.owner).or_default() += 1;
        }
        assert_eq!(social.names.len(), social.communities.len());
        assert_eq!(memberships, social.memberships);
        assert_eq!(owned, social.owned);
    }
}

fn active(role: MemberRole, now: Timestamp) -> Member {
    Member {
        role,
        status: MemberStatus::Active,
        joined_at: now,
        muted_until: None,
        banned_until: None,
        fee_paid: 0,
    }
}

fn pending(status: MemberStatus, now: Timestamp) -> Member {
    Member {
        status,
        ..active(MemberRole::Member, now)
    }
}

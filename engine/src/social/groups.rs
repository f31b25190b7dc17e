//! Groups and their wallets: a group is its members (owner > admin > member) and a ledger
//! account of its own. Members contribute from their wallets; the owner (or the admins too,
//! as the group's payout policy says) pays out to members. Every movement is one ledger
//! transfer with a transaction on the member's side and a `GroupChanged` event that is the
//! group wallet's history.

use super::communities::name_key;
use super::{Group, GroupMember};
use crate::Engine;
use crate::ledger::Owner;
use crate::wallet::{Reference, check_amount};
use betbet_protocol::command::UserStatus;
use betbet_protocol::event::{Event, LedgerReason, TxStatus, TxType};
use betbet_protocol::message::{Created, Empty, Reply};
use betbet_protocol::query::QueryReply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::{
    CreateGroup, GROUP_INVITES_MAX, GROUP_MEMBERS_MAX, GROUP_NAME_MAX, GROUPS_MAX,
    GROUPS_OWNED_MAX, GROUPS_PER_USER_MAX, GroupAction, GroupChange, GroupChanged, GroupId,
    GroupMemberAction, GroupMemberView, GroupMoney, GroupQuery, GroupRole, GroupType, GroupView,
    ManageGroupMember, PayoutPolicy,
};
use betbet_protocol::types::{Amount, UserId};

impl Engine {
    /// The last group id given (groups are never removed: `1..=groups_next()` are all).
    pub fn groups_next(&self) -> u64 {
        self.social.groups_index.next
    }

    fn group(&self, id: GroupId) -> Result<&Group, ResultCode> {
        self.social.groups.get(&id).ok_or(ResultCode::GroupNotFound)
    }

    fn group_mut(&mut self, id: GroupId) -> &mut Group {
        self.social
            .groups
            .get_mut(&id)
            .expect("the group was looked up before")
    }

    /// The user's role in the group as a member who joined (not one only invited).
    fn group_role(group: &Group, user: UserId) -> Option<GroupRole> {
        group
            .members
            .get(&user)
            .filter(|m| !m.invited)
            .map(|m| m.role)
    }

    fn group_changed(
        &mut self,
        id: GroupId,
        (actor, user): (UserId, UserId),
        change: GroupChange,
        amount: i64,
        out: &mut Vec<Event>,
    ) {
        let group = self.group_mut(id);
        group.version += 1;
        out.push(Event::GroupChanged(GroupChanged {
            group: id,
            actor,
            user,
            change,
            amount: Amount(amount),
            version: group.version,
        }));
    }

    pub(crate) fn create_group(
        &mut self,
        c: &CreateGroup,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        crate::text::line(&c.name, GROUP_NAME_MAX)?;
        if !(2..=GROUP_MEMBERS_MAX).contains(&c.max_members) {
            return Err(ResultCode::InvalidGroup);
        }
        if !self.currency_supported(c.currency) {
            return Err(ResultCode::UnsupportedCurrency);
        }
        self.active_user(c.actor)?;
        let key = name_key(&c.name);
        let groups = &self.social.groups_index;
        if groups.names.contains_key(&key) {
            return Err(ResultCode::GroupNameTaken);
        }
        let owned = groups.owned.get(&c.actor).copied().unwrap_or(0);
        let memberships = groups.memberships.get(&c.actor).copied().unwrap_or(0);
        if self.social.groups.len() >= GROUPS_MAX
            || owned >= GROUPS_OWNED_MAX
            || memberships >= GROUPS_PER_USER_MAX
        {
            return Err(ResultCode::TooManyGroups);
        }
        if !self.ledger.can_open(1, self.limits.accounts_max as usize) {
            return Err(ResultCode::AccountLimitReached);
        }
        let index = &mut self.social.groups_index;
        index.next += 1;
        let id = GroupId(index.next);
        let now = self.now;
        let account = self.ledger.open(Owner::Group(id), c.currency, now.0);
        let mut group = Group {
            id,
            name: c.name.trim().to_owned(),
            kind: c.kind,
            max_members: c.max_members,
            currency: c.currency,
            owner: c.actor,
            payout_policy: c.payout_policy,
            account,
            members: Default::default(),
            member_count: 1,
            created_at: now,
            version: 0,
        };
        group.members.insert(
            c.actor,
            GroupMember {
                role: GroupRole::Owner,
                invited: false,
                joined_at: now,
                contributed: 0,
                received: 0,
            },
        );
        self.social.groups.insert(id, group);
        let index = &mut self.social.groups_index;
        index.names.insert(key, id);
        *index.owned.entry(c.actor).or_default() += 1;
        *index.memberships.entry(c.actor).or_default() += 1;
        self.group_changed(id, (c.actor, c.actor), GroupChange::Created, 0, out);
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(crate) fn join_group(
        &mut self,
        c: &GroupAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.active_user(c.actor)?;
        let group = self.group(c.group)?;
        let invited = match group.members.get(&c.actor) {
            Some(m) if !m.invited => return Err(ResultCode::AlreadyGroupMember),
            Some(_) => true,
            None => false,
        };
        if group.kind == GroupType::Private && !invited {
            return Err(ResultCode::NotInvited);
        }
        if group.member_count >= group.max_members {
            return Err(ResultCode::GroupFull);
        }
        let memberships = self.social.groups_index.memberships.get(&c.actor);
        if memberships.copied().unwrap_or(0) >= GROUPS_PER_USER_MAX {
            return Err(ResultCode::TooManyGroups);
        }
        let now = self.now;
        let group = self.group_mut(c.group);
        group.member_count += 1;
        let member = group.members.entry(c.actor).or_insert(GroupMember {
            role: GroupRole::Member,
            invited: true,
            joined_at: now,
            contributed: 0,
            received: 0,
        });
        member.invited = false;
        member.joined_at = now;
        *self
            .social
            .groups_index
            .memberships
            .entry(c.actor)
            .or_default() += 1;
        self.group_changed(c.group, (c.actor, c.actor), GroupChange::Joined, 0, out);
        Ok(Reply::Done(Empty {}))
    }

    /// Takes `user` out of the group, or withdraws their invitation (what they paid in
    /// stays in its wallet).
    fn drop_member(&mut self, id: GroupId, user: UserId) {
        let group = self.group_mut(id);
        let member = group.members.remove(&user).expect("a member");
        if member.invited {
            return;
        }
        group.member_count -= 1;
        let index = &mut self.social.groups_index;
        let count = index.memberships.get_mut(&user).expect("counted");
        *count -= 1;
        if *count == 0 {
            index.memberships.remove(&user);
        }
    }

    pub(crate) fn leave_group(
        &mut self,
        c: &GroupAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let group = self.group(c.group)?;
        match group.members.get(&c.actor) {
            None => return Err(ResultCode::NotGroupMember),
            Some(m) if m.role == GroupRole::Owner => return Err(ResultCode::OwnerCannotLeave),
            Some(_) => {}
        }
        self.drop_member(c.group, c.actor);
        self.group_changed(c.group, (c.actor, c.actor), GroupChange::Left, 0, out);
        Ok(Reply::Done(Empty {}))
    }

    pub(crate) fn manage_group_member(
        &mut self,
        c: &ManageGroupMember,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.active_user(c.actor)?;
        let group = self.group(c.group)?;
        let actor_rank = Self::group_role(group, c.actor).map(GroupRole::rank);
        if actor_rank < Some(GroupRole::Admin.rank()) {
            return Err(ResultCode::NotGroupAdmin);
        }
        let target = group.members.get(&c.user);
        let change = match c.action {
            GroupMemberAction::Invite => {
                if target.is_some() {
                    return Err(ResultCode::AlreadyGroupMember);
                }
                self.users.get(c.user).ok_or(ResultCode::UserNotFound)?;
                // Invitations count against the group, not the invitee: nobody can fill
                // someone else's groups by inviting them.
                let pending = group.members.len() as u32 - group.member_count;
                if pending >= GROUP_INVITES_MAX {
                    return Err(ResultCode::GroupFull);
                }
                let now = self.now;
                self.group_mut(c.group).members.insert(
                    c.user,
                    GroupMember {
                        role: GroupRole::Member,
                        invited: true,
                        joined_at: now,
                        contributed: 0,
                        received: 0,
                    },
                );
                GroupChange::Invited
            }
            GroupMemberAction::Remove => {
                let target = target.ok_or(ResultCode::NotGroupMember)?;
                // Nobody removes the owner, and an admin only removes members.
                if Some(target.role.rank()) >= actor_rank {
                    return Err(ResultCode::NotGroupAdmin);
                }
                self.drop_member(c.group, c.user);
                GroupChange::Removed
            }
            GroupMemberAction::SetRole => {
                let target = target
                    .filter(|m| !m.invited)
                    .ok_or(ResultCode::NotGroupMember)?;
                let owner = actor_rank == Some(GroupRole::Owner.rank());
                if !owner || target.role == GroupRole::Owner || c.role == GroupRole::Owner {
                    return Err(ResultCode::NotGroupAdmin);
                }
                let member = self
                    .group_mut(c.group)
                    .members
                    .get_mut(&c.user)
                    .expect("looked up");
                member.role = c.role;
                GroupChange::RoleSet
            }
        };
        self.group_changed(c.group, (c.actor, c.user), change, 0, out);
        Ok(Reply::Done(Empty {}))
    }

    /// A member pays `amount` from their wallet of the group's currency into its wallet.
    pub(crate) fn contribute_group(
        &mut self,
        c: &GroupMoney,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let amount = check_amount(c.amount)?;
        if c.user != c.actor {
            return Err(ResultCode::Forbidden);
        }
        self.active_user(c.actor)?;
        let group = self.group(c.group)?;
        if Self::group_role(group, c.actor).is_none() {
            return Err(ResultCode::NotGroupMember);
        }
        let (account, currency) = (group.account, group.currency);
        let wallet = self
            .users
            .get(c.actor)
            .and_then(|u| u.wallet(currency))
            .ok_or(ResultCode::UnknownAccount)?;
        if self.ledger.available(wallet) < amount {
            return Err(ResultCode::InsufficientFunds);
        }
        if self.ledger.get(account).balance() + amount > self.config.wallet_balance_max.0 {
            return Err(ResultCode::BalanceLimitExceeded);
        }
        let reason = LedgerReason::GroupContribution;
        self.ledger
            .transfer(wallet, account, amount, false, reason, c.group.0, out);
        let reference = Reference::Group(c.group.0);
        let status = TxStatus::Completed;
        let tx = TxType::Transfer;
        self.record_tx(
            c.actor, wallet, tx, status, amount, 0, false, reference, out,
        );
        let member = self
            .group_mut(c.group)
            .members
            .get_mut(&c.actor)
            .expect("a member");
        // Totals of a group's life: a member paying in and out forever must not overflow.
        member.contributed = member.contributed.saturating_add(amount);
        self.group_changed(
            c.group,
            (c.actor, c.actor),
            GroupChange::Contributed,
            amount,
            out,
        );
        Ok(Reply::Done(Empty {}))
    }

    /// The owner (or, by the group's policy, an admin) pays `amount` out of the group's
    /// wallet to the member `user`'s wallet.
    pub(crate) fn payout_group(
        &mut self,
        c: &GroupMoney,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let amount = check_amount(c.amount)?;
        self.active_user(c.actor)?;
        let group = self.group(c.group)?;
        let allowed = matches!(
            (Self::group_role(group, c.actor), group.payout_policy),
            (Some(GroupRole::Owner), _) | (Some(GroupRole::Admin), PayoutPolicy::Admins)
        );
        if !allowed {
            return Err(ResultCode::NotGroupAdmin);
        }
        if Self::group_role(group, c.user).is_none() {
            return Err(ResultCode::NotGroupMember);
        }
        let (account, currency) = (group.account, group.currency);
        if self.ledger.available(account) < amount {
            return Err(ResultCode::InsufficientFunds);
        }
        let recipient = self.users.get(c.user).ok_or(ResultCode::UserNotFound)?;
        if recipient.status != UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        let existing = self.wallet_or_room(c.user, currency)?;
        self.incoming_room(c.user, existing, currency, amount)?;
        let wallet = self.open_wallet(c.user, currency, out);
        let reason = LedgerReason::GroupPayout;
        self.ledger
            .transfer(account, wallet, amount, false, reason, c.group.0, out);
        let reference = Reference::Group(c.group.0);
        let status = TxStatus::Completed;
        let tx = TxType::Payout;
        self.record_tx(c.user, wallet, tx, status, amount, 0, true, reference, out);
        let member = self
            .group_mut(c.group)
            .members
            .get_mut(&c.user)
            .expect("a member");
        member.received = member.received.saturating_add(amount);
        self.group_changed(
            c.group,
            (c.actor, c.user),
            GroupChange::PaidOut,
            amount,
            out,
        );
        Ok(Reply::Done(Empty {}))
    }

    pub(crate) fn query_group(&self, q: &GroupQuery) -> QueryReply {
        let Some(group) = self.social.groups.get(&q.group) else {
            return QueryReply::NotFound(Empty {});
        };
        let viewer = group.members.get(&q.viewer);
        QueryReply::Group(GroupView {
            id: group.id,
            name: group.name.clone(),
            kind: group.kind,
            max_members: group.max_members,
            currency: group.currency,
            owner: group.owner,
            payout_policy: group.payout_policy,
            member_count: group.member_count,
            wallet: group.account,
            balance: Amount(self.ledger.get(group.account).balance()),
            created_at: group.created_at,
            version: group.version,
            viewer_role: viewer.filter(|m| !m.invited).map(|m| m.role),
            viewer_invited: viewer.is_some_and(|m| m.invited),
            members: group
                .members
                .iter()
                .map(|(&user, m)| GroupMemberView {
                    user,
                    role: m.role,
                    invited: m.invited,
                    joined_at: m.joined_at,
                    contributed: Amount(m.contributed),
                    received: Amount(m.received),
                })
                .collect(),
        })
    }

    /// Every group's counts match its members, it has one owner and its account is its
    /// own; every name and per-user count matches the groups.
    pub(crate) fn check_groups(&self) {
        let index = &self.social.groups_index;
        let mut memberships = std::collections::BTreeMap::<UserId, u32>::new();
        let mut owned = std::collections::BTreeMap::<UserId, u32>::new();
        for (id, group) in &self.social.groups {
            assert_eq!(index.names.get(&name_key(&group.name)), Some(id));
            let joined = group.members.values().filter(|m| !m.invited).count();
            assert_eq!(joined as u32, group.member_count, "{id:?}");
            assert!(group.member_count <= group.max_members, "{id:?}");
            let owners: Vec<_> = group
                .members
                .iter()
                .filter(|(_, m)| m.role == GroupRole::Owner)
                .collect();
            assert_eq!(owners.len(), 1, "{id:?} has one owner");
            assert_eq!(*owners[0].0, group.owner);
            assert_eq!(self.ledger.get(group.account).owner, Owner::Group(*id));
            let pending = group.members.len() as u32 - group.member_count;
            assert!(
                pending <= betbet_protocol::social::GROUP_INVITES_MAX,
                "{id:?}"
            );
            for (user, member) in &group.members {
                if !member.invited {
                    *memberships.entry(*user).or_default() += 1;
                }
                assert!(member.contributed >= 0 && member.received >= 0);
            }
            *owned.entry(group.owner).or_default() += 1;
        }
        assert_eq!(index.names.len(), self.social.groups.len());
        assert_eq!(memberships, index.memberships);
        assert_eq!(owned, index.owned);
    }
}

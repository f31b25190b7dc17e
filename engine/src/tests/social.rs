//! Communities in the engine: each kind of join, the fee exact through the ledger, the
//! role ladder of moderation, bans and mutes with their end times, and a snapshot plus
//! replay reaching the same state (every invariant is checked after each command, and
//! every rejection is checked to change nothing, by the harness).

use super::*;
use betbet_protocol::social::*;

impl World {
    fn new_community(
        &mut self,
        owner: UserId,
        name: &str,
        kind: CommunityType,
        fee: i64,
    ) -> CommunityId {
        let command = Command::CreateCommunity(CreateCommunity {
            actor: owner,
            name: name.to_owned(),
            description: "about it".to_owned(),
            category: "Football".to_owned(),
            kind,
            membership_fee: Amount(fee),
            currency: usd(),
        });
        match self.ok(command) {
            Reply::Created(c) => CommunityId(c.id),
            other => panic!("{other:?}"),
        }
    }

    fn join_community(&mut self, user: UserId, community: CommunityId) -> Response {
        self.apply(Command::JoinCommunity(CommunityAction {
            actor: user,
            community,
        }))
    }

    fn leave_community(&mut self, user: UserId, community: CommunityId) -> Response {
        self.apply(Command::LeaveCommunity(CommunityAction {
            actor: user,
            community,
        }))
    }

    fn manage(
        &mut self,
        actor: UserId,
        community: CommunityId,
        user: UserId,
        action: MemberAction,
        role: MemberRole,
        until: Timestamp,
    ) -> Response {
        self.apply(Command::ManageMember(ManageMember {
            actor,
            community,
            user,
            action,
            role,
            until,
            reason: "rule 3".to_owned(),
        }))
    }

    fn membership(&self, community: CommunityId, user: UserId) -> Option<crate::social::Member> {
        self.engine.social.communities[&community]
            .members
            .get(&user)
            .cloned()
    }

    fn later(&self, seconds: i64) -> Timestamp {
        self.now.saturating_add_micros(seconds * 1_000_000)
    }
}

fn rejected(response: Response) -> ResultCode {
    response.code().expect("rejected")
}

#[test]
fn a_paid_community_charges_its_fee_once_to_the_owner_less_the_platform_fee() {
    let mut world = World::new();
    let owner = world.funded("owner", 1);
    let joiner = world.funded("joiner", 100);
    let fee = units(25);
    let id = world.new_community(owner, "Tipsters Club", CommunityType::Paid, fee);
    let (owner_before, fees_before) = (world.balance(owner).0, world.fees_balance());
    assert!(world.join_community(joiner, id).code().is_none());
    // 2 % to the platform (the world's platform fee), the rest to the owner.
    let platform = fee * 200 / 10_000;
    assert_eq!(world.balance(joiner).0, units(100) - fee);
    assert_eq!(world.balance(owner).0, owner_before + fee - platform);
    assert_eq!(world.fees_balance(), fees_before + platform);
    assert_eq!(world.membership(id, joiner).unwrap().fee_paid, fee);
    assert_eq!(
        rejected(world.join_community(joiner, id)),
        ResultCode::AlreadyMember
    );
    assert_eq!(world.balance(joiner).0, units(100) - fee, "charged once");

    // Too poor to join: refused, nothing moves.
    let poor = world.funded("poor", 1);
    assert_eq!(
        rejected(world.join_community(poor, id)),
        ResultCode::InsufficientFunds
    );
    // No wallet of the currency: refused.
    let walletless = world.register("walletless");
    assert_eq!(
        rejected(world.join_community(walletless, id)),
        ResultCode::UnknownAccount
    );

    // A paid community has a fee, the others none; a paid one needs the owner's wallet.
    let bad = |kind, fee| {
        Command::CreateCommunity(CreateCommunity {
            actor: owner,
            name: "Other".to_owned(),
            description: String::new(),
            category: String::new(),
            kind,
            membership_fee: Amount(fee),
            currency: usd(),
        })
    };
    assert_eq!(
        world.err(bad(CommunityType::Paid, 0)),
        ResultCode::InvalidCommunity
    );
    assert_eq!(
        world.err(bad(CommunityType::Public, 1)),
        ResultCode::InvalidCommunity
    );
    assert_eq!(
        world.err(bad(CommunityType::Paid, -5)),
        ResultCode::InvalidCommunity
    );
    let mut no_wallet = bad(CommunityType::Paid, 10);
    if let Command::CreateCommunity(c) = &mut no_wallet {
        c.actor = walletless;
    }
    assert_eq!(world.err(no_wallet), ResultCode::UnknownAccount);
}

#[test]
fn names_are_unique_without_regard_to_case_and_the_owner_stays() {
    let mut world = World::new();
    let owner = world.register("owner");
    let id = world.new_community(owner, "Chess Lovers", CommunityType::Public, 0);
    let again = Command::CreateCommunity(CreateCommunity {
        actor: owner,
        name: "  chess LOVERS ".to_owned(),
        description: String::new(),
        category: String::new(),
        kind: CommunityType::Public,
        membership_fee: Amount(0),
        currency: usd(),
    });
    assert_eq!(world.err(again), ResultCode::CommunityNameTaken);
    assert_eq!(
        rejected(world.leave_community(owner, id)),
        ResultCode::OwnerCannotLeave
    );
    let user = world.register("user");
    assert!(world.join_community(user, id).code().is_none());
    assert_eq!(world.engine.social.communities[&id].member_count, 2);
    assert!(world.leave_community(user, id).code().is_none());
    assert_eq!(
        rejected(world.leave_community(user, id)),
        ResultCode::NotMember
    );
    assert_eq!(world.engine.social.communities[&id].member_count, 1);
    assert_eq!(world.engine.social.communities[&id].category, "football");
}

#[test]
fn a_private_community_takes_requests_an_admin_decides_and_invitations() {
    let mut world = World::new();
    let owner = world.register("owner");
    let admin = world.register("admin_user");
    let moderator = world.register("moderator");
    let id = world.new_community(owner, "Inner Circle", CommunityType::Private, 0);
    let zero = Timestamp::ZERO;
    // The owner invites two future staff; they join at once.
    for user in [admin, moderator] {
        let r = world.manage(
            owner,
            id,
            user,
            MemberAction::Invite,
            MemberRole::Member,
            zero,
        );
        assert!(r.code().is_none());
        assert_eq!(
            world.membership(id, user).unwrap().status,
            MemberStatus::Invited
        );
        assert!(world.join_community(user, id).code().is_none());
        assert_eq!(
            world.membership(id, user).unwrap().status,
            MemberStatus::Active
        );
    }
    let set = MemberAction::SetRole;
    assert!(
        world
            .manage(owner, id, admin, set, MemberRole::Admin, zero)
            .code()
            .is_none()
    );
    assert!(
        world
            .manage(admin, id, moderator, set, MemberRole::Moderator, zero)
            .code()
            .is_none()
    );
    // An admin cannot appoint an admin, nor anyone the owner.
    let other = world.register("other");
    assert!(world.join_community(other, id).code().is_none());
    assert_eq!(
        world.membership(id, other).unwrap().status,
        MemberStatus::Pending
    );
    assert_eq!(world.engine.social.communities[&id].pending_count, 1);
    // Asking twice changes nothing.
    assert!(world.join_community(other, id).code().is_none());
    // A moderator does not decide requests.
    let approve = MemberAction::Approve;
    let r = world.manage(moderator, id, other, approve, MemberRole::Member, zero);
    assert_eq!(rejected(r), ResultCode::NotCommunityModerator);
    assert!(
        world
            .manage(admin, id, other, approve, MemberRole::Member, zero)
            .code()
            .is_none()
    );
    assert_eq!(
        world.membership(id, other).unwrap().status,
        MemberStatus::Active
    );
    let r = world.manage(admin, id, other, set, MemberRole::Admin, zero);
    assert_eq!(rejected(r), ResultCode::InvalidModeration);
    let r = world.manage(admin, id, other, set, MemberRole::Owner, zero);
    assert_eq!(rejected(r), ResultCode::InvalidModeration);
    // A declined request is gone; approving it then has nothing to approve.
    let late = world.register("late");
    assert!(world.join_community(late, id).code().is_none());
    let decline = MemberAction::Decline;
    assert!(
        world
            .manage(admin, id, late, decline, MemberRole::Member, zero)
            .code()
            .is_none()
    );
    assert!(world.membership(id, late).is_none());
    let r = world.manage(admin, id, late, approve, MemberRole::Member, zero);
    assert_eq!(rejected(r), ResultCode::NoJoinRequest);
    let community = &world.engine.social.communities[&id];
    assert_eq!((community.member_count, community.pending_count), (4, 0));
    // Invitations have no place in a public community.
    let public = world.new_community(owner, "Open House", CommunityType::Public, 0);
    let r = world.manage(
        owner,
        public,
        late,
        MemberAction::Invite,
        MemberRole::Member,
        zero,
    );
    assert_eq!(rejected(r), ResultCode::InvalidModeration);
}

#[test]
fn moderators_mute_ban_and_remove_the_roles_below_theirs_until_a_time() {
    let mut world = World::new();
    let owner = world.register("owner");
    let moderator = world.register("moderator");
    let member = world.register("member");
    let id = world.new_community(owner, "Arena", CommunityType::Public, 0);
    for user in [moderator, member] {
        assert!(world.join_community(user, id).code().is_none());
    }
    let zero = Timestamp::ZERO;
    let set = MemberAction::SetRole;
    assert!(
        world
            .manage(owner, id, moderator, set, MemberRole::Moderator, zero)
            .code()
            .is_none()
    );
    // A member moderates nobody; a moderator not another moderator nor the owner.
    let hour = world.later(3_600);
    let r = world.manage(
        member,
        id,
        moderator,
        MemberAction::Mute,
        MemberRole::Member,
        hour,
    );
    assert_eq!(rejected(r), ResultCode::NotCommunityModerator);
    let r = world.manage(
        moderator,
        id,
        owner,
        MemberAction::Ban,
        MemberRole::Member,
        hour,
    );
    assert_eq!(rejected(r), ResultCode::OwnerCannotLeave);
    // An end in the past, or more than ten years ahead, does not fit.
    let past = world.later(-1);
    let r = world.manage(
        moderator,
        id,
        member,
        MemberAction::Mute,
        MemberRole::Member,
        past,
    );
    assert_eq!(rejected(r), ResultCode::InvalidModeration);
    let far = world.later(11 * 366 * 24 * 3_600);
    let r = world.manage(
        moderator,
        id,
        member,
        MemberAction::Ban,
        MemberRole::Member,
        far,
    );
    assert_eq!(rejected(r), ResultCode::InvalidModeration);

    let r = world.manage(
        moderator,
        id,
        member,
        MemberAction::Mute,
        MemberRole::Member,
        hour,
    );
    assert!(r.code().is_none());
    assert!(world.membership(id, member).unwrap().muted(world.now));
    let r = world.manage(
        moderator,
        id,
        member,
        MemberAction::Ban,
        MemberRole::Member,
        hour,
    );
    assert!(r.code().is_none());
    // Banned: cannot leave (to come back clean) nor join again.
    assert_eq!(
        rejected(world.leave_community(member, id)),
        ResultCode::MemberBanned
    );
    assert_eq!(
        rejected(world.join_community(member, id)),
        ResultCode::MemberBanned
    );
    // The ban ends at its time.
    world.advance(3_601);
    let state = world.membership(id, member).unwrap();
    assert!(!state.banned(world.now) && !state.muted(world.now));
    assert!(world.leave_community(member, id).code().is_none());
    assert!(world.join_community(member, id).code().is_none());
    // Removed: gone, and may join again (a public community).
    let r = world.manage(
        moderator,
        id,
        member,
        MemberAction::Remove,
        MemberRole::Member,
        zero,
    );
    assert!(r.code().is_none());
    assert!(world.membership(id, member).is_none());

    // Every change is one event with the community's next version; moderation names its
    // actor.
    let changes: Vec<_> = world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::CommunityChanged(c) if c.community == id => Some(c.clone()),
            _ => None,
        })
        .collect();
    for (i, change) in changes.iter().enumerate() {
        assert_eq!(change.version, i as u64 + 1);
    }
    let banned = changes
        .iter()
        .find(|c| c.change == CommunityChange::Banned)
        .unwrap();
    assert_eq!(
        (banned.actor, banned.user, banned.until),
        (moderator, member, Some(hour))
    );
    assert_eq!(banned.reason, "rule 3");
    assert!(banned.change.is_moderation());
}

#[test]
fn a_snapshot_with_communities_plus_replay_reproduces_the_live_run() {
    let mut world = World::new();
    let owner = world.funded("owner", 1);
    let joiner = world.funded("joiner", 50);
    let paid = world.new_community(owner, "Paid", CommunityType::Paid, units(5));
    let private = world.new_community(owner, "Private", CommunityType::Private, 0);
    assert!(world.join_community(joiner, paid).code().is_none());
    assert!(world.join_community(joiner, private).code().is_none());
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    let restored = Engine::restore(&snapshot).expect("restores");
    assert_eq!(restored.state_hash(), world.engine.state_hash());
    let zero = Timestamp::ZERO;
    let r = world.manage(
        owner,
        private,
        joiner,
        MemberAction::Approve,
        MemberRole::Member,
        zero,
    );
    assert!(r.code().is_none());
    let until = world.later(60);
    let r = world.manage(
        owner,
        paid,
        joiner,
        MemberAction::Mute,
        MemberRole::Member,
        until,
    );
    assert!(r.code().is_none());
    world.replays_to_now(Engine::restore(&snapshot).unwrap(), cut);
}

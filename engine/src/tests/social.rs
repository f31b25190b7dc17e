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

impl World {
    fn thread(&mut self, author: UserId, community: CommunityId, paywall: i64) -> ThreadId {
        let command = Command::CreateThread(CreateThread {
            actor: author,
            community,
            thread_type: ThreadType::Discussion,
            text: PostText {
                title: "Who wins Saturday?".to_owned(),
                content: "My **analysis**".to_owned(),
                format: ContentFormat::Markdown,
            },
            paywall_amount: Amount(paywall),
        });
        match self.ok(command) {
            Reply::Created(c) => ThreadId(c.id),
            other => panic!("{other:?}"),
        }
    }

    fn reply(&mut self, author: UserId, thread: ThreadId, parent: Option<ReplyId>) -> Response {
        self.apply(Command::ReplyThread(ReplyThread {
            actor: author,
            thread,
            parent,
            text: PostText {
                title: String::new(),
                content: "I agree".to_owned(),
                format: ContentFormat::Text,
            },
        }))
    }

    fn vote(
        &mut self,
        voter: UserId,
        thread: ThreadId,
        reply: Option<ReplyId>,
        vote: VoteDirection,
    ) -> Response {
        self.apply(Command::VotePost(VotePost {
            actor: voter,
            thread,
            reply,
            vote,
        }))
    }

    fn counts(&self, thread: ThreadId) -> (u32, u32) {
        let t = &self.engine.social.threads[&thread];
        (t.upvotes, t.downvotes)
    }
}

fn created_reply(response: Response) -> ReplyId {
    match response {
        Response::Accepted(Reply::Created(c)) => ReplyId(c.id),
        other => panic!("{other:?}"),
    }
}

#[test]
fn votes_are_one_per_user_and_post_and_move_the_counts_exactly() {
    let mut world = World::new();
    let author = world.register("author");
    let readers: Vec<UserId> = (0..3)
        .map(|i| world.register(&format!("reader{i}")))
        .collect();
    let id = world.new_community(author, "Votes", CommunityType::Public, 0);
    let thread = world.thread(author, id, 0);
    assert_eq!(
        rejected(world.vote(author, thread, None, VoteDirection::Up)),
        ResultCode::CannotVoteOwnPost
    );
    // Anyone may vote in a public community; members or not.
    for &r in &readers {
        assert!(
            world
                .vote(r, thread, None, VoteDirection::Up)
                .code()
                .is_none()
        );
    }
    assert_eq!(world.counts(thread), (3, 0));
    // Again the same: nothing changes, no event.
    let events = world.events.len();
    assert!(
        world
            .vote(readers[0], thread, None, VoteDirection::Up)
            .code()
            .is_none()
    );
    assert_eq!(world.events.len(), events);
    // Changed: one up less, one down more; cleared: gone.
    assert!(
        world
            .vote(readers[0], thread, None, VoteDirection::Down)
            .code()
            .is_none()
    );
    assert_eq!(world.counts(thread), (2, 1));
    assert!(
        world
            .vote(readers[1], thread, None, VoteDirection::Clear)
            .code()
            .is_none()
    );
    assert_eq!(world.counts(thread), (1, 1));
    // A reply's votes are its own.
    assert!(world.join_community(readers[2], id).code().is_none());
    let reply = created_reply(world.reply(readers[2], thread, None));
    assert!(
        world
            .vote(author, thread, Some(reply), VoteDirection::Down)
            .code()
            .is_none()
    );
    assert_eq!(world.counts(thread), (1, 1));
    let r = &world.engine.social.replies[&reply];
    assert_eq!((r.upvotes, r.downvotes), (0, 1));
}

#[test]
fn replies_nest_to_a_bounded_depth_and_locks_mutes_and_bans_stop_posting() {
    let mut world = World::new();
    let owner = world.register("owner");
    let member = world.register("member");
    let outsider = world.register("outsider");
    let id = world.new_community(owner, "Nest", CommunityType::Public, 0);
    assert!(world.join_community(member, id).code().is_none());
    let thread = world.thread(owner, id, 0);
    // A non-member may read and vote but not post.
    assert_eq!(
        rejected(world.reply(outsider, thread, None)),
        ResultCode::MembersOnly
    );
    let mut parent = None;
    for depth in 1..=REPLY_DEPTH_MAX {
        let reply = created_reply(world.reply(member, thread, parent));
        assert_eq!(world.engine.social.replies[&reply].depth, depth);
        parent = Some(reply);
    }
    assert_eq!(
        rejected(world.reply(member, thread, parent)),
        ResultCode::ReplyTooDeep
    );
    assert_eq!(
        world.engine.social.threads[&thread].reply_count,
        u32::from(REPLY_DEPTH_MAX)
    );
    // A reply to another thread's reply is not found.
    let other = world.thread(owner, id, 0);
    assert_eq!(
        rejected(world.reply(member, other, parent)),
        ResultCode::ReplyNotFound
    );

    // Locked: no replies until unlocked; only moderators lock.
    let lock = |actor, action| {
        Command::ModerateThread(ModerateThread {
            actor,
            thread,
            action,
            reason: "off topic".to_owned(),
        })
    };
    assert_eq!(
        world.err(lock(member, ThreadAction::Lock)),
        ResultCode::NotCommunityModerator
    );
    world.ok(lock(owner, ThreadAction::Lock));
    assert_eq!(
        rejected(world.reply(member, thread, None)),
        ResultCode::ThreadLocked
    );
    world.ok(lock(owner, ThreadAction::Unlock));
    assert!(world.reply(member, thread, None).code().is_none());

    // Muted, then banned: no posting.
    let zero = Timestamp::ZERO;
    let hour = world.later(3_600);
    let r = world.manage(
        owner,
        id,
        member,
        MemberAction::Mute,
        MemberRole::Member,
        hour,
    );
    assert!(r.code().is_none());
    assert_eq!(
        rejected(world.reply(member, thread, None)),
        ResultCode::MemberMuted
    );
    let r = world.manage(
        owner,
        id,
        member,
        MemberAction::Unmute,
        MemberRole::Member,
        zero,
    );
    assert!(r.code().is_none());
    let r = world.manage(
        owner,
        id,
        member,
        MemberAction::Ban,
        MemberRole::Member,
        hour,
    );
    assert!(r.code().is_none());
    assert_eq!(
        rejected(world.reply(member, thread, None)),
        ResultCode::MemberBanned
    );
    // A banned member cannot vote in the community either.
    assert_eq!(
        rejected(world.vote(member, thread, None, VoteDirection::Up)),
        ResultCode::MembersOnly
    );

    // The author deletes their own post; a moderator anyone's (logged); others nobody's.
    let reply = created_reply(world.reply(owner, other, None));
    let delete = |actor, reply| {
        Command::DeletePost(DeletePost {
            actor,
            thread: other,
            reply,
            reason: "spam".to_owned(),
        })
    };
    assert_eq!(
        world.err(delete(outsider, Some(reply))),
        ResultCode::NotPostAuthor
    );
    world.ok(delete(owner, Some(reply)));
    assert_eq!(
        world.err(delete(owner, Some(reply))),
        ResultCode::PostDeleted
    );
    world.ok(delete(owner, None));
    assert!(world.engine.social.threads[&other].is_deleted);
}

#[test]
fn a_paywall_is_paid_once_to_the_author_less_the_platform_fee() {
    let mut world = World::new();
    let author = world.funded("author", 1);
    let reader = world.funded("reader", 20);
    let id = world.new_community(author, "Premium picks", CommunityType::Public, 0);
    let thread = world.thread(author, id, units(4));
    let buy = Command::BuyThread(ThreadReader {
        actor: reader,
        thread,
    });
    // Before paying: no reply, no vote.
    assert!(world.join_community(reader, id).code().is_none());
    assert_eq!(
        rejected(world.reply(reader, thread, None)),
        ResultCode::PaywallRequired
    );
    assert_eq!(
        rejected(world.vote(reader, thread, None, VoteDirection::Up)),
        ResultCode::PaywallRequired
    );
    let (author_before, fees_before) = (world.balance(author).0, world.fees_balance());
    world.ok(buy.clone());
    let platform = units(4) * 200 / 10_000;
    assert_eq!(world.balance(reader).0, units(16));
    assert_eq!(world.balance(author).0, author_before + units(4) - platform);
    assert_eq!(world.fees_balance(), fees_before + platform);
    // Once.
    world.ok(buy);
    assert_eq!(world.balance(reader).0, units(16));
    assert_eq!(world.engine.social.threads[&thread].purchases, 1);
    assert!(world.reply(reader, thread, None).code().is_none());
    // No paywall to pay on a free thread; a paywall needs the author's wallet.
    let free = world.thread(author, id, 0);
    let buy_free = Command::BuyThread(ThreadReader {
        actor: reader,
        thread: free,
    });
    assert_eq!(world.err(buy_free), ResultCode::InvalidPaywall);
    let poor = world.register("walletless");
    assert!(world.join_community(poor, id).code().is_none());
    let priced = Command::CreateThread(CreateThread {
        actor: poor,
        community: id,
        thread_type: ThreadType::Discussion,
        text: PostText {
            title: "t".to_owned(),
            content: "c".to_owned(),
            format: ContentFormat::Text,
        },
        paywall_amount: Amount(units(1)),
    });
    assert_eq!(world.err(priced), ResultCode::InvalidPaywall);
}

#[test]
fn views_count_once_per_reader_and_hour_and_threads_survive_a_snapshot() {
    let mut world = World::new();
    let author = world.register("author");
    let reader = world.register("reader");
    let id = world.new_community(author, "Views", CommunityType::Public, 0);
    let thread = world.thread(author, id, 0);
    let view = |actor| Command::ViewThread(ThreadReader { actor, thread });
    world.ok(view(reader));
    world.ok(view(reader));
    world.ok(view(author));
    assert_eq!(world.engine.social.threads[&thread].view_count, 2);
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    world.advance(3_600);
    world.ok(view(reader));
    assert_eq!(world.engine.social.threads[&thread].view_count, 3);
    let reply = created_reply(world.reply(author, thread, None));
    assert!(
        world
            .vote(reader, thread, Some(reply), VoteDirection::Up)
            .code()
            .is_none()
    );
    world.replays_to_now(Engine::restore(&snapshot).unwrap(), cut);
}

#[test]
fn moderators_lock_and_remove_only_the_posts_of_lower_roles_and_may_pin_any() {
    let mut world = World::new();
    let owner = world.register("owner");
    let moderator = world.register("moderator");
    let member = world.register("member");
    let id = world.new_community(owner, "Ranks", CommunityType::Public, 0);
    for user in [moderator, member] {
        assert!(world.join_community(user, id).code().is_none());
    }
    let r = world.manage(
        owner,
        id,
        moderator,
        MemberAction::SetRole,
        MemberRole::Moderator,
        Timestamp::ZERO,
    );
    assert!(r.code().is_none());
    let owners = world.thread(owner, id, 0);
    let members = world.thread(member, id, 0);
    let act = |actor, thread, action| {
        Command::ModerateThread(ModerateThread {
            actor,
            thread,
            action,
            reason: String::new(),
        })
    };
    let remove = |actor, thread| {
        Command::DeletePost(DeletePost {
            actor,
            thread,
            reply: None,
            reason: "rule 1".to_owned(),
        })
    };
    // Above the moderator: neither locked nor removed; pinned, yes.
    assert_eq!(
        world.err(act(moderator, owners, ThreadAction::Lock)),
        ResultCode::NotCommunityModerator
    );
    assert_eq!(
        world.err(remove(moderator, owners)),
        ResultCode::NotCommunityModerator
    );
    world.ok(act(moderator, owners, ThreadAction::Pin));
    // Below: locked and removed, logged with the author's role.
    world.ok(act(moderator, members, ThreadAction::Lock));
    world.ok(remove(moderator, members));
    let logged = world
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::CommunityChanged(c) if c.change == CommunityChange::PostRemoved => {
                Some(c.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (logged.actor, logged.user, logged.role),
        (moderator, member, MemberRole::Member)
    );
    assert_eq!(logged.thread, Some(members));
    // Lifting a mute that is not in force logs nothing.
    let events = world.events.len();
    let r = world.manage(
        owner,
        id,
        member,
        MemberAction::Unmute,
        MemberRole::Member,
        Timestamp::ZERO,
    );
    assert!(r.code().is_none());
    assert_eq!(world.events.len(), events);
}

impl World {
    fn say(
        &mut self,
        actor: UserId,
        room: RoomRef,
        recipient: Option<UserId>,
        text: &str,
    ) -> Response {
        self.apply(Command::SendMessage(SendMessage {
            actor,
            room,
            recipient,
            message_type: MessageType::Text,
            content: text.to_owned(),
            bet_slip: None,
        }))
    }

    fn message_action(
        &mut self,
        delete: bool,
        actor: UserId,
        room: RoomRef,
        message: MessageId,
    ) -> Response {
        let action = MessageAction {
            actor,
            room,
            message,
        };
        self.apply(if delete {
            Command::DeleteMessage(action)
        } else {
            Command::MarkRead(action)
        })
    }
}

fn sent(response: Response) -> MessageReply {
    match response {
        Response::Accepted(Reply::Message(m)) => m,
        other => panic!("{other:?}"),
    }
}

const DM: RoomRef = RoomRef {
    kind: RoomKind::Direct,
    id: 0,
};

#[test]
fn direct_messages_open_one_conversation_per_pair_and_blocks_stop_both_ways() {
    let mut world = World::new();
    let ann = world.funded("ann", 1);
    let ben = world.funded("ben", 1);
    let cat = world.funded("cat", 1);
    let first = sent(world.say(ann, DM, Some(ben), "hi"));
    assert_eq!((first.seq, first.room.kind), (1, RoomKind::Direct));
    let back = sent(world.say(ben, DM, Some(ann), "hello"));
    assert_eq!(back.room, first.room, "one conversation for the pair");
    assert_eq!(back.seq, 2);
    // In the room itself, by its id; an outsider is told it does not exist.
    assert_eq!(sent(world.say(ann, first.room, None, "again")).seq, 3);
    assert_eq!(
        rejected(world.say(cat, first.room, None, "me too")),
        ResultCode::RoomNotFound
    );
    assert_eq!(
        rejected(world.say(ann, DM, Some(ann), "self")),
        ResultCode::CannotMessageSelf
    );
    assert_eq!(
        rejected(world.say(ann, first.room, Some(cat), "redirected")),
        ResultCode::InvalidRequest
    );
    // Read markers: up to a message of the room, not past its last.
    assert!(
        world
            .message_action(false, ben, first.room, first.message)
            .code()
            .is_none()
    );
    assert_eq!(
        rejected(world.message_action(false, ben, first.room, MessageId(99))),
        ResultCode::MessageNotFound
    );
    // A block stops messages both ways, in the room and by recipient, until lifted.
    let block = |blocked| {
        Command::BlockUser(BlockUser {
            actor: ben,
            user: ann,
            blocked,
        })
    };
    world.ok(block(true));
    world.ok(block(true));
    assert_eq!(
        world.engine.social.chat.blocks_per_user[&ben], 1,
        "a block counts once"
    );
    assert_eq!(
        rejected(world.say(ann, DM, Some(ben), "hey")),
        ResultCode::UserBlocked
    );
    assert_eq!(
        rejected(world.say(ben, first.room, None, "hey")),
        ResultCode::UserBlocked
    );
    world.ok(block(false));
    world.ok(block(false));
    assert!(
        world
            .say(ann, DM, Some(ben), "friends again")
            .code()
            .is_none()
    );
    // Only the sender deletes a direct message.
    assert_eq!(
        rejected(world.message_action(true, ben, first.room, first.message)),
        ResultCode::NotMessageSender
    );
    assert!(
        world
            .message_action(true, ann, first.room, first.message)
            .code()
            .is_none()
    );
    assert_eq!(
        rejected(world.message_action(true, ann, first.room, first.message)),
        ResultCode::PostDeleted
    );
    // A conversation keeps its last 20 messages editable.
    let oldest = sent(world.say(ann, first.room, None, "soon too old"));
    for n in 0..DIRECT_RECENT_MAX {
        world.say(ben, first.room, None, &format!("filler {n}"));
    }
    assert_eq!(
        rejected(world.message_action(true, ann, first.room, oldest.message)),
        ResultCode::MessageTooOld
    );
    // Only the opener's allowance counts the conversation.
    let opened = &world.engine.social.chat.conversations_opened;
    assert_eq!((opened.get(&ann), opened.get(&ben)), (Some(&1), None));
}

#[test]
fn a_room_keeps_its_last_messages_editable_and_its_sequence_across_a_snapshot() {
    let mut world = World::new();
    let owner = world.funded("owner", 1);
    let member = world.funded("member", 1);
    let community = world.new_community(owner, "Chatters", CommunityType::Public, 0);
    let room = RoomRef::community(community);
    assert_eq!(
        rejected(world.say(member, room, None, "not yet")),
        ResultCode::MembersOnly
    );
    assert!(world.join_community(member, community).code().is_none());
    let first = sent(world.say(member, room, None, "message 0"));
    let mut last = first;
    for n in 1..=ROOM_RECENT_MAX {
        last = sent(world.say(owner, room, None, &format!("message {n}")));
    }
    assert_eq!(last.seq, ROOM_RECENT_MAX as u64 + 1);
    let edit = |message, actor| {
        Command::EditMessage(EditMessage {
            actor,
            room,
            message,
            content: "edited".to_owned(),
        })
    };
    // The first message has left the window of the last 100.
    assert_eq!(
        world.apply(edit(first.message, member)).code(),
        Some(ResultCode::MessageTooOld)
    );
    assert_eq!(
        world.apply(edit(last.message, member)).code(),
        Some(ResultCode::NotMessageSender)
    );
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    assert!(world.apply(edit(last.message, owner)).code().is_none());
    // A moderator deletes a member's message (logged); a member cannot delete the owner's.
    let mine = sent(world.say(member, room, None, "mine"));
    assert_eq!(
        rejected(world.message_action(true, member, room, last.message)),
        ResultCode::NotMessageSender
    );
    let version = world.engine.social.communities[&community].version;
    assert!(
        world
            .message_action(true, owner, room, mine.message)
            .code()
            .is_none()
    );
    assert_eq!(
        world.engine.social.communities[&community].version,
        version + 1
    );
    // Muted: refused at once.
    let until = world.later(60);
    let r = world.manage(
        owner,
        community,
        member,
        MemberAction::Mute,
        MemberRole::Member,
        until,
    );
    assert!(r.code().is_none());
    assert_eq!(
        rejected(world.say(member, room, None, "muted?")),
        ResultCode::MemberMuted
    );
    let image = |content: &str| {
        Command::SendMessage(SendMessage {
            actor: owner,
            room,
            recipient: None,
            message_type: MessageType::Image,
            content: content.to_owned(),
            bet_slip: None,
        })
    };
    assert!(
        world
            .apply(image("https://img.example/a.png"))
            .code()
            .is_none()
    );
    for bad in [
        "http://img.example/a.png",
        "https://",
        "https://a b",
        "javascript:alert(1)",
    ] {
        assert_eq!(
            world.apply(image(bad)).code(),
            Some(ResultCode::InvalidChatMessage),
            "{bad}"
        );
    }
    world.replays_to_now(Engine::restore(&snapshot).unwrap(), cut);
}

#[test]
fn a_group_wallet_moves_money_exactly_and_survives_a_snapshot() {
    let mut world = World::new();
    let owner = world.funded("owner", 10);
    let member = world.funded("member", 50);
    let outsider = world.funded("outsider", 50);
    let create = Command::CreateGroup(CreateGroup {
        actor: owner,
        name: "Syndicate".to_owned(),
        kind: GroupType::Private,
        max_members: 3,
        currency: usd(),
        payout_policy: PayoutPolicy::Owner,
    });
    let group = match world.ok(create) {
        Reply::Created(c) => GroupId(c.id),
        other => panic!("{other:?}"),
    };
    let join = |actor| Command::JoinGroup(GroupAction { actor, group });
    assert_eq!(
        world.apply(join(member)).code(),
        Some(ResultCode::NotInvited)
    );
    let invite = Command::ManageGroupMember(ManageGroupMember {
        actor: owner,
        group,
        user: member,
        action: GroupMemberAction::Invite,
        role: GroupRole::Member,
    });
    world.ok(invite);
    world.ok(join(member));
    let money = |actor, user, amount| GroupMoney {
        actor,
        group,
        user,
        amount: Amount(amount),
    };
    assert_eq!(
        world
            .apply(Command::ContributeGroup(money(
                outsider,
                outsider,
                units(1)
            )))
            .code(),
        Some(ResultCode::NotGroupMember)
    );
    assert_eq!(
        world
            .apply(Command::ContributeGroup(money(owner, member, units(1))))
            .code(),
        Some(ResultCode::Forbidden),
        "nobody contributes for someone else"
    );
    world.ok(Command::ContributeGroup(money(member, member, units(30))));
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    assert_eq!(
        world
            .apply(Command::PayoutGroup(money(member, member, units(1))))
            .code(),
        Some(ResultCode::NotGroupAdmin)
    );
    assert_eq!(
        world
            .apply(Command::PayoutGroup(money(owner, member, units(31))))
            .code(),
        Some(ResultCode::InsufficientFunds)
    );
    world.ok(Command::PayoutGroup(money(owner, owner, units(12))));
    let account = world.engine.social.groups[&group].account;
    assert_eq!(world.engine.ledger.get(account).balance(), units(18));
    let members = &world.engine.social.groups[&group].members;
    assert_eq!(
        (members[&member].contributed, members[&owner].received),
        (units(30), units(12))
    );
    world.replays_to_now(Engine::restore(&snapshot).unwrap(), cut);
}

//! Threads and their replies: posting, votes, paywalls, edits, soft deletes, pins and
//! locks, and views. The core keeps each post's state; its text rides the `PostChanged`
//! event into the history store.

use super::communities::Change;
use super::{Community, Thread, ThreadReply};
use crate::Engine;
use crate::wallet::{MONEY_MOVE_MAX, Reference};
use betbet_protocol::event::{Event, LedgerReason};
use betbet_protocol::message::{Created, Reply as CommandReply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::{
    CommunityChange, CommunityType, CreateThread, DeletePost, EditPost, MODERATION_REASON_MAX,
    MemberRole, MemberStatus, ModerateThread, PostChange, PostChanged, PostText, REPLIES_MAX,
    REPLIES_PER_THREAD_MAX, REPLY_CONTENT_MAX, REPLY_DEPTH_MAX, ReplyId, ReplyThread,
    THREAD_CONTENT_MAX, THREAD_TITLE_MAX, THREADS_MAX, ThreadAction, ThreadId, ThreadReader,
    ThreadType, VIEWS_PER_HOUR_MAX, VOTES_MAX, VoteDirection, VotePost,
};
use betbet_protocol::types::UserId;

const MICROS_PER_HOUR: i64 = 3_600 * 1_000_000;

/// A post's text fits: a title for a thread (none for a reply), content within `max`.
fn check_text(text: &PostText, thread: bool, max: usize) -> Result<(), ResultCode> {
    if thread {
        crate::text::line(&text.title, THREAD_TITLE_MAX)?;
    } else if !text.title.is_empty() {
        return Err(ResultCode::InvalidText);
    }
    crate::text::body(&text.content, max)?;
    if text.content.trim().is_empty() {
        return Err(ResultCode::InvalidText);
    }
    Ok(())
}

impl Engine {
    /// The user exists and is active (not suspended): who may post, message or move money.
    pub(super) fn active_user(&self, user: UserId) -> Result<(), ResultCode> {
        let account = self.users.get(user).ok_or(ResultCode::UserNotFound)?;
        if account.status != betbet_protocol::command::UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        Ok(())
    }

    /// The user's role in an active, unbanned membership of the community, if any.
    pub(super) fn role_in(&self, community: &Community, user: UserId) -> Option<MemberRole> {
        community
            .members
            .get(&user)
            .filter(|m| m.status == MemberStatus::Active && !m.banned(self.now))
            .map(|m| m.role)
    }

    /// Whether `user` may read the community's threads: a public one unless banned there,
    /// any as an active unbanned member, any as a platform admin.
    pub(super) fn may_read(&self, community: &Community, user: UserId) -> bool {
        if self.is_admin(user) {
            return true;
        }
        match community.kind {
            CommunityType::Public => !community
                .members
                .get(&user)
                .is_some_and(|m| m.banned(self.now)),
            CommunityType::Private | CommunityType::Paid => self.role_in(community, user).is_some(),
        }
    }

    /// Whether `user` may read the thread's content (and its replies): no paywall, the
    /// author, a buyer, a moderator of the community or a platform admin.
    pub(super) fn has_access(&self, thread: &Thread, community: &Community, user: UserId) -> bool {
        thread.paywall == 0
            || thread.author == user
            || self.social.purchases.contains(&(thread.id, user))
            || self.is_admin(user)
            || self
                .role_in(community, user)
                .is_some_and(|r| r.rank() >= MemberRole::Moderator.rank())
    }

    /// The poster's role: an active member, not banned, not muted, whose account is active.
    pub(super) fn poster(
        &self,
        community: &Community,
        user: UserId,
    ) -> Result<MemberRole, ResultCode> {
        self.active_user(user)?;
        let member = community
            .members
            .get(&user)
            .filter(|m| m.status == MemberStatus::Active)
            .ok_or(ResultCode::MembersOnly)?;
        if member.banned(self.now) {
            return Err(ResultCode::MemberBanned);
        }
        if member.muted(self.now) {
            return Err(ResultCode::MemberMuted);
        }
        Ok(member.role)
    }

    /// Whether the user moderates the community (moderator and up, or a platform admin).
    fn moderates(&self, community: &Community, user: UserId) -> bool {
        self.is_admin(user)
            || self
                .role_in(community, user)
                .is_some_and(|r| r.rank() >= MemberRole::Moderator.rank())
    }

    /// The author's role in the community (member once gone), when `actor` may act on the
    /// author's posts: a platform admin, a moderator and up who outranks the author, or one
    /// acting on their own post.
    pub(super) fn outranks(
        &self,
        community: &Community,
        actor: UserId,
        author: UserId,
    ) -> Result<MemberRole, ResultCode> {
        let author_role = self
            .role_in(community, author)
            .unwrap_or(MemberRole::Member);
        let actor_rank = self.role_in(community, actor).map(MemberRole::rank);
        let allowed = self.is_admin(actor)
            || actor_rank.is_some_and(|rank| {
                rank >= MemberRole::Moderator.rank()
                    && (rank > author_role.rank() || actor == author)
            });
        if !allowed {
            return Err(ResultCode::NotCommunityModerator);
        }
        Ok(author_role)
    }

    fn thread(&self, id: ThreadId) -> Result<&Thread, ResultCode> {
        self.social
            .threads
            .get(&id)
            .ok_or(ResultCode::ThreadNotFound)
    }

    fn thread_mut(&mut self, id: ThreadId) -> &mut Thread {
        self.social
            .threads
            .get_mut(&id)
            .expect("the thread was looked up before")
    }

    /// The thread's reply `id`, or why not.
    fn reply_of(&self, thread: ThreadId, id: ReplyId) -> Result<&ThreadReply, ResultCode> {
        self.social
            .replies
            .get(&id)
            .filter(|r| r.thread == thread)
            .ok_or(ResultCode::ReplyNotFound)
    }

    /// The author of the thread (`reply` none) or of its live reply.
    fn post_author(&self, thread: &Thread, reply: Option<ReplyId>) -> Result<UserId, ResultCode> {
        let Some(reply) = reply else {
            return Ok(thread.author);
        };
        let reply = self.reply_of(thread.id, reply)?;
        if reply.is_deleted {
            return Err(ResultCode::PostDeleted);
        }
        Ok(reply.author)
    }

    /// The thread and its community, for a command on a live (not deleted) thread.
    fn live_thread(&self, id: ThreadId) -> Result<(&Thread, &Community), ResultCode> {
        let thread = self.thread(id)?;
        if thread.is_deleted {
            return Err(ResultCode::PostDeleted);
        }
        let community = self.community(thread.community)?;
        Ok((thread, community))
    }

    fn post_changed(
        &mut self,
        (thread, reply): (ThreadId, Option<ReplyId>),
        actor: UserId,
        change: PostChange,
        text: Option<PostText>,
        out: &mut Vec<Event>,
    ) {
        let t = self.thread_mut(thread);
        t.version += 1;
        out.push(Event::PostChanged(PostChanged {
            community: t.community,
            thread,
            reply,
            actor,
            change,
            text,
            version: t.version,
        }));
    }

    pub(crate) fn create_thread(
        &mut self,
        c: &CreateThread,
        out: &mut Vec<Event>,
    ) -> Result<CommandReply, ResultCode> {
        check_text(&c.text, true, THREAD_CONTENT_MAX)?;
        let community = self.community(c.community)?;
        let role = self.poster(community, c.actor)?;
        if c.thread_type == ThreadType::Announcement && role.rank() < MemberRole::Moderator.rank() {
            return Err(ResultCode::NotCommunityModerator);
        }
        let author_wallet = self
            .users
            .get(c.actor)
            .and_then(|u| u.wallet(community.currency));
        if c.paywall_amount.0 != 0
            && (!(1..=MONEY_MOVE_MAX).contains(&c.paywall_amount.0) || author_wallet.is_none())
        {
            return Err(ResultCode::InvalidPaywall);
        }
        if self.social.threads.len() >= THREADS_MAX {
            return Err(ResultCode::TooManyPosts);
        }
        let social = &mut self.social;
        social.next_thread += 1;
        let id = ThreadId(social.next_thread);
        let now = self.now;
        social.threads.insert(
            id,
            Thread {
                id,
                community: c.community,
                author: c.actor,
                author_wallet,
                thread_type: c.thread_type,
                is_pinned: false,
                is_locked: false,
                is_deleted: false,
                paywall: c.paywall_amount.0,
                upvotes: 0,
                downvotes: 0,
                reply_count: 0,
                view_count: 0,
                purchases: 0,
                created_at: now,
                updated_at: now,
                last_reply_at: None,
                version: 0,
            },
        );
        let text = Some(c.text.clone());
        self.post_changed((id, None), c.actor, PostChange::Created, text, out);
        // The community's activity.
        let change = Change {
            post: (Some(id), None),
            ..Change::of(CommunityChange::ThreadCreated, c.actor, role)
        };
        self.community_changed(c.community, c.actor, change, out);
        Ok(CommandReply::Created(Created { id: id.0 }))
    }

    pub(crate) fn reply_thread(
        &mut self,
        c: &ReplyThread,
        out: &mut Vec<Event>,
    ) -> Result<CommandReply, ResultCode> {
        check_text(&c.text, false, REPLY_CONTENT_MAX)?;
        let (thread, community) = self.live_thread(c.thread)?;
        self.poster(community, c.actor)?;
        if !self.has_access(thread, community, c.actor) {
            return Err(ResultCode::PaywallRequired);
        }
        if thread.is_locked {
            return Err(ResultCode::ThreadLocked);
        }
        if thread.reply_count >= REPLIES_PER_THREAD_MAX {
            return Err(ResultCode::ThreadFull);
        }
        if self.social.replies.len() >= REPLIES_MAX {
            return Err(ResultCode::TooManyPosts);
        }
        let (root, depth) = match c.parent {
            None => (None, 1),
            Some(parent) => {
                let parent = self.reply_of(c.thread, parent)?;
                if parent.is_deleted {
                    return Err(ResultCode::PostDeleted);
                }
                if parent.depth >= REPLY_DEPTH_MAX {
                    return Err(ResultCode::ReplyTooDeep);
                }
                (Some(parent.root), parent.depth + 1)
            }
        };
        let social = &mut self.social;
        social.next_reply += 1;
        let id = ReplyId(social.next_reply);
        let now = self.now;
        social.replies.insert(
            id,
            ThreadReply {
                id,
                thread: c.thread,
                parent: c.parent,
                root: root.unwrap_or(id),
                depth,
                author: c.actor,
                upvotes: 0,
                downvotes: 0,
                is_deleted: false,
                created_at: now,
                updated_at: now,
            },
        );
        let thread = self.thread_mut(c.thread);
        thread.reply_count += 1;
        thread.last_reply_at = Some(now);
        let text = Some(c.text.clone());
        self.post_changed(
            (c.thread, Some(id)),
            c.actor,
            PostChange::Created,
            text,
            out,
        );
        Ok(CommandReply::Created(Created { id: id.0 }))
    }

    pub(crate) fn vote_post(
        &mut self,
        c: &VotePost,
        out: &mut Vec<Event>,
    ) -> Result<CommandReply, ResultCode> {
        let (thread, community) = self.live_thread(c.thread)?;
        let voter = self.users.get(c.actor).ok_or(ResultCode::UserNotFound)?;
        if voter.status != betbet_protocol::command::UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        if !self.may_read(community, c.actor) {
            return Err(ResultCode::MembersOnly);
        }
        if !self.has_access(thread, community, c.actor) {
            return Err(ResultCode::PaywallRequired);
        }
        let author = self.post_author(thread, c.reply)?;
        if author == c.actor {
            return Err(ResultCode::CannotVoteOwnPost);
        }
        let key = (c.thread, c.actor, c.reply.map_or(0, |r| r.0));
        let before = self.social.votes.get(&key).copied();
        let after = match c.vote {
            VoteDirection::Clear => None,
            VoteDirection::Up => Some(true),
            VoteDirection::Down => Some(false),
        };
        if before == after {
            return Ok(crate::done());
        }
        if before.is_none() && self.social.votes.len() >= VOTES_MAX {
            return Err(ResultCode::TooManyPosts);
        }
        match after {
            Some(up) => self.social.votes.insert(key, up),
            None => self.social.votes.remove(&key),
        };
        let counts = match c.reply {
            None => {
                let t = self.thread_mut(c.thread);
                (&mut t.upvotes, &mut t.downvotes)
            }
            Some(reply) => {
                let r = self
                    .social
                    .replies
                    .get_mut(&reply)
                    .expect("the reply was looked up before");
                (&mut r.upvotes, &mut r.downvotes)
            }
        };
        match before {
            Some(true) => *counts.0 -= 1,
            Some(false) => *counts.1 -= 1,
            None => {}
        }
        match after {
            Some(true) => *counts.0 += 1,
            Some(false) => *counts.1 += 1,
            None => {}
        }
        self.post_changed((c.thread, c.reply), c.actor, PostChange::Voted, None, out);
        Ok(crate::done())
    }

    pub(crate) fn moderate_thread(
        &mut self,
        c: &ModerateThread,
        out: &mut Vec<Event>,
    ) -> Result<CommandReply, ResultCode> {
        crate::text::body(&c.reason, MODERATION_REASON_MAX)?;
        let (thread, community) = self.live_thread(c.thread)?;
        // Pinning is curation, any thread's; locking acts on the author, so only on the
        // posts of lower roles.
        let author_role = match c.action {
            ThreadAction::Pin | ThreadAction::Unpin => {
                if !self.moderates(community, c.actor) {
                    return Err(ResultCode::NotCommunityModerator);
                }
                self.role_in(community, thread.author)
                    .unwrap_or(MemberRole::Member)
            }
            ThreadAction::Lock | ThreadAction::Unlock => {
                self.outranks(community, c.actor, thread.author)?
            }
        };
        let (pinned, locked) = (thread.is_pinned, thread.is_locked);
        let (author, community_id) = (thread.author, thread.community);
        let (field, value, post_change, community_change) = match c.action {
            ThreadAction::Pin => (
                pinned,
                true,
                PostChange::Pinned,
                CommunityChange::ThreadPinned,
            ),
            ThreadAction::Unpin => (
                pinned,
                false,
                PostChange::Unpinned,
                CommunityChange::ThreadUnpinned,
            ),
            ThreadAction::Lock => (
                locked,
                true,
                PostChange::Locked,
                CommunityChange::ThreadLocked,
            ),
            ThreadAction::Unlock => (
                locked,
                false,
                PostChange::Unlocked,
                CommunityChange::ThreadUnlocked,
            ),
        };
        if field == value {
            return Ok(crate::done());
        }
        let now = self.now;
        let t = self.thread_mut(c.thread);
        match c.action {
            ThreadAction::Pin | ThreadAction::Unpin => t.is_pinned = value,
            ThreadAction::Lock | ThreadAction::Unlock => t.is_locked = value,
        }
        t.updated_at = now;
        self.post_changed((c.thread, None), c.actor, post_change, None, out);
        let change = Change {
            reason: c.reason.clone(),
            post: (Some(c.thread), None),
            ..Change::of(community_change, author, author_role)
        };
        self.community_changed(community_id, c.actor, change, out);
        Ok(crate::done())
    }

    pub(crate) fn edit_post(
        &mut self,
        c: &EditPost,
        out: &mut Vec<Event>,
    ) -> Result<CommandReply, ResultCode> {
        let (thread, community) = self.live_thread(c.thread)?;
        let author = self.post_author(thread, c.reply)?;
        let max = match c.reply {
            None => THREAD_CONTENT_MAX,
            Some(_) => REPLY_CONTENT_MAX,
        };
        if author != c.actor {
            return Err(ResultCode::NotPostAuthor);
        }
        self.poster(community, c.actor)?;
        // A thread's edit carries its title (the gateway fills in the current one when a
        // client leaves it out); a reply has none.
        check_text(&c.text, c.reply.is_none(), max)?;
        let now = self.now;
        match c.reply {
            None => self.thread_mut(c.thread).updated_at = now,
            Some(reply) => {
                self.social
                    .replies
                    .get_mut(&reply)
                    .expect("the reply was looked up before")
                    .updated_at = now;
            }
        }
        let text = Some(c.text.clone());
        self.post_changed((c.thread, c.reply), c.actor, PostChange::Edited, text, out);
        Ok(crate::done())
    }

    pub(crate) fn delete_post(
        &mut self,
        c: &DeletePost,
        out: &mut Vec<Event>,
    ) -> Result<CommandReply, ResultCode> {
        crate::text::body(&c.reason, MODERATION_REASON_MAX)?;
        let (thread, community) = self.live_thread(c.thread)?;
        let author = self.post_author(thread, c.reply)?;
        let by_moderator = author != c.actor;
        let author_role = if by_moderator {
            // Another's post: a moderator's removal, of lower roles' posts only.
            if !self.moderates(community, c.actor) {
                return Err(ResultCode::NotPostAuthor);
            }
            self.outranks(community, c.actor, author)?
        } else {
            MemberRole::Member
        };
        let community_id = thread.community;
        let now = self.now;
        match c.reply {
            None => {
                let t = self.thread_mut(c.thread);
                t.is_deleted = true;
                t.is_pinned = false;
                t.updated_at = now;
            }
            Some(reply) => {
                let r = self
                    .social
                    .replies
                    .get_mut(&reply)
                    .expect("the reply was looked up before");
                r.is_deleted = true;
                r.updated_at = now;
            }
        }
        self.post_changed((c.thread, c.reply), c.actor, PostChange::Deleted, None, out);
        if by_moderator {
            let change = Change {
                reason: c.reason.clone(),
                post: (Some(c.thread), c.reply),
                ..Change::of(CommunityChange::PostRemoved, author, author_role)
            };
            self.community_changed(community_id, c.actor, change, out);
        }
        Ok(crate::done())
    }

    /// Pays a thread's paywall, once: to the author less the platform fee.
    pub(crate) fn buy_thread(
        &mut self,
        c: &ThreadReader,
        out: &mut Vec<Event>,
    ) -> Result<CommandReply, ResultCode> {
        let (thread, community) = self.live_thread(c.thread)?;
        if thread.paywall == 0 {
            return Err(ResultCode::InvalidPaywall);
        }
        if !self.may_read(community, c.actor) {
            return Err(ResultCode::MembersOnly);
        }
        if self.has_access(thread, community, c.actor) {
            // Bought before (or never needed to): nothing is charged again.
            return Ok(crate::done());
        }
        let (price, currency, author) = (thread.paywall, community.currency, thread.author);
        let author_wallet = thread
            .author_wallet
            .expect("a paywalled thread has its author's wallet");
        let wallet = self.entry_wallet(c.actor, currency, price)?;
        let why = (Reference::Thread(c.thread.0), LedgerReason::ThreadPurchase);
        self.pay_creator(why, (c.actor, wallet), (author, author_wallet), price, out);
        self.social.purchases.insert((c.thread, c.actor));
        self.thread_mut(c.thread).purchases += 1;
        self.post_changed((c.thread, None), c.actor, PostChange::Purchased, None, out);
        Ok(crate::done())
    }

    /// Counts a reader's view, once per reader and hour.
    pub(crate) fn view_thread(
        &mut self,
        c: &ThreadReader,
        out: &mut Vec<Event>,
    ) -> Result<CommandReply, ResultCode> {
        let (_, community) = self.live_thread(c.thread)?;
        if !self.may_read(community, c.actor) {
            return Err(ResultCode::MembersOnly);
        }
        let hour = self.now.0.div_euclid(MICROS_PER_HOUR);
        let social = &mut self.social;
        if social.views_hour != hour {
            social.views_hour = hour;
            social.viewed.clear();
        }
        if social.viewed.len() >= VIEWS_PER_HOUR_MAX || !social.viewed.insert((c.thread, c.actor)) {
            return Ok(crate::done());
        }
        self.thread_mut(c.thread).view_count += 1;
        self.post_changed((c.thread, None), c.actor, PostChange::Viewed, None, out);
        Ok(crate::done())
    }

    /// Every thread's votes and replies match what is recorded, and every reply's place
    /// in its tree is sound.
    pub(crate) fn check_threads(&self) {
        let social = &self.social;
        let mut counts = std::collections::BTreeMap::<(ThreadId, u64), (u32, u32)>::new();
        for (&(thread, voter, post), &up) in &social.votes {
            assert!(social.threads.contains_key(&thread));
            let entry = counts.entry((thread, post)).or_default();
            if up {
                entry.0 += 1
            } else {
                entry.1 += 1
            }
            let author = if post == 0 {
                social.threads[&thread].author
            } else {
                social.replies[&ReplyId(post)].author
            };
            assert_ne!(author, voter, "no vote on one's own post");
        }
        let mut replies = std::collections::BTreeMap::<ThreadId, u32>::new();
        for (id, reply) in &social.replies {
            *replies.entry(reply.thread).or_default() += 1;
            let votes = counts
                .get(&(reply.thread, id.0))
                .copied()
                .unwrap_or_default();
            assert_eq!((reply.upvotes, reply.downvotes), votes, "{id:?} votes");
            match reply.parent {
                None => assert_eq!((reply.root, reply.depth), (*id, 1)),
                Some(parent) => {
                    let parent = &social.replies[&parent];
                    assert_eq!(parent.thread, reply.thread);
                    assert_eq!(parent.root, reply.root);
                    assert_eq!(parent.depth + 1, reply.depth);
                    assert!(parent.id < *id);
                }
            }
            assert!(reply.depth <= REPLY_DEPTH_MAX);
        }
        for (id, thread) in &social.threads {
            assert!(social.communities.contains_key(&thread.community));
            let votes = counts.get(&(*id, 0)).copied().unwrap_or_default();
            assert_eq!((thread.upvotes, thread.downvotes), votes, "{id:?} votes");
            assert_eq!(thread.reply_count, replies.get(id).copied().unwrap_or(0));
            assert!(thread.paywall == 0 || thread.author_wallet.is_some());
        }
        let mut purchases = std::collections::BTreeMap::<ThreadId, u32>::new();
        for (thread, _) in &social.purchases {
            *purchases.entry(*thread).or_default() += 1;
        }
        for (id, thread) in &social.threads {
            assert_eq!(thread.purchases, purchases.get(id).copied().unwrap_or(0));
        }
    }
}

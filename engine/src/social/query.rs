//! The social views.

use super::{Community, Member, Thread};
use crate::Engine;
use betbet_protocol::message::Empty;
use betbet_protocol::query::{Query, QueryReply};
use betbet_protocol::social::{
    CommunityId, CommunityView, MemberView, ReplyId, ReplyView, ThreadView, VoteDirection,
};
use betbet_protocol::types::{Amount, UserId};

impl Engine {
    /// The highest community, thread and reply ids given so far (ids run from 1 and are
    /// never reused or removed), for a history store seeded from a snapshot.
    pub fn social_ids(&self) -> (u64, u64, u64) {
        let social = &self.social;
        (social.next_community, social.next_thread, social.next_reply)
    }

    /// Every membership of a community (active, pending and invited).
    pub fn community_members(&self, community: CommunityId) -> Vec<MemberView> {
        self.social
            .communities
            .get(&community)
            .map(|c| {
                c.members
                    .iter()
                    .map(|(&user, m)| member_view(community, user, m))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn query_social(&self, query: &Query) -> QueryReply {
        let not_found = QueryReply::NotFound(Empty {});
        match query {
            Query::Community(q) => match self.social.communities.get(&q.community) {
                Some(community) => QueryReply::Community(community_view(community, q.viewer)),
                None => not_found,
            },
            Query::CommunityMember(q) => self
                .social
                .communities
                .get(&q.community)
                .and_then(|c| c.members.get(&q.user))
                .map_or(not_found, |m| {
                    QueryReply::CommunityMember(member_view(q.community, q.user, m))
                }),
            Query::Thread(q) => match self.social.threads.get(&q.thread) {
                Some(thread) => QueryReply::Thread(self.thread_view(thread, q.viewer)),
                None => not_found,
            },
            Query::Reply(q) => match self.social.replies.get(&q.reply) {
                Some(r) => QueryReply::Reply(ReplyView {
                    id: r.id,
                    thread: r.thread,
                    parent: r.parent,
                    root: r.root,
                    depth: r.depth,
                    author: r.author,
                    upvotes: r.upvotes,
                    downvotes: r.downvotes,
                    is_deleted: r.is_deleted,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                }),
                None => not_found,
            },
            Query::Room(q) => self.query_room(q),
            Query::Blocks(q) => self.query_blocks(q.user),
            Query::Group(q) => self.query_group(q),
            _ => not_found,
        }
    }

    fn thread_view(&self, t: &Thread, viewer: UserId) -> ThreadView {
        let community = &self.social.communities[&t.community];
        let direction = |up: bool| {
            if up {
                VoteDirection::Up
            } else {
                VoteDirection::Down
            }
        };
        let votes = self
            .social
            .votes
            .range((t.id, viewer, 0)..=(t.id, viewer, u64::MAX));
        let mut viewer_vote = VoteDirection::Clear;
        let mut viewer_reply_votes = Vec::new();
        for (&(_, _, post), &up) in votes {
            if post == 0 {
                viewer_vote = direction(up);
            } else {
                viewer_reply_votes.push((ReplyId(post), direction(up)));
            }
        }
        ThreadView {
            id: t.id,
            community: t.community,
            community_kind: community.kind,
            author: t.author,
            thread_type: t.thread_type,
            is_pinned: t.is_pinned,
            is_locked: t.is_locked,
            is_deleted: t.is_deleted,
            paywall_amount: Amount(t.paywall),
            currency: community.currency,
            upvotes: t.upvotes,
            downvotes: t.downvotes,
            reply_count: t.reply_count,
            view_count: t.view_count,
            purchases: t.purchases,
            created_at: t.created_at,
            updated_at: t.updated_at,
            last_reply_at: t.last_reply_at,
            version: t.version,
            viewer_role: self.role_in(community, viewer),
            viewer_may_read: self.may_read(community, viewer),
            viewer_has_access: self.has_access(t, community, viewer),
            viewer_vote,
            viewer_reply_votes,
        }
    }
}

pub(crate) fn member_view(community: CommunityId, user: UserId, m: &Member) -> MemberView {
    MemberView {
        community,
        user,
        role: m.role,
        status: m.status,
        joined_at: m.joined_at,
        muted_until: m.muted_until,
        banned_until: m.banned_until,
        fee_paid: Amount(m.fee_paid),
    }
}

fn community_view(c: &Community, viewer: UserId) -> CommunityView {
    CommunityView {
        id: c.id,
        name: c.name.clone(),
        description: c.description.clone(),
        category: c.category.clone(),
        kind: c.kind,
        membership_fee: Amount(c.membership_fee),
        currency: c.currency,
        owner: c.owner,
        member_count: c.member_count,
        pending_count: c.pending_count,
        created_at: c.created_at,
        last_activity: c.last_activity,
        version: c.version,
        viewer: c.members.get(&viewer).map(|m| member_view(c.id, viewer, m)),
    }
}

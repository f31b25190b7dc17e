//! The social views.

use super::{Community, Member};
use crate::Engine;
use betbet_protocol::message::Empty;
use betbet_protocol::query::{Query, QueryReply};
use betbet_protocol::social::{CommunityId, CommunityView, MemberView};
use betbet_protocol::types::{Amount, UserId};

impl Engine {
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
            _ => not_found,
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

//! Accounts: users, roles and status, login sessions, 2FA (`totp`), profiles and KYC
//! (`users`), and the QUIC feed's API keys and logins (`apikeys`).

pub(crate) mod apikeys;
pub(crate) mod totp;
pub(crate) mod users;

use crate::family::{CommandFamily, misrouted};
use crate::{Ctx, Engine};
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::message::Reply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Timestamp;

pub(crate) struct Family;

impl CommandFamily for Family {
    fn apply(
        engine: &mut Engine,
        command: &Command,
        ctx: &Ctx,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        match command {
            Command::RegisterUser(c) => engine.register_user(c, ctx, out),
            Command::SetUserRole(c) => engine.set_user_role(c, out),
            Command::SetUserStatus(c) => engine.set_user_status(c, out),
            Command::OpenSession(c) => engine.open_session(c, out),
            Command::RefreshSession(c) => engine.refresh_session(c, out),
            Command::RevokeSession(c) => engine.revoke_session(c, out),
            Command::BeginTwoFa(c) => engine.begin_two_fa(c),
            Command::VerifyTwoFa(c) => engine.verify_two_fa(c, out),
            Command::UpdateProfile(c) => engine.update_profile(c, out),
            Command::SubmitKyc(c) => engine.submit_kyc(c),
            Command::DecideKyc(c) => engine.decide_kyc(c, out),
            Command::CreateApiKey(c) => engine.create_api_key(c),
            Command::RevokeApiKey(c) => engine.revoke_api_key(c, out),
            Command::ApiKeyLogin(c) => engine.api_key_login(c),
            other => misrouted(other, "accounts"),
        }
    }

    /// Login sessions age out.
    fn tick(engine: &mut Engine, _out: &mut Vec<Event>) {
        engine.expire_sessions();
    }

    fn next_deadline(engine: &Engine) -> Option<Timestamp> {
        engine.users.session_expiry.first().map(|&(at, _)| at)
    }

    fn check(engine: &Engine) {
        engine.users.check();
    }
}

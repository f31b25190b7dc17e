//! Wallet routes: wallets and balances, deposits (with providers and the signed webhook),
//! withdrawals (with admin decisions), transactions, P2P transfers and payment methods.
//!
//! Every route checks that the caller owns the object (or is an admin) before it reads or
//! changes it; money routes take an `Idempotency-Key` header, and a retry with the same key
//! gets the first answer back.

use super::table::{Access::*, BodyKind::*, DELETE, GET, POST, Routes};
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{Body, Dec, OptBody, Params, amount, currency, money, opt_time, time, timestamp};
use crate::payments::ProviderStep;
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use betbet_protocol::command::{
    AddPaymentMethod, CancelWithdrawal, Command, ConfirmDeposit, CreateWallet, DecideWithdrawal,
    InitiateDeposit, PaymentMethodType, RemovePaymentMethod, RequestWithdrawal, Transfer,
};
use betbet_protocol::event::{TxStatus, TxType};
use betbet_protocol::message::Reply;
use betbet_protocol::query::{
    LoginQuery, PAGE_LIMIT_MAX, PaymentMethodQuery, Query, QueryReply, TxIdQuery, TxQuery,
    UserQuery, WalletQuery,
};
use betbet_protocol::types::{
    AccountId, IdempotencyKey, MarketId, PaymentMethodId, PoolId, TxId, UserId,
};
use betbet_protocol::view::{PaymentMethodView, ReferenceType, TxView, WalletView};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes(config: &crate::config::GatewayConfig) -> Routes<AppState> {
    let payments = Arc::new(crate::payments::Payments::new(
        config.sandbox_payments,
        config.webhook_secret.as_deref(),
    ));
    let with = |payments: &Arc<crate::payments::Payments>| axum::Extension(Arc::clone(payments));
    Routes::new()
        .route(
            "/wallets/create",
            &[(POST, User, JsonBody)],
            post(create_wallet),
        )
        .route("/wallets/{id}", &[(GET, Owner, NoBody)], get(list_wallets))
        .route(
            "/wallets/{id}/balance",
            &[(GET, Owner, NoBody)],
            get(balance),
        )
        .route(
            "/deposits/initiate",
            &[(POST, User, JsonBody)],
            post(initiate_deposit).layer(with(&payments)),
        )
        .route(
            "/deposits/confirm",
            &[(POST, User, JsonBody)],
            post(confirm_deposit).layer(with(&payments)),
        )
        .route(
            "/deposits/webhook/{provider}",
            &[(POST, Signed, RawBody)],
            post(deposit_webhook).layer(with(&payments)),
        )
        .route(
            "/deposits/providers",
            &[(GET, Public, NoBody)],
            get(providers).layer(with(&payments)),
        )
        .route(
            "/deposits/{user_id}/history",
            &[(GET, Owner, NoBody)],
            get(deposit_history),
        )
        .route(
            "/withdrawals/request",
            &[(POST, User, JsonBody)],
            post(request_withdrawal),
        )
        .route(
            "/withdrawals/{id}/history",
            &[(GET, Owner, NoBody)],
            get(withdrawal_history),
        )
        .route(
            "/withdrawals/{id}/cancel",
            &[(POST, Owner, NoBody)],
            post(cancel_withdrawal),
        )
        .route(
            "/admin/withdrawals/{withdrawal_id}/approve",
            &[(POST, Admin, MaybeJsonBody)],
            post(approve_withdrawal),
        )
        .route(
            "/admin/withdrawals/{withdrawal_id}/reject",
            &[(POST, Admin, MaybeJsonBody)],
            post(reject_withdrawal),
        )
        .route(
            "/transactions/{id}",
            &[(GET, Owner, NoBody)],
            get(transactions),
        )
        .route(
            "/transfers/send",
            &[(POST, User, JsonBody)],
            post(send_transfer),
        )
        .route(
            "/transfers/{user_id}/history",
            &[(GET, Owner, NoBody)],
            get(transfer_history),
        )
        .route(
            "/payment-methods/add",
            &[(POST, User, JsonBody)],
            post(add_payment_method),
        )
        .route(
            "/payment-methods/{id}",
            &[(GET, Owner, NoBody), (DELETE, Owner, NoBody)],
            get(list_payment_methods).delete(remove_payment_method),
        )
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<IdempotencyKey>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(IdempotencyKey::new)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request("Idempotency-Key must be 1 to 64 visible ASCII characters")
            }),
    }
}

/// The currency a request names, or — the spec's requests name none — the currency of the
/// user's default (first) wallet; `None` when it names none and the user has no wallet.
async fn requested_currency(
    state: &AppState,
    user: UserId,
    code: Option<&str>,
) -> ApiResult<Option<betbet_protocol::types::Currency>> {
    if let Some(code) = code {
        return currency(code).map(Some);
    }
    let QueryReply::Wallets(wallets) = state.query(Query::Wallets(UserQuery { user })).await?
    else {
        return Err(ApiError::not_found("user"));
    };
    Ok(wallets.first().map(|w| w.currency))
}

/// [`requested_currency`], where money must come from a wallet the user has.
async fn wallet_currency(
    state: &AppState,
    user: UserId,
    code: Option<&str>,
) -> ApiResult<betbet_protocol::types::Currency> {
    requested_currency(state, user, code)
        .await?
        .ok_or_else(|| ApiError::from(betbet_protocol::result::ResultCode::UnknownAccount))
}

pub fn wallet_json(wallet: &WalletView) -> Value {
    json!({
        "id": wallet.id.public(),
        "user_id": wallet.user.public(),
        "currency": wallet.currency.as_str(),
        "balance": money(betbet_protocol::types::Amount(wallet.available.0 + wallet.locked.0)),
        "available_balance": money(wallet.available),
        "locked_balance": money(wallet.locked),
        "wallet_type": if ["BTC", "ETH", "USDC", "USDT"].contains(&wallet.currency.as_str()) { "crypto" } else { "fiat" },
        "wallet_address": Value::Null,
        "is_default": wallet.is_default,
        "created_at": time(wallet.created_at),
    })
}

fn reference_id(tx: &TxView) -> Value {
    match tx.reference_type {
        ReferenceType::None => Value::Null,
        ReferenceType::Market => MarketId(tx.reference_id).public().into(),
        ReferenceType::P2p => TxId(tx.reference_id).public().into(),
        ReferenceType::Pool => PoolId(tx.reference_id).public().into(),
    }
}

pub fn tx_json(tx: &TxView) -> Value {
    json!({
        "id": tx.id.public(),
        "user_id": tx.user.public(),
        "wallet_id": tx.wallet.public(),
        "type": tx.tx_type.as_str(),
        "status": tx.status.as_str(),
        "amount": money(tx.amount),
        "fee": money(tx.fee),
        "direction": if tx.credit { "credit" } else { "debit" },
        "currency": tx.currency.as_str(),
        "counterparty_id": tx.counterparty.map(PublicId::public),
        "reference_type": if tx.reference_type == ReferenceType::None { Value::Null } else { tx.reference_type.as_str().into() },
        "reference_id": reference_id(tx),
        "payment_method": if tx.payment_method.is_empty() { Value::Null } else { tx.payment_method.clone().into() },
        "payment_method_id": tx.payment_method_id.map(PublicId::public),
        "provider_reference": if tx.provider_reference.is_empty() { Value::Null } else { tx.provider_reference.clone().into() },
        "memo": tx.memo,
        "notes": tx.notes,
        "processed_by": tx.processed_by.filter(|u| *u != UserId::SYSTEM).map(PublicId::public),
        "created_at": time(tx.created_at),
        "completed_at": opt_time(tx.completed_at),
    })
}

fn method_json(method: &PaymentMethodView) -> Value {
    json!({
        "id": method.id.public(),
        "user_id": method.user.public(),
        "method_type": method.method_type.as_str(),
        "provider": method.provider,
        "account_hint": method.display_hint,
        "is_verified": method.is_verified,
        "is_default": method.is_default,
        "created_at": time(method.created_at),
    })
}

async fn fetch_wallet(state: &AppState, wallet: AccountId) -> ApiResult<WalletView> {
    match state.query(Query::Wallet(WalletQuery { wallet })).await? {
        QueryReply::Wallet(view) => Ok(view),
        _ => Err(ApiError::not_found("wallet")),
    }
}

pub async fn fetch_tx(state: &AppState, tx: TxId) -> ApiResult<TxView> {
    match state.query(Query::Transaction(TxIdQuery { tx })).await? {
        QueryReply::Transaction(view) => Ok(view),
        _ => Err(ApiError::not_found("transaction")),
    }
}

async fn history(
    state: &AppState,
    user: UserId,
    tx_type: Option<TxType>,
    since: Option<betbet_protocol::types::Timestamp>,
    offset: u32,
    limit: u32,
) -> ApiResult<Vec<TxView>> {
    match state
        .query(Query::Transactions(TxQuery {
            user,
            tx_type,
            since,
            offset,
            limit,
        }))
        .await?
    {
        QueryReply::Transactions(txs) => Ok(txs),
        _ => Ok(Vec::new()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWalletBody {
    currency: String,
    user_id: Option<String>,
}

async fn create_wallet(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateWalletBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = caller.acting_for(body.user_id.as_deref())?;
    let reply = state
        .core
        .execute(Command::CreateWallet(CreateWallet {
            actor: caller.user,
            user,
            currency: currency(&body.currency)?,
        }))
        .await?;
    let Reply::Created(created) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok((
        StatusCode::CREATED,
        Json(wallet_json(
            &fetch_wallet(&state, AccountId(created.id)).await?,
        )),
    ))
}

/// `GET /wallets/{user_id}`: the spec names the parameter after the user.
async fn list_wallets(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = super::users::parse_user(&id)?;
    caller.may_access(user)?;
    let QueryReply::Wallets(wallets) = state.query(Query::Wallets(UserQuery { user })).await?
    else {
        return Err(ApiError::not_found("user"));
    };
    Ok(Json(
        json!({ "user_id": user.public(), "wallets": wallets.iter().map(wallet_json).collect::<Vec<_>>() }),
    ))
}

async fn balance(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(wallet_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let wallet: AccountId = crate::ids::parse_path(&wallet_id, "wallet")?;
    let view = fetch_wallet(&state, wallet).await?;
    // Someone else's wallet does not exist as far as the caller can tell.
    if caller.may_access(view.user).is_err() {
        return Err(ApiError::not_found("wallet"));
    }
    Ok(Json(wallet_json(&view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepositBody {
    amount: Dec,
    /// Default: the currency of the user's default wallet (USD for a user without one).
    currency: Option<String>,
    payment_method: String,
    user_id: Option<String>,
}

async fn initiate_deposit(
    State(state): State<AppState>,
    axum::Extension(payments): axum::Extension<Arc<crate::payments::Payments>>,
    caller: AuthUser,
    headers: HeaderMap,
    Body(body): Body<DepositBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = caller.acting_for(body.user_id.as_deref())?;
    // A provider's name, or one of the user's saved payment methods (`pmt_…`), whose
    // provider it then is.
    let provider_name = match PaymentMethodId::parse(&body.payment_method) {
        Some(id) => match state
            .query(Query::PaymentMethod(PaymentMethodQuery { id }))
            .await?
        {
            QueryReply::PaymentMethod(method) if method.user == user => {
                method.provider.to_ascii_lowercase()
            }
            _ => return Err(ApiError::not_found("payment method")),
        },
        None => body.payment_method.to_ascii_lowercase(),
    };
    let provider = payments.provider(&provider_name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown payment provider `{}`; available: {}",
            body.payment_method,
            payments.names().join(", ")
        ))
    })?;
    let amount = amount("amount", body.amount)?;
    // A first deposit opens the wallet: USD when the request names no currency.
    let currency = match requested_currency(&state, user, body.currency.as_deref()).await? {
        Some(currency) => currency,
        None => currency("USD")?,
    };
    let reply = state
        .core
        .execute(Command::InitiateDeposit(InitiateDeposit {
            actor: caller.user,
            user,
            currency,
            amount,
            payment_method: provider_name,
            idempotency_key: idempotency_key(&headers)?,
        }))
        .await?;
    let Reply::Tx(tx) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let mut instructions = Value::Null;
    let current = fetch_tx(&state, tx.tx).await?;
    if current.status == TxStatus::Pending {
        match provider.initiate(&tx.tx.public(), &money(amount), currency.as_str()) {
            ProviderStep::ConfirmNow { reference } => {
                state
                    .core
                    .execute(Command::ConfirmDeposit(ConfirmDeposit {
                        actor: UserId::SYSTEM,
                        deposit: tx.tx,
                        provider_reference: reference,
                    }))
                    .await?;
            }
            ProviderStep::AwaitWebhook { instructions: text } => instructions = text.into(),
        }
    }
    let mut body = tx_json(&fetch_tx(&state, tx.tx).await?);
    body["instructions"] = instructions;
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    deposit_id: String,
    #[serde(default)]
    payment_proof: Option<Value>,
}

/// A user's confirmation: the sandbox confirms on it; real providers confirm only through
/// their signed webhook, so for them this reports the deposit as still pending.
async fn confirm_deposit(
    State(state): State<AppState>,
    axum::Extension(payments): axum::Extension<Arc<crate::payments::Payments>>,
    caller: AuthUser,
    Body(body): Body<ConfirmBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let _ = body.payment_proof;
    let deposit = TxId::parse(&body.deposit_id).ok_or_else(|| ApiError::not_found("deposit"))?;
    let tx = fetch_tx(&state, deposit).await?;
    if tx.tx_type != TxType::Deposit || caller.may_access(tx.user).is_err() {
        return Err(ApiError::not_found("deposit"));
    }
    if tx.status == TxStatus::Pending
        && let Some(provider) = payments.provider(&tx.payment_method)
        && let ProviderStep::ConfirmNow { reference } =
            provider.initiate(&deposit.public(), &money(tx.amount), tx.currency.as_str())
    {
        state
            .core
            .execute(Command::ConfirmDeposit(ConfirmDeposit {
                actor: UserId::SYSTEM,
                deposit,
                provider_reference: reference,
            }))
            .await?;
        return Ok((
            StatusCode::OK,
            Json(tx_json(&fetch_tx(&state, deposit).await?)),
        ));
    }
    if tx.status != TxStatus::Pending {
        return Err(ApiError::from(
            betbet_protocol::result::ResultCode::DepositNotPending,
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(tx_json(&tx))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    deposit_id: String,
    provider_reference: String,
    status: String,
}

async fn deposit_webhook(
    State(state): State<AppState>,
    axum::Extension(payments): axum::Extension<Arc<crate::payments::Payments>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    if !payments.webhook_enabled() {
        return Err(ApiError::not_found("route"));
    }
    let signature = headers
        .get("x-betbet-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !payments.verify_webhook(&body, signature) {
        return Err(ApiError::unauthorized("bad webhook signature"));
    }
    let body: WebhookBody =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let deposit = TxId::parse(&body.deposit_id).ok_or_else(|| ApiError::not_found("deposit"))?;
    let tx = fetch_tx(&state, deposit).await?;
    if tx.tx_type != TxType::Deposit || tx.payment_method != provider {
        return Err(ApiError::not_found("deposit"));
    }
    if body.status != "confirmed" {
        return Err(ApiError::bad_request(
            "only `confirmed` deposits are reported",
        ));
    }
    state
        .core
        .execute(Command::ConfirmDeposit(ConfirmDeposit {
            actor: UserId::SYSTEM,
            deposit,
            provider_reference: body.provider_reference,
        }))
        .await?;
    Ok(Json(tx_json(&fetch_tx(&state, deposit).await?)))
}

async fn providers(
    axum::Extension(payments): axum::Extension<Arc<crate::payments::Payments>>,
) -> Json<Value> {
    Json(json!({ "providers": payments.names() }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    limit: Option<u32>,
    page: Option<u32>,
    #[serde(rename = "type")]
    tx_type: Option<String>,
    date_from: Option<String>,
}

fn paging(params: &HistoryParams, default: u32) -> (u32, u32) {
    let limit = params.limit.unwrap_or(default).clamp(1, PAGE_LIMIT_MAX);
    let page = params.page.unwrap_or(1).max(1);
    ((page - 1).saturating_mul(limit), limit)
}

async fn typed_history(
    state: &AppState,
    caller: AuthUser,
    user_id: &str,
    tx_type: TxType,
    params: &HistoryParams,
) -> ApiResult<Json<Value>> {
    let user = super::users::parse_user(user_id)?;
    caller.may_access(user)?;
    // This history is of one type: a different `type` is a mistake, not a filter to drop.
    if let Some(asked) = params.tx_type.as_deref()
        && TxType::parse(asked) != Some(tx_type)
    {
        return Err(ApiError::bad_request(format!(
            "this history lists {} transactions only; `type` may only be `{}`",
            tx_type.as_str(),
            tx_type.as_str()
        )));
    }
    let since = params
        .date_from
        .as_deref()
        .map(|d| timestamp("date_from", d))
        .transpose()?;
    let (offset, limit) = paging(params, 50);
    let txs = history(state, user, Some(tx_type), since, offset, limit).await?;
    Ok(Json(
        json!({ "user_id": user.public(), "items": txs.iter().map(tx_json).collect::<Vec<_>>() }),
    ))
}

async fn deposit_history(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<Value>> {
    typed_history(&state, caller, &user_id, TxType::Deposit, &params).await
}

async fn withdrawal_history(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<Value>> {
    typed_history(&state, caller, &user_id, TxType::Withdrawal, &params).await
}

async fn transfer_history(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<Value>> {
    typed_history(&state, caller, &user_id, TxType::Transfer, &params).await
}

/// `GET /transactions/{id}`: a user id lists that user's transactions (filters `type`,
/// `date_from`, `page`, `limit`); a transaction id returns that transaction.
async fn transactions(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<Value>> {
    if let Some(tx) = TxId::parse(&id) {
        let view = fetch_tx(&state, tx).await?;
        if caller.may_access(view.user).is_err() {
            return Err(ApiError::not_found("transaction"));
        }
        return Ok(Json(tx_json(&view)));
    }
    let user: UserId = crate::ids::parse_path(&id, "transaction or user")?;
    caller.may_access(user)?;
    let tx_type = params
        .tx_type
        .as_deref()
        .map(|t| {
            TxType::parse(t)
                .ok_or_else(|| ApiError::bad_request(format!("unknown transaction type `{t}`")))
        })
        .transpose()?;
    let since = params
        .date_from
        .as_deref()
        .map(|d| timestamp("date_from", d))
        .transpose()?;
    let (offset, limit) = paging(&params, 50);
    let txs = history(&state, user, tx_type, since, offset, limit).await?;
    Ok(Json(json!({
        "user_id": user.public(),
        "page": offset / limit + 1,
        "limit": limit,
        "items": txs.iter().map(tx_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawalBody {
    amount: Dec,
    currency: Option<String>,
    payment_method_id: String,
    user_id: Option<String>,
}

async fn request_withdrawal(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    Body(body): Body<WithdrawalBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = caller.acting_for(body.user_id.as_deref())?;
    let method = PaymentMethodId::parse(&body.payment_method_id)
        .ok_or_else(|| ApiError::not_found("payment method"))?;
    let currency = wallet_currency(&state, user, body.currency.as_deref()).await?;
    let reply = state
        .core
        .execute(Command::RequestWithdrawal(RequestWithdrawal {
            actor: caller.user,
            user,
            currency,
            amount: amount("amount", body.amount)?,
            payment_method: method,
            idempotency_key: idempotency_key(&headers)?,
        }))
        .await?;
    let Reply::Tx(tx) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok((
        StatusCode::CREATED,
        Json(tx_json(&fetch_tx(&state, tx.tx).await?)),
    ))
}

fn parse_withdrawal(id: &str) -> ApiResult<TxId> {
    crate::ids::parse_path(id, "withdrawal")
}

async fn cancel_withdrawal(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(withdrawal_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let withdrawal = parse_withdrawal(&withdrawal_id)?;
    state
        .core
        .execute(Command::CancelWithdrawal(CancelWithdrawal {
            actor: caller.user,
            withdrawal,
        }))
        .await?;
    Ok(Json(tx_json(&fetch_tx(&state, withdrawal).await?)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NotesBody {
    #[serde(default)]
    notes: String,
}

async fn decide_withdrawal(
    state: &AppState,
    caller: AuthUser,
    id: &str,
    approve: bool,
    notes: String,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let withdrawal = parse_withdrawal(id)?;
    state
        .core
        .execute(Command::DecideWithdrawal(DecideWithdrawal {
            actor: caller.user,
            withdrawal,
            approve,
            notes,
        }))
        .await?;
    Ok(Json(tx_json(&fetch_tx(state, withdrawal).await?)))
}

async fn approve_withdrawal(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    OptBody(body): OptBody<NotesBody>,
) -> ApiResult<Json<Value>> {
    decide_withdrawal(&state, caller, &id, true, body.notes).await
}

async fn reject_withdrawal(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    OptBody(body): OptBody<NotesBody>,
) -> ApiResult<Json<Value>> {
    decide_withdrawal(&state, caller, &id, false, body.notes).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    /// The spec's sender: must be the caller (only the owner of the money sends it).
    sender_id: Option<String>,
    /// A username or a user id (`usr_…`).
    recipient: String,
    amount: Dec,
    /// Default: the currency of the sender's default wallet.
    currency: Option<String>,
    #[serde(default)]
    memo: String,
}

async fn send_transfer(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    Body(body): Body<TransferBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_self(
        "sender_id",
        body.sender_id.as_deref(),
        "only the owner of the money sends it",
    )?;
    let currency = wallet_currency(&state, caller.user, body.currency.as_deref()).await?;
    let recipient = match UserId::parse(&body.recipient) {
        Some(user) => user,
        None => match state
            .query(Query::UserByLogin(LoginQuery {
                login: body.recipient.clone(),
            }))
            .await?
        {
            // Only usernames name recipients; an email address does not.
            QueryReply::UserAuth(user) if !body.recipient.contains('@') => user.user,
            _ => {
                return Err(ApiError::from(
                    betbet_protocol::result::ResultCode::UserNotFound,
                ));
            }
        },
    };
    let reply = state
        .core
        .execute(Command::Transfer(Transfer {
            actor: caller.user,
            sender: caller.user,
            recipient,
            currency,
            amount: amount("amount", body.amount)?,
            memo: body.memo,
            idempotency_key: idempotency_key(&headers)?,
        }))
        .await?;
    let Reply::Tx(tx) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok((
        StatusCode::CREATED,
        Json(tx_json(&fetch_tx(&state, tx.tx).await?)),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentMethodBody {
    method_type: String,
    /// Default: `details.provider` when it is a string, else the method type itself.
    provider: Option<String>,
    details: Value,
    user_id: Option<String>,
}

/// The last four digits or characters of the most identifying detail, for display.
fn display_hint(details: &serde_json::Map<String, Value>) -> String {
    for key in [
        "card_number",
        "account_number",
        "phone",
        "phone_number",
        "iban",
        "address",
        "wallet_address",
    ] {
        if let Some(Value::String(text)) = details.get(key) {
            let tail: String = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let start = tail.len().saturating_sub(4);
            return format!("•••• {}", &tail[start..]);
        }
    }
    String::new()
}

async fn add_payment_method(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<PaymentMethodBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = caller.acting_for(body.user_id.as_deref())?;
    let method_type = PaymentMethodType::parse(&body.method_type).ok_or_else(|| {
        ApiError::bad_request("method_type is bank, mobile_money, card or crypto")
    })?;
    let Value::Object(details) = &body.details else {
        return Err(ApiError::bad_request("details must be a JSON object"));
    };
    let plain = serde_json::to_vec(&body.details).expect("JSON serializes");
    if details.is_empty() || plain.len() > 2_048 {
        return Err(ApiError::bad_request(
            "details must be a non-empty object of at most 2 KiB",
        ));
    }
    let provider = body
        .provider
        .or_else(|| {
            details
                .get("provider")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| method_type.as_str().to_owned());
    let reply = state
        .core
        .execute(Command::AddPaymentMethod(AddPaymentMethod {
            actor: caller.user,
            user,
            method_type,
            provider,
            details_sealed: state.keys.seal(&plain),
            display_hint: display_hint(details),
        }))
        .await?;
    let Reply::Created(created) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let QueryReply::PaymentMethod(method) = state
        .query(Query::PaymentMethod(PaymentMethodQuery {
            id: PaymentMethodId(created.id),
        }))
        .await?
    else {
        return Err(ApiError::not_found("payment method"));
    };
    Ok((StatusCode::CREATED, Json(method_json(&method))))
}

async fn list_payment_methods(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = super::users::parse_user(&id)?;
    caller.may_access(user)?;
    let QueryReply::PaymentMethods(methods) = state
        .query(Query::PaymentMethods(UserQuery { user }))
        .await?
    else {
        return Err(ApiError::not_found("user"));
    };
    Ok(Json(
        json!({ "user_id": user.public(), "payment_methods": methods.iter().map(method_json).collect::<Vec<_>>() }),
    ))
}

async fn remove_payment_method(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(method_id): Path<String>,
) -> ApiResult<StatusCode> {
    let method = crate::ids::parse_path(&method_id, "payment method")?;
    state
        .core
        .execute(Command::RemovePaymentMethod(RemovePaymentMethod {
            actor: caller.user,
            method,
        }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Wallet routes: wallets and balances, deposits (with providers and the signed webhook),
//! withdrawals (with admin decisions), transactions, P2P transfers and payment methods.
//!
//! Every route checks that the caller owns the object (or is an admin) before it reads or
//! changes it; money routes take an `Idempotency-Key` header, and a retry with the same key
//! gets the first answer back.

use super::table::{Access::*, BodyKind::*, DELETE, Documented, GET, POST, Routes};
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{Body, Dec, OptBody, Params, amount, currency, money, opt_time, time, timestamp};
use crate::payments::ProviderStep;
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
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
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

pub fn routes(config: &crate::config::GatewayConfig) -> Routes<AppState> {
    let payments = Arc::new(crate::payments::Payments::new(
        config.sandbox_payments,
        config.webhook_secret.as_deref(),
    ));
    // The deposit routes reach the payment providers through an extension.
    let with = |(schemas, paths, handlers): Documented<AppState>| {
        (
            schemas,
            paths,
            handlers.layer(axum::Extension(Arc::clone(&payments))),
        )
    };
    Routes::new()
        .route(&[(POST, User, JsonBody)], routes!(create_wallet))
        .route(&[(GET, Owner, NoBody)], routes!(list_wallets))
        .route(&[(GET, Owner, NoBody)], routes!(wallet_balance))
        .route(&[(POST, User, JsonBody)], with(routes!(initiate_deposit)))
        .route(&[(POST, User, JsonBody)], with(routes!(confirm_deposit)))
        .route(&[(POST, Signed, RawBody)], with(routes!(deposit_webhook)))
        .route(&[(GET, Public, NoBody)], with(routes!(deposit_providers)))
        .route(&[(GET, Owner, NoBody)], routes!(deposit_history))
        .route(&[(POST, User, JsonBody)], routes!(request_withdrawal))
        .route(&[(GET, Owner, NoBody)], routes!(withdrawal_history))
        .route(&[(POST, Owner, NoBody)], routes!(cancel_withdrawal))
        .route(&[(POST, Admin, MaybeJsonBody)], routes!(approve_withdrawal))
        .route(&[(POST, Admin, MaybeJsonBody)], routes!(reject_withdrawal))
        .route(&[(GET, Owner, NoBody)], routes!(transactions_by_id))
        .route(&[(POST, User, JsonBody)], routes!(send_transfer))
        .route(&[(GET, Owner, NoBody)], routes!(transfer_history))
        .route(&[(POST, User, JsonBody)], routes!(add_payment_method))
        .route(
            &[(GET, Owner, NoBody), (DELETE, Owner, NoBody)],
            routes!(list_payment_methods, remove_payment_method),
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

/// A wallet: one currency's balance of one user.
#[derive(Serialize, ToSchema)]
pub struct Wallet {
    /// `wal_<n>`.
    id: String,
    user_id: String,
    /// A currency code: 2 to 8 upper-case letters or digits.
    #[schema(pattern = "^[A-Z0-9]{2,8}$", example = "USD")]
    currency: String,
    /// `available_balance` plus `locked_balance`, a decimal string.
    balance: String,
    /// What may be spent, withdrawn or sent now, a decimal string.
    available_balance: String,
    /// Held by open orders and pending withdrawals, a decimal string.
    locked_balance: String,
    /// `crypto` for BTC, ETH, USDC and USDT, else `fiat`.
    #[schema(pattern = "^(crypto|fiat)$")]
    wallet_type: &'static str,
    /// Always null: wallets have no on-chain address.
    #[schema(required = true)]
    wallet_address: Option<String>,
    /// The user's first wallet, whose currency requests that name none use.
    is_default: bool,
    created_at: String,
}

pub fn wallet_json(wallet: &WalletView) -> Wallet {
    Wallet {
        id: wallet.id.public(),
        user_id: wallet.user.public(),
        currency: wallet.currency.as_str().to_owned(),
        balance: money(betbet_protocol::types::Amount(
            wallet.available.0 + wallet.locked.0,
        )),
        available_balance: money(wallet.available),
        locked_balance: money(wallet.locked),
        wallet_type: if ["BTC", "ETH", "USDC", "USDT"].contains(&wallet.currency.as_str()) {
            "crypto"
        } else {
            "fiat"
        },
        wallet_address: None,
        is_default: wallet.is_default,
        created_at: time(wallet.created_at),
    }
}

fn reference_id(tx: &TxView) -> Option<String> {
    match tx.reference_type {
        ReferenceType::None => None,
        ReferenceType::Market => Some(MarketId(tx.reference_id).public()),
        ReferenceType::P2p => Some(TxId(tx.reference_id).public()),
        ReferenceType::Pool => Some(PoolId(tx.reference_id).public()),
        ReferenceType::GameSession => {
            Some(betbet_protocol::games::GameSessionId(tx.reference_id).public())
        }
        ReferenceType::Tournament => {
            Some(betbet_protocol::games::TournamentId(tx.reference_id).public())
        }
        ReferenceType::Community => {
            Some(betbet_protocol::social::CommunityId(tx.reference_id).public())
        }
        ReferenceType::Thread => Some(betbet_protocol::social::ThreadId(tx.reference_id).public()),
        ReferenceType::Group => Some(betbet_protocol::social::GroupId(tx.reference_id).public()),
    }
}

/// A movement of money into or out of a wallet.
#[derive(Serialize, ToSchema)]
pub struct Transaction {
    /// `txn_<n>`.
    id: String,
    user_id: String,
    wallet_id: String,
    #[serde(rename = "type")]
    #[schema(pattern = "^(deposit|withdrawal|transfer|bet|payout|fee|refund|contribution)$")]
    tx_type: &'static str,
    /// `pending` while a deposit awaits its provider or a withdrawal an admin's decision.
    #[schema(pattern = "^(pending|completed|cancelled|rejected)$")]
    status: &'static str,
    /// A positive decimal string; `direction` says which way it moved.
    amount: String,
    /// The fee charged on top of `amount`, a decimal string (`"0"` for none).
    fee: String,
    #[schema(pattern = "^(credit|debit)$")]
    direction: &'static str,
    #[schema(pattern = "^[A-Z0-9]{2,8}$", example = "USD")]
    currency: String,
    /// The other user of a transfer (null otherwise).
    #[schema(required = true)]
    counterparty_id: Option<String>,
    /// What the transaction is about, with `reference_id`; null for none.
    #[schema(
        required = true,
        pattern = "^(market|p2p|pool|game_session|tournament|community|thread|group)$"
    )]
    reference_type: Option<&'static str>,
    /// By `reference_type`: a market id `mkt_<n>`, a transaction id `txn_<n>` (p2p), a pool
    /// id `pool_<n>`, a game session `gs_<n>`, a tournament `trn_<n>`, a community `com_<n>`
    /// or a thread `thr_<n>`; null for none.
    #[schema(required = true)]
    reference_id: Option<String>,
    /// The payment provider of a deposit or withdrawal (null otherwise).
    #[schema(required = true)]
    payment_method: Option<String>,
    /// The saved payment method of a withdrawal, `pmt_<n>` (null otherwise).
    #[schema(required = true)]
    payment_method_id: Option<String>,
    /// The provider's reference of a confirmed deposit (null until then).
    #[schema(required = true)]
    provider_reference: Option<String>,
    /// The sender's note on a transfer (empty for none).
    memo: String,
    /// An admin's notes on a decided withdrawal (empty for none).
    notes: String,
    /// The admin who decided a withdrawal (null otherwise).
    #[schema(required = true)]
    processed_by: Option<String>,
    created_at: String,
    /// When the transaction was completed, cancelled or rejected; null while pending.
    #[schema(required = true)]
    completed_at: Option<String>,
}

pub fn tx_json(tx: &TxView) -> Transaction {
    Transaction {
        id: tx.id.public(),
        user_id: tx.user.public(),
        wallet_id: tx.wallet.public(),
        tx_type: tx.tx_type.as_str(),
        status: tx.status.as_str(),
        amount: money(tx.amount),
        fee: money(tx.fee),
        direction: if tx.credit { "credit" } else { "debit" },
        currency: tx.currency.as_str().to_owned(),
        counterparty_id: tx.counterparty.map(PublicId::public),
        reference_type: (tx.reference_type != ReferenceType::None)
            .then(|| tx.reference_type.as_str()),
        reference_id: reference_id(tx),
        payment_method: (!tx.payment_method.is_empty()).then(|| tx.payment_method.clone()),
        payment_method_id: tx.payment_method_id.map(PublicId::public),
        provider_reference: (!tx.provider_reference.is_empty())
            .then(|| tx.provider_reference.clone()),
        memo: tx.memo.clone(),
        notes: tx.notes.clone(),
        processed_by: tx
            .processed_by
            .filter(|u| *u != UserId::SYSTEM)
            .map(PublicId::public),
        created_at: time(tx.created_at),
        completed_at: opt_time(tx.completed_at),
    }
}

/// A saved payment method; its details are kept sealed and never shown.
#[derive(Serialize, ToSchema)]
struct PaymentMethod {
    /// `pmt_<n>`.
    id: String,
    user_id: String,
    #[schema(pattern = "^(bank|mobile_money|card|crypto)$")]
    method_type: &'static str,
    provider: String,
    /// The last four characters of the most identifying detail, such as `•••• 4242`; empty
    /// when the details have none.
    account_hint: String,
    is_verified: bool,
    is_default: bool,
    created_at: String,
}

fn method_json(method: &PaymentMethodView) -> PaymentMethod {
    PaymentMethod {
        id: method.id.public(),
        user_id: method.user.public(),
        method_type: method.method_type.as_str(),
        provider: method.provider.clone(),
        account_hint: method.display_hint.clone(),
        is_verified: method.is_verified,
        is_default: method.is_default,
        created_at: time(method.created_at),
    }
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
    let txs = match state
        .query(Query::Transactions(TxQuery {
            user,
            tx_type,
            since,
            offset,
            limit,
        }))
        .await?
    {
        QueryReply::Transactions(txs) => txs,
        _ => Vec::new(),
    };
    // A short page may be where the core's window ends, not where the history does.
    if txs.len() < limit as usize
        && let Some(history) = state.history().await?
    {
        return history
            .transactions(user, tx_type, since, offset, limit)
            .await;
    }
    Ok(txs)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWalletBody {
    /// A currency code such as `USD` (any case); a user has at most one wallet of each.
    #[schema(example = "USD")]
    currency: String,
    /// Whose wallet: the caller's when absent; only an admin may name someone else.
    user_id: Option<String>,
}

/// Opens a wallet in a currency.
#[utoipa::path(post, path = "/wallets/create", tag = "wallets", request_body = CreateWalletBody,
    responses((status = 201, description = "The new wallet", body = Wallet)))]
async fn create_wallet(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateWalletBody>,
) -> ApiResult<(StatusCode, Json<Wallet>)> {
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

#[derive(Serialize, ToSchema)]
struct WalletList {
    user_id: String,
    /// The default wallet first.
    wallets: Vec<Wallet>,
}

/// A user's wallets.
///
/// `GET /wallets/{id}` names a user (the spec's path calls the parameter `id`).
#[utoipa::path(get, path = "/wallets/{id}", tag = "wallets",
    params(("id" = String, Path, pattern = "^usr_[0-9]{1,20}$", example = "usr_1",
        description = "a user id, `usr_<n>` (`/wallets/{id}/balance` takes a wallet id)")),
    responses((status = 200, description = "The user's wallets", body = WalletList)))]
async fn list_wallets(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<WalletList>> {
    let user = super::users::parse_user(&id)?;
    caller.may_access(user)?;
    let QueryReply::Wallets(wallets) = state.query(Query::Wallets(UserQuery { user })).await?
    else {
        return Err(ApiError::not_found("user"));
    };
    Ok(Json(WalletList {
        user_id: user.public(),
        wallets: wallets.iter().map(wallet_json).collect(),
    }))
}

/// One wallet and its balances.
#[utoipa::path(get, path = "/wallets/{id}/balance", tag = "wallets",
    params(("id" = String, Path, pattern = "^wal_[0-9]{1,20}$", example = "wal_1",
        description = "a wallet id, `wal_<n>` (`/wallets/{id}` takes a user id); someone else's wallet is a 404")),
    responses((status = 200, description = "The wallet", body = Wallet)))]
async fn wallet_balance(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(wallet_id): Path<String>,
) -> ApiResult<Json<Wallet>> {
    let wallet: AccountId = crate::ids::parse_path(&wallet_id, "wallet")?;
    let view = fetch_wallet(&state, wallet).await?;
    // Someone else's wallet does not exist as far as the caller can tell.
    if caller.may_access(view.user).is_err() {
        return Err(ApiError::not_found("wallet"));
    }
    Ok(Json(wallet_json(&view)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DepositBody {
    /// A positive amount.
    amount: Dec,
    /// Default: the currency of the user's default wallet (USD for a user without one).
    currency: Option<String>,
    /// A provider's name (see `GET /deposits/providers`), or one of the user's saved
    /// payment methods `pmt_<n>`, whose provider it then is.
    payment_method: String,
    /// Whose deposit: the caller's when absent; only an admin may name someone else.
    user_id: Option<String>,
}

/// A deposit as initiated: the transaction, and what the user must do next.
#[derive(Serialize, ToSchema)]
struct Deposit {
    #[serde(flatten)]
    transaction: Transaction,
    /// How to pay, for a provider that confirms through its webhook (the deposit stays
    /// `pending` until then); null when the deposit completed at once (sandbox).
    #[schema(required = true)]
    instructions: Option<String>,
}

/// Starts a deposit; the sandbox provider completes it at once.
///
/// Takes an `Idempotency-Key` header: a retry with the same key gets the first deposit back.
#[utoipa::path(post, path = "/deposits/initiate", tag = "deposits",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]{1,64}$",
        description = "1 to 64 visible ASCII characters; a retry with the same key is answered with the first deposit")),
    request_body = DepositBody,
    responses((status = 201, description = "The deposit, pending or completed", body = Deposit)))]
async fn initiate_deposit(
    State(state): State<AppState>,
    axum::Extension(payments): axum::Extension<Arc<crate::payments::Payments>>,
    caller: AuthUser,
    headers: HeaderMap,
    Body(body): Body<DepositBody>,
) -> ApiResult<(StatusCode, Json<Deposit>)> {
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
    let mut instructions = None;
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
            ProviderStep::AwaitWebhook { instructions: text } => instructions = Some(text),
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(Deposit {
            transaction: tx_json(&fetch_tx(&state, tx.tx).await?),
            instructions,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    /// The deposit's transaction id, `txn_<n>`.
    deposit_id: String,
    /// Accepted for the spec's clients and ignored: only a provider's webhook proves a
    /// payment.
    #[serde(default)]
    payment_proof: Option<Value>,
}

/// A user's confirmation of a deposit.
///
/// The sandbox confirms on it; real providers confirm only through their signed webhook, so
/// for them this reports the deposit as still pending (202).
#[utoipa::path(post, path = "/deposits/confirm", tag = "deposits", request_body = ConfirmBody,
    responses(
        (status = 200, description = "The deposit, now completed", body = Transaction),
        (status = 202, description = "The deposit, still pending until its provider's webhook confirms it", body = Transaction),
    ))]
async fn confirm_deposit(
    State(state): State<AppState>,
    axum::Extension(payments): axum::Extension<Arc<crate::payments::Payments>>,
    caller: AuthUser,
    Body(body): Body<ConfirmBody>,
) -> ApiResult<(StatusCode, Json<Transaction>)> {
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

/// A provider's report of a deposit, as the signed body of the webhook.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    /// The deposit's transaction id, `txn_<n>` (the reference the user quoted).
    deposit_id: String,
    /// The provider's own reference for the payment.
    provider_reference: String,
    /// Only `confirmed` is reported.
    #[schema(pattern = "^confirmed$")]
    status: String,
}

/// A payment provider confirms a deposit.
///
/// Not for users: the provider signs the raw body with HMAC-SHA256 under the deployment's
/// webhook secret and sends `X-BetBet-Signature: sha256=<hex>`. The route answers 404 when
/// no webhook secret is configured.
#[utoipa::path(post, path = "/deposits/webhook/{provider}", tag = "deposits",
    params(("X-BetBet-Signature" = String, Header,
        description = "`sha256=<hex>`: HMAC-SHA256 of the raw body under the webhook secret")),
    request_body(content = WebhookBody, content_type = "application/json",
        description = "Raw bytes checked against `X-BetBet-Signature` before they are read; \
            once verified they must be this JSON object"),
    responses((status = 200, description = "The deposit, now completed", body = Transaction)))]
async fn deposit_webhook(
    State(state): State<AppState>,
    axum::Extension(payments): axum::Extension<Arc<crate::payments::Payments>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Transaction>> {
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

#[derive(Serialize, ToSchema)]
struct ProviderList {
    /// Provider names, in alphabetical order; `sandbox` only where sandbox payments are on.
    providers: Vec<&'static str>,
}

/// The payment providers deposits may name.
#[utoipa::path(get, path = "/deposits/providers", tag = "deposits",
    responses((status = 200, description = "The providers", body = ProviderList)))]
async fn deposit_providers(
    axum::Extension(payments): axum::Extension<Arc<crate::payments::Payments>>,
) -> Json<ProviderList> {
    Json(ProviderList {
        providers: payments.names(),
    })
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    /// Transactions per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The page, from 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Only transactions of this type: `deposit`, `withdrawal`, `transfer`, `bet`, `payout`,
    /// `fee`, `refund` or `contribution` (to a group). A history of one type accepts only that
    /// type here.
    #[serde(rename = "type")]
    #[param(pattern = "^(deposit|withdrawal|transfer|bet|payout|fee|refund|contribution)$")]
    tx_type: Option<String>,
    /// Only transactions from this time on: RFC 3339, or `YYYY-MM-DD[THH:MM:SS]` in UTC.
    date_from: Option<String>,
}

fn paging(params: &HistoryParams, default: u32) -> ApiResult<(u32, u32)> {
    let limit = crate::json::bounded("limit", params.limit, default, 1, PAGE_LIMIT_MAX)?;
    let page = crate::json::bounded("page", params.page, 1, 1, crate::json::PAGE_MAX)?;
    Ok(((page - 1).saturating_mul(limit), limit))
}

/// One page of a user's transactions of one type, newest first.
#[derive(Serialize, ToSchema)]
struct TransactionHistory {
    user_id: String,
    items: Vec<Transaction>,
}

async fn typed_history(
    state: &AppState,
    caller: AuthUser,
    user_id: &str,
    tx_type: TxType,
    params: &HistoryParams,
) -> ApiResult<Json<TransactionHistory>> {
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
    let (offset, limit) = paging(params, 50)?;
    let txs = history(state, user, Some(tx_type), since, offset, limit).await?;
    Ok(Json(TransactionHistory {
        user_id: user.public(),
        items: txs.iter().map(tx_json).collect(),
    }))
}

/// A user's deposits.
#[utoipa::path(get, path = "/deposits/{user_id}/history", tag = "deposits",
    params(HistoryParams),
    responses((status = 200, description = "One page of deposits", body = TransactionHistory)))]
async fn deposit_history(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<TransactionHistory>> {
    typed_history(&state, caller, &user_id, TxType::Deposit, &params).await
}

/// A user's withdrawals.
#[utoipa::path(get, path = "/withdrawals/{id}/history", tag = "withdrawals",
    params(("id" = String, Path, pattern = "^usr_[0-9]{1,20}$", example = "usr_1",
        description = "a user id, `usr_<n>` (`/withdrawals/{id}/cancel` takes a withdrawal id)"), HistoryParams),
    responses((status = 200, description = "One page of withdrawals", body = TransactionHistory)))]
async fn withdrawal_history(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<TransactionHistory>> {
    typed_history(&state, caller, &user_id, TxType::Withdrawal, &params).await
}

/// A user's transfers, sent and received.
#[utoipa::path(get, path = "/transfers/{user_id}/history", tag = "transfers",
    params(HistoryParams),
    responses((status = 200, description = "One page of transfers", body = TransactionHistory)))]
async fn transfer_history(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<TransactionHistory>> {
    typed_history(&state, caller, &user_id, TxType::Transfer, &params).await
}

/// One page of a user's transactions, newest first.
#[derive(Serialize, ToSchema)]
struct TransactionList {
    user_id: String,
    page: u32,
    limit: u32,
    items: Vec<Transaction>,
}

/// What `GET /transactions/{id}` answers: one transaction for a transaction id, a page of
/// transactions for a user id.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum TransactionLookup {
    One(Box<Transaction>),
    Page(TransactionList),
}

/// A user's transactions, or one transaction.
///
/// A user id lists that user's transactions (filtered by `type` and `date_from`, paged by
/// `page` and `limit`); a transaction id returns that transaction and takes none of those
/// parameters (sending one is a 400).
#[utoipa::path(get, path = "/transactions/{id}", tag = "transactions",
    params(("id" = String, Path, pattern = "^(usr|txn)_[0-9]{1,20}$", example = "usr_1",
        description = "a user id `usr_<n>` (a page of that user's transactions) or a transaction id `txn_<n>` (that transaction)"),
        HistoryParams),
    responses((status = 200,
        description = "A `Transaction` for a transaction id, a `TransactionList` for a user id",
        body = TransactionLookup)))]
async fn transactions_by_id(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<TransactionLookup>> {
    if let Some(tx) = TxId::parse(&id) {
        // One transaction: the paging and filter parameters are for a user's list, and a
        // request that sends them has mistaken one for the other.
        let HistoryParams {
            limit,
            page,
            tx_type,
            date_from,
        } = &params;
        if limit.is_some() || page.is_some() || tx_type.is_some() || date_from.is_some() {
            return Err(ApiError::bad_request(
                "limit, page, type and date_from page a user's transactions; \
                 a transaction id takes none of them",
            ));
        }
        let view = match fetch_tx(&state, tx).await {
            Ok(view) => view,
            // A transaction past the core's window is in the history store.
            Err(error) => match state.history().await? {
                Some(history) => history.transaction(tx).await?.ok_or(error)?,
                None => return Err(error),
            },
        };
        if caller.may_access(view.user).is_err() {
            return Err(ApiError::not_found("transaction"));
        }
        return Ok(Json(TransactionLookup::One(Box::new(tx_json(&view)))));
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
    let (offset, limit) = paging(&params, 50)?;
    let txs = history(&state, user, tx_type, since, offset, limit).await?;
    Ok(Json(TransactionLookup::Page(TransactionList {
        user_id: user.public(),
        page: offset / limit + 1,
        limit,
        items: txs.iter().map(tx_json).collect(),
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WithdrawalBody {
    /// A positive amount; the fee is charged on top.
    amount: Dec,
    /// Default: the currency of the user's default wallet.
    currency: Option<String>,
    /// One of the user's saved payment methods, `pmt_<n>`.
    payment_method_id: String,
    /// Whose withdrawal: the caller's when absent; only an admin may name someone else.
    user_id: Option<String>,
}

/// Requests a withdrawal; it stays pending until an admin approves or rejects it.
///
/// The amount and fee are locked meanwhile. The KYC level's limit applies to the sum of
/// pending and completed withdrawals over any rolling 24 hours.
#[utoipa::path(post, path = "/withdrawals/request", tag = "withdrawals",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]{1,64}$",
        description = "1 to 64 visible ASCII characters; a retry with the same key is answered with the first withdrawal")),
    request_body = WithdrawalBody,
    responses((status = 201, description = "The pending withdrawal", body = Transaction)))]
async fn request_withdrawal(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    Body(body): Body<WithdrawalBody>,
) -> ApiResult<(StatusCode, Json<Transaction>)> {
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

/// Cancels one of the caller's pending withdrawals; the money is released.
#[utoipa::path(post, path = "/withdrawals/{id}/cancel", tag = "withdrawals",
    params(("id" = String, Path, pattern = "^txn_[0-9]{1,20}$", example = "txn_1",
        description = "a withdrawal's transaction id, `txn_<n>` (`/withdrawals/{id}/history` takes a user id)")),
    responses((status = 200, description = "The cancelled withdrawal", body = Transaction)))]
async fn cancel_withdrawal(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(withdrawal_id): Path<String>,
) -> ApiResult<Json<Transaction>> {
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

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct NotesBody {
    /// The admin's notes, kept on the transaction (default empty).
    #[serde(default)]
    notes: String,
}

async fn decide_withdrawal(
    state: &AppState,
    caller: AuthUser,
    id: &str,
    approve: bool,
    notes: String,
) -> ApiResult<Json<Transaction>> {
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

/// Approves a pending withdrawal: the money and fee leave the wallet.
#[utoipa::path(post, path = "/admin/withdrawals/{withdrawal_id}/approve", tag = "withdrawals",
    request_body(content = Option<NotesBody>, description = "Optional: notes, or no body at all"),
    responses((status = 200, description = "The completed withdrawal", body = Transaction)))]
async fn approve_withdrawal(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    OptBody(body): OptBody<NotesBody>,
) -> ApiResult<Json<Transaction>> {
    decide_withdrawal(&state, caller, &id, true, body.notes).await
}

/// Rejects a pending withdrawal: the money and fee are released.
#[utoipa::path(post, path = "/admin/withdrawals/{withdrawal_id}/reject", tag = "withdrawals",
    request_body(content = Option<NotesBody>, description = "Optional: notes, or no body at all"),
    responses((status = 200, description = "The rejected withdrawal", body = Transaction)))]
async fn reject_withdrawal(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    OptBody(body): OptBody<NotesBody>,
) -> ApiResult<Json<Transaction>> {
    decide_withdrawal(&state, caller, &id, false, body.notes).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    /// The spec's sender: must be the caller (only the owner of the money sends it).
    sender_id: Option<String>,
    /// A username or a user id (`usr_…`).
    recipient: String,
    amount: Dec,
    /// Default: the currency of the sender's default wallet.
    currency: Option<String>,
    /// A note the recipient sees (default empty).
    #[serde(default)]
    memo: String,
}

/// Sends money to another user.
#[utoipa::path(post, path = "/transfers/send", tag = "transfers",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]{1,64}$",
        description = "1 to 64 visible ASCII characters; a retry with the same key is answered with the first transfer")),
    request_body = TransferBody,
    responses((status = 201, description = "The sender's side of the completed transfer", body = Transaction)))]
async fn send_transfer(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    Body(body): Body<TransferBody>,
) -> ApiResult<(StatusCode, Json<Transaction>)> {
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PaymentMethodBody {
    #[schema(pattern = "^(bank|mobile_money|card|crypto)$")]
    method_type: String,
    /// Default: `details.provider` when it is a string, else the method type itself.
    provider: Option<String>,
    /// The account's details (card or account number, phone, IBAN, address, …): a
    /// non-empty object of at most 2 KiB, stored sealed and never shown again.
    #[schema(value_type = Object)]
    details: Value,
    /// Whose method: the caller's when absent; only an admin may name someone else.
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

/// Saves a payment method for withdrawals and deposits.
#[utoipa::path(post, path = "/payment-methods/add", tag = "payment-methods",
    request_body = PaymentMethodBody,
    responses((status = 201, description = "The saved method", body = PaymentMethod)))]
async fn add_payment_method(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<PaymentMethodBody>,
) -> ApiResult<(StatusCode, Json<PaymentMethod>)> {
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

#[derive(Serialize, ToSchema)]
struct PaymentMethodList {
    user_id: String,
    payment_methods: Vec<PaymentMethod>,
}

/// A user's saved payment methods.
#[utoipa::path(get, path = "/payment-methods/{id}", tag = "payment-methods",
    params(("id" = String, Path, pattern = "^usr_[0-9]{1,20}$", example = "usr_1",
        description = "a user id, `usr_<n>` (DELETE on this path takes a payment method id)")),
    responses((status = 200, description = "The user's methods", body = PaymentMethodList)))]
async fn list_payment_methods(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<PaymentMethodList>> {
    let user = super::users::parse_user(&id)?;
    caller.may_access(user)?;
    let QueryReply::PaymentMethods(methods) = state
        .query(Query::PaymentMethods(UserQuery { user }))
        .await?
    else {
        return Err(ApiError::not_found("user"));
    };
    Ok(Json(PaymentMethodList {
        user_id: user.public(),
        payment_methods: methods.iter().map(method_json).collect(),
    }))
}

/// Removes one of the caller's saved payment methods.
#[utoipa::path(delete, path = "/payment-methods/{id}", tag = "payment-methods",
    params(("id" = String, Path, pattern = "^pmt_[0-9]{1,20}$", example = "pmt_1",
        description = "a payment method id, `pmt_<n>` (GET on this path takes a user id)")),
    responses((status = 204, description = "Removed")))]
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

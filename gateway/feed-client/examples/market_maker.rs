//! An example market maker: quotes both sides of every outcome of one market around a fair
//! price, skews its quotes against its inventory, and requotes atomically (one mass quote)
//! whenever the fair price moves or a quote is hit.
//!
//! ```text
//! cargo run -p betbet-feed-client --example market_maker -- \
//!     --server 127.0.0.1:9443 --fingerprint <hex printed by betbet serve> \
//!     --key-id 1 --secret <secret from POST /api/v1/api-keys> --market 1
//! ```
//!
//! The fair price starts at `--fair` (default 0.50) and follows the last trade price with
//! exponential smoothing; inventory beyond `--max-inventory` shares stops quoting the side
//! that would grow it.

use betbet_feed_client::{FeedClient, FeedConfig, Trust, parse_fingerprint};
use betbet_protocol::feed::{
    CancelOnDisconnect, ExecKind, FeedData, FeedReply, FeedRequest, MarketRequest,
    MassQuoteRequest, Quote,
};
use betbet_protocol::types::{MarketId, OutcomeId, PRICE_SCALE, Price, QTY_SCALE, Qty};
use std::collections::HashMap;

struct Args {
    server: std::net::SocketAddr,
    fingerprint: [u8; 32],
    key_id: u64,
    secret: Vec<u8>,
    market: u64,
    fair: u32,
    spread: u32,
    size: u64,
    max_inventory: i64,
    tick: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut values: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag}"))?;
        let value = args
            .next()
            .ok_or_else(|| format!("--{name} needs a value"))?;
        values.insert(name.to_owned(), value);
    }
    let get = |name: &str| {
        values
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required"))
    };
    // Prices like "0.55" in 10^-4 units, read exactly (no floats near prices).
    let price = |text: &str| -> Result<u32, String> {
        let bad = || format!("bad price {text}: use up to four decimals below 1, like 0.55");
        let digits = text.strip_prefix("0.").ok_or_else(bad)?;
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let padded = format!("{digits:0<4}");
        padded.parse().map_err(|_| bad())
    };
    Ok(Args {
        server: get("server")?
            .parse()
            .map_err(|e| format!("--server: {e}"))?,
        fingerprint: parse_fingerprint(&get("fingerprint")?)
            .ok_or("--fingerprint must be 64 hex digits")?,
        key_id: get("key-id")?
            .parse()
            .map_err(|e| format!("--key-id: {e}"))?,
        secret: get("secret")?.into_bytes(),
        market: get("market")?
            .trim_start_matches("mkt_")
            .parse()
            .map_err(|e| format!("--market: {e}"))?,
        fair: price(values.get("fair").map_or("0.50", String::as_str))?,
        spread: price(values.get("spread").map_or("0.04", String::as_str))?,
        size: values
            .get("size")
            .map_or(Ok(10), |s| s.parse())
            .map_err(|e| format!("--size: {e}"))?,
        max_inventory: values
            .get("max-inventory")
            .map_or(Ok(100), |s| s.parse())
            .map_err(|e| format!("--max-inventory: {e}"))?,
        tick: price(values.get("tick").map_or("0.01", String::as_str))?,
    })
}

/// Bid and ask around `fair`, half the spread each side, pushed against inventory, on the
/// tick grid and strictly inside (0, 1).
fn quote_prices(
    fair: u32,
    spread: u32,
    inventory: i64,
    max_inventory: i64,
    tick: u32,
) -> (u32, u32) {
    let skew = (inventory.clamp(-max_inventory, max_inventory) * i64::from(spread)
        / max_inventory.max(1)) as i32;
    let centre = (fair as i32 - skew / 2).clamp(tick as i32, (PRICE_SCALE - tick) as i32) as u32;
    let round = |p: u32| (p / tick * tick).clamp(tick, PRICE_SCALE - tick);
    let bid = round(centre.saturating_sub(spread / 2));
    let ask = round(centre + spread / 2).max(bid + tick);
    (bid, ask.min(PRICE_SCALE - tick))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().map_err(|e| format!("{e}\n(see the example's docs for usage)"))?;
    let config = FeedConfig {
        server: args.server,
        server_name: "localhost".to_owned(),
        trust: Trust::Fingerprint(args.fingerprint),
        key_id: args.key_id,
        secret: args.secret.clone(),
    };
    let (client, logged_in) = FeedClient::connect(&config).await?;
    println!("logged in as user {}", logged_in.user);
    let (mut orders, mut replies) = client.order_entry();
    let market = MarketId(args.market);
    // A bot that loses its connection must not leave stale quotes resting.
    orders
        .send(&FeedRequest::CancelOnDisconnect(CancelOnDisconnect {
            client_ref: 0,
            enabled: true,
        }))
        .await?;
    match replies.next().await? {
        Some(FeedReply::CancelOnDisconnect(ack)) if ack.enabled => {}
        other => {
            return Err(format!("cancel on disconnect was not acknowledged: {other:?}").into());
        }
    }
    orders
        .send(&FeedRequest::Subscribe(MarketRequest { market }))
        .await?;
    let mut data = orders.next_market_stream().await?;
    let mut books: Vec<OutcomeId> = Vec::new();
    let mut fair: HashMap<OutcomeId, u32> = HashMap::new();
    let mut inventory: HashMap<OutcomeId, i64> = HashMap::new();
    let mut quote_orders: HashMap<u64, (OutcomeId, bool)> = HashMap::new();
    let mut next_ref = 1u64;
    let mut requote = true;
    loop {
        if requote && !books.is_empty() {
            let quotes: Vec<Quote> = books
                .iter()
                .map(|book| {
                    let (bid, ask) = quote_prices(
                        *fair.get(book).unwrap_or(&args.fair),
                        args.spread,
                        *inventory.get(book).unwrap_or(&0),
                        args.max_inventory,
                        args.tick,
                    );
                    let held = *inventory.get(book).unwrap_or(&0);
                    Quote {
                        outcome: *book,
                        bid_price: Price(bid),
                        bid_qty: Qty(if held >= args.max_inventory {
                            0
                        } else {
                            args.size * QTY_SCALE
                        }),
                        ask_price: Price(ask),
                        ask_qty: Qty(if held <= -args.max_inventory {
                            0
                        } else {
                            args.size * QTY_SCALE
                        }),
                    }
                })
                .collect();
            orders
                .send(&FeedRequest::MassQuote(MassQuoteRequest {
                    client_ref: next_ref,
                    market,
                    quotes,
                }))
                .await?;
            next_ref += 1;
            requote = false;
        }
        tokio::select! {
            message = data.next() => match message? {
                Some(FeedData::Snapshot(book)) => {
                    if !books.contains(&book.book) {
                        books.push(book.book);
                    }
                    requote = true;
                }
                Some(FeedData::Trade(trade)) => {
                    // Smooth the fair price towards the last trade (alpha = 1/4).
                    let current = i64::from(*fair.get(&trade.book).unwrap_or(&args.fair));
                    let next = current + (i64::from(trade.price.0) - current) / 4;
                    fair.insert(trade.book, next as u32);
                    requote = true;
                }
                Some(_) => {}
                None => return Ok(()),
            },
            reply = replies.next() => match reply? {
                Some(FeedReply::MassQuote(ack)) => {
                    if let Some(code) = ack.code {
                        eprintln!("mass quote {} refused: {code}", ack.client_ref);
                    }
                    for (i, order) in ack.orders.iter().enumerate() {
                        let book = books[(i / 2).min(books.len() - 1)];
                        quote_orders.insert(order.0, (book, i % 2 == 0));
                    }
                }
                Some(FeedReply::Exec(report)) if matches!(report.kind, ExecKind::Filled | ExecKind::PartiallyFilled) => {
                    if let Some(&(book, is_bid)) = quote_orders.get(&report.order.0) {
                        let change = report.last_qty.0 as i64 / QTY_SCALE as i64;
                        *inventory.entry(book).or_default() += if is_bid { change } else { -change };
                        println!("filled {} @ {} on {:?}; inventory {:?}", report.last_qty.0 / QTY_SCALE, report.last_price.0, book, inventory);
                        requote = true;
                    }
                }
                Some(_) => {}
                None => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quote_prices;

    #[test]
    fn quotes_straddle_fair_and_lean_against_inventory() {
        assert_eq!(quote_prices(5_000, 400, 0, 100, 100), (4_800, 5_200));
        let (bid, ask) = quote_prices(5_000, 400, 100, 100, 100);
        assert!(
            bid < 4_800 && ask < 5_200,
            "long inventory lowers both quotes"
        );
        let (bid, ask) = quote_prices(100, 400, 0, 100, 100);
        assert!(bid >= 100 && ask > bid);
    }
}

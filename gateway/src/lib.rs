//! BetBet gateways: REST/WebSocket (axum) and the market-maker QUIC feed (quinn).
